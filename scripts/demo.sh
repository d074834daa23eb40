#!/usr/bin/env bash
# Quick start, first command: installs what is missing, builds, and runs the personalization demo
# (real-time personalization) on an embedded cluster -- a job manager and a task manager in one
# process -- with the web status page on http://127.0.0.1:${BROOK_WEB_PORT:-8081}/ while it runs.
# With no arguments the generator is paced (300k events at 10k/s, about 30 s) so there is
# something to watch; arguments go to the job runner, e.g.
#   scripts/demo.sh --parallelism 4 -- --events 1000000 --rate 0
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh personalization
args=("$@")
if ((${#args[@]} == 0)); then args=(-- --events 300000 --rate 10000); fi
exec "${BROOK_BUILD_DIR:-build}/examples/personalization/personalization" --local \
  --web "${BROOK_WEB_PORT:-8081}" --exit-when-done "${args[@]}"
