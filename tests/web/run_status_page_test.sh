#!/usr/bin/env bash
# ctest's browser test of the web status page: starts a real brook-jobmanager and
# brook-taskmanager on free loopback ports, submits a rate-limited job with the brook CLI,
# runs status_page_test.mjs (headless Chromium) against it, and tears everything down.
#   run_status_page_test.sh BIN_DIR JOB_LIBRARY ARTIFACT_DIR
set -euo pipefail
bin_dir=$1 job_library=$2 artifacts=$3
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/brook-web-test.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  node -e "const s=require('net').createServer(); s.listen(0,'127.0.0.1',()=>{console.log(s.address().port); s.close()})"
}
rpc=$(free_port) rest=$(free_port) token=web-test-$$

"$bin_dir/brook-jobmanager" --rpc-port "$rpc" --rest-port "$rest" --token "$token" \
  --set blob.storage.directory="$work/blobs" --set heartbeat.interval=500ms >"$work/jm.log" 2>&1 &
pids+=($!)
"$bin_dir/brook-taskmanager" --jobmanager "127.0.0.1:$rpc" --slots 2 --token "$token" \
  --id web-tm --set taskmanager.working-dir="$work/tm" >"$work/tm.log" 2>&1 &
pids+=($!)
brook() { "$bin_dir/brook" --jobmanager "127.0.0.1:$rest" --token "$token" "$@"; }
for _ in $(seq 100); do
  brook taskmanagers 2>/dev/null | grep -q web-tm && break
  sleep 0.1
done
mkdir -p "$work/out"
brook run --detached "$job_library" \
  -p 2 -- --events 100000000 --rate 5000 --latency-interval 200 --output "$work/out"
mkdir -p "$artifacts"
status=0
node "$here/status_page_test.mjs" --url "http://127.0.0.1:$rest" --artifacts "$artifacts" \
  --timeout-s 90 --expect-latency || status=$?
if ((status != 0)); then
  echo "--- job manager log ---"; tail -50 "$work/jm.log"
  echo "--- task manager log ---"; tail -50 "$work/tm.log"
fi
exit "$status"
