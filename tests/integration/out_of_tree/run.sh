#!/usr/bin/env bash
# The OutOfTree test: a job built outside Brook's tree, against Brook's installed CMake package.
#
#   1. `cmake --install` the build under test into a temporary prefix;
#   2. configure and build project/ (find_package(Brook) + brook_add_job) against that prefix;
#   3. run the job's executable with --local and check its output;
#   4. check the job library exports nothing of Brook but its entry point;
#   5. load the job library with brook::JobLibrary (brook_run_job_library), run it on a
#      MiniCluster and check the same output; and see the executable refused as a library;
#   6. start the installed brook-jobmanager and brook-taskmanager, submit the job library with
#      the installed brook CLI, and find the same output in the task manager's log.
#
# usage: run.sh BUILD_DIR RUN_JOB_LIBRARY CMAKE GENERATOR MAKE_PROGRAM CXX_COMPILER C_COMPILER
# Set BROOK_KEEP_TMP=1 to keep the temporary directory for a look after a failure.
set -uo pipefail

if [[ $# -ne 7 ]]; then
  echo "usage: $0 BUILD_DIR RUN_JOB_LIBRARY CMAKE GENERATOR MAKE_PROGRAM CXX_COMPILER C_COMPILER" >&2
  exit 2
fi
build_dir=$1 run_job_library=$2 cmake=$3 generator=$4 make_program=$5 cxx=$6 cc=$7
project_dir=$(cd "$(dirname "$0")/project" && pwd)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/brook-out-of-tree-XXXXXX") || exit 1
cleanup() {
  if [[ ${BROOK_KEEP_TMP:-0} == 1 ]]; then
    echo "kept $tmp" >&2
  else
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT

start=$SECONDS
step() { echo "== [$((SECONDS - start)) s] $1"; }
fail() {
  echo "FAIL: $1" >&2
  if [[ $# -gt 1 && -f $2 ]]; then
    echo "---- last lines of $2:" >&2
    tail -n 40 "$2" >&2
  fi
  exit 1
}

prefix=$tmp/prefix
job_build=$tmp/build

expected=$tmp/expected.txt
cat > "$expected" <<'OUT'
10 distinct words, 1400 in all
a 200
barrier 100
not 100
or 100
stream 300
the 100
then 100
to 200
watermark 100
window 100
OUT

step "installing $build_dir into $prefix"
"$cmake" --install "$build_dir" --prefix "$prefix" > "$tmp/install.log" 2>&1 \
  || fail "cmake --install of $build_dir failed" "$tmp/install.log"
config=$(find "$prefix" -path "*/cmake/Brook/BrookConfig.cmake" | head -n 1)
[[ -n $config ]] || fail "the install has no cmake/Brook/BrookConfig.cmake" "$tmp/install.log"
config_dir=$(dirname "$config")
libdir=$(dirname "$(dirname "$config_dir")")
for f in "$config_dir"/{BrookConfigVersion,BrookTargets,BrookJob}.cmake \
         "$prefix"/include/brook/{brook.h,jobs/version.h,jobs/job_library.h} \
         "$prefix"/include/brook/{runtime,checkpoint,operators,jobs,cluster} \
         "$libdir"/libbrook_{runtime,checkpoint,operators,jobs,cluster}.a; do
  [[ -e $f ]] || fail "the install has no $f" "$tmp/install.log"
done

step "configuring $project_dir against the install"
"$cmake" -S "$project_dir" -B "$job_build" -G "$generator" \
  -DCMAKE_MAKE_PROGRAM="$make_program" \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_C_COMPILER="$cc" \
  -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON \
  > "$tmp/configure.log" 2>&1 \
  || fail "configuring the out-of-tree project failed" "$tmp/configure.log"
brook_dir=$(sed -n 's/^Brook_DIR:PATH=//p' "$job_build/CMakeCache.txt")
[[ $brook_dir == "$config_dir" ]] \
  || fail "find_package(Brook) found '$brook_dir', not the install in $prefix"

step "building the out-of-tree job"
"$cmake" --build "$job_build" > "$tmp/build.log" 2>&1 \
  || fail "building the out-of-tree job failed" "$tmp/build.log"
exe=$job_build/wordcount
lib=$job_build/libwordcount.so
[[ -x $exe ]] || fail "brook_add_job made no executable $exe" "$tmp/build.log"
[[ -f $lib ]] || fail "brook_add_job made no job library $lib" "$tmp/build.log"
if grep -q "warning:" "$tmp/build.log"; then
  fail "the out-of-tree build warns" "$tmp/build.log"
fi

step "running $exe --local"
"$exe" --local -p 2 -- --repeat 100 > "$tmp/local.out" 2> "$tmp/local.err" \
  || fail "$exe --local exited with $?" "$tmp/local.err"
diff -u "$expected" "$tmp/local.out" > "$tmp/local.diff" \
  || fail "$exe --local printed other counts" "$tmp/local.diff"
grep -q "Job 'wordcount' FINISHED" "$tmp/local.err" \
  || fail "$exe --local did not report the job finished" "$tmp/local.err"

step "checking what $lib exports"
if command -v nm > /dev/null; then
  nm -DC --defined-only "$lib" > "$tmp/exports.txt" || fail "nm cannot read $lib"
  grep -q " brook_job_entry$" "$tmp/exports.txt" || fail "$lib does not export brook_job_entry" "$tmp/exports.txt"
  if grep -q "brook::" "$tmp/exports.txt"; then
    fail "$lib exports Brook symbols (they could interpose on the loader's Brook)" "$tmp/exports.txt"
  fi
  nm -DC --undefined-only "$lib" > "$tmp/imports.txt" || fail "nm cannot read $lib"
  if grep -q "brook" "$tmp/imports.txt"; then
    fail "$lib needs Brook symbols from the process that loads it" "$tmp/imports.txt"
  fi
else
  echo "(nm not found: export check skipped)"
fi

step "loading $lib with JobLibrary and running it on a MiniCluster"
"$run_job_library" "$lib" -p 2 -- --repeat 100 > "$tmp/loaded.out" 2> "$tmp/loaded.err" \
  || fail "brook_run_job_library $lib exited with $?" "$tmp/loaded.err"
diff -u "$expected" "$tmp/loaded.out" > "$tmp/loaded.diff" \
  || fail "the loaded job library printed other counts" "$tmp/loaded.diff"
grep -q "loaded job 'wordcount'" "$tmp/loaded.err" \
  || fail "brook_run_job_library did not load the job" "$tmp/loaded.err"
grep -q "Job 'wordcount' FINISHED" "$tmp/loaded.err" \
  || fail "the loaded job did not finish" "$tmp/loaded.err"

step "refusing the executable as a job library"
"$run_job_library" "$exe" > /dev/null 2> "$tmp/refused.err"
status=$?
[[ $status -eq 2 ]] || fail "loading the executable $exe as a job library exited with $status, not 2" "$tmp/refused.err"
grep -q "not a loadable shared library" "$tmp/refused.err" \
  || fail "loading the executable gave no clear error" "$tmp/refused.err"
cat "$tmp/refused.err"

step "submitting $lib to a cluster of the installed binaries"
free_port() {
  node -e "const s=require('net').createServer(); s.listen(0,'127.0.0.1',()=>{console.log(s.address().port); s.close()})"
}
rpc=$(free_port) rest=$(free_port)
"$prefix/bin/brook-jobmanager" --rpc-port "$rpc" --rest-port "$rest" --token oot \
  --set blob.storage.directory="$tmp/blobs" > "$tmp/jm.log" 2>&1 &
jm=$!
"$prefix/bin/brook-taskmanager" --jobmanager "127.0.0.1:$rpc" --slots 2 --token oot \
  --set taskmanager.working-dir="$tmp/tm" > "$tmp/tm.log" 2>&1 &
tm=$!
trap 'kill $jm $tm 2>/dev/null; wait 2>/dev/null; cleanup' EXIT
for _ in $(seq 100); do
  "$prefix/bin/brook" -m "127.0.0.1:$rest" taskmanagers 2>/dev/null | grep -q "tm-" && break
  sleep 0.1
done
timeout 120 "$prefix/bin/brook" -m "127.0.0.1:$rest" --token oot run "$lib" -p 2 -- --repeat 100 \
  > "$tmp/cluster.out" 2>&1 || fail "brook run $lib on the cluster failed" "$tmp/cluster.out"
grep -q "FINISHED" "$tmp/cluster.out" || fail "the job did not finish on the cluster" "$tmp/cluster.out"
while read -r line; do
  grep -qxF "$line" "$tmp/tm.log" || fail "the cluster run did not print '$line'" "$tmp/tm.log"
done < "$expected"

echo "PASS: out-of-tree job built, ran --local, loaded as a library and ran on a cluster in $((SECONDS - start)) s"
