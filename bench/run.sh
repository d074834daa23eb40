#!/usr/bin/env bash
# Builds the benchmarks (Release, in build-release/ at the repository root) and runs the
# requested cases, printing exactly one `case=...` line per case on stdout; everything else
# (build output, progress) goes to stderr.
#
#   bench/run.sh                  # every known case
#   bench/run.sh chained          # some cases
#   BENCH_ARGS="--events 5000000" bench/run.sh keyed_reduce   # extra flags for the drivers
#
# Installs nothing: cmake and ninja come from the project's setup script.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$ROOT/build-release"
BIN="$BUILD/bench"
read -r -a EXTRA <<<"${BENCH_ARGS:-}"

# Case name -> command (a binary in build-release/bench/ and its arguments) printing that case's
# `case=...` line. Add cases (other binaries) here, and their targets to TARGETS.
declare -A CASES=(
  [chained]="brook_throughput_bench chained"
  [keyed_reduce]="brook_throughput_bench keyed_reduce"
  [window_memory]="brook_window_bench window_memory"
  [window_lmdb]="brook_window_bench window_lmdb"
  [sliding_slices]="brook_window_bench sliding_slices"
  [shuffle_tcp]="brook_shuffle_bench shuffle_tcp"
  [latency]="brook_shuffle_bench latency"
  [checkpoint_memory]="brook_checkpoint_bench checkpoint_memory"
  [checkpoint_lmdb]="brook_checkpoint_bench checkpoint_lmdb"
)
ORDER=(chained keyed_reduce window_memory window_lmdb sliding_slices shuffle_tcp latency
       checkpoint_memory checkpoint_lmdb)  # the default run, in this order
# brook_checkpoint_bench depends on the cluster binaries and its job library, built with it.
TARGETS=(brook_throughput_bench brook_window_bench brook_shuffle_bench brook_checkpoint_bench)

die() { echo "bench/run.sh: $*" >&2; exit 1; }

for tool in cmake ninja; do
  command -v "$tool" >/dev/null 2>&1 ||
    die "'$tool' not found; install it first (the project's setup script does)"
done

requested=("$@")
[[ ${#requested[@]} -gt 0 ]] || requested=("${ORDER[@]}")
for c in "${requested[@]}"; do
  [[ -n "${CASES[$c]+x}" ]] || die "unknown case '$c' (known: ${ORDER[*]})"
done

{
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBROOK_BUILD_TESTS=OFF
  ninja -C "$BUILD" "${TARGETS[@]}"
} >&2 || die "build failed"

status=0
for c in "${requested[@]}"; do
  read -r -a cmd <<<"${CASES[$c]}"
  echo "bench/run.sh: running ${cmd[*]} ${EXTRA[*]}" >&2
  rc=0
  out="$("$BIN/${cmd[0]}" "${cmd[@]:1}" "${EXTRA[@]}")" || rc=$?
  line="$(grep -m1 '^case=' <<<"$out" || true)"
  if [[ -n "$line" ]]; then
    echo "$line"
  else
    echo "bench/run.sh: case '$c' printed no result" >&2
    status=1
  fi
  if [[ $rc -ne 0 ]]; then
    echo "bench/run.sh: case '$c' failed (exit $rc)" >&2
    status=1
  fi
done
exit $status
