#!/usr/bin/env bash
# Configures (once) and builds Brook in ./build; ninja rebuilds only what changed.
# Usage: scripts/build.sh [ninja targets...]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BROOK_BUILD_DIR:-build}
if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    ${BROOK_SANITIZE:+-DBROOK_SANITIZE=$BROOK_SANITIZE} >&2
fi
ninja -C "$BUILD_DIR" -j "${BROOK_JOBS:-2}" "$@" >&2
