#!/usr/bin/env bash
# Installs the Debian 12 packages Brook builds and tests with, if any are missing, and
# configures the build directory. Safe to run again: it installs and configures only what
# is missing or out of date. Needs root (or sudo) only when something must be installed.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libboost1.81-dev libboost-json1.81-dev libboost-serialization1.81-dev
  libboost-system1.81-dev libboost-url1.81-dev
  capnproto libcapnp-dev liblmdb-dev libtbb-dev
  librdkafka-dev libhiredis-dev redis-server
  libcli11-dev libspdlog-dev libyaml-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  nodejs chromium prometheus  # the status page's browser test, and promtool for /metrics
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "brook: installing ${missing[*]}" >&2
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
