#!/usr/bin/env bash
# Quick start, first command: installs what is missing, builds, and runs the personalization demo
# (real-time personalization) on an embedded MiniCluster. Extra arguments go to the job runner, e.g.
#   scripts/demo.sh --parallelism 4 -- --events 1000000
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh personalization
exec "${BROOK_BUILD_DIR:-build}/examples/personalization/personalization" --local "$@"
