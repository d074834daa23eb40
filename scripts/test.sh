#!/usr/bin/env bash
# Quick start, second command: installs what is missing, builds everything, and runs the
# whole test suite (tests labelled "slow" are skipped unless BROOK_SLOW_TESTS=1).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
cd "${BROOK_BUILD_DIR:-build}"
label_args=(-LE slow)
[[ "${BROOK_SLOW_TESTS:-0}" == 1 ]] && label_args=()
exec ctest --output-on-failure -j "${BROOK_JOBS:-2}" "${label_args[@]}"
