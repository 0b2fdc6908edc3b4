#!/usr/bin/env bash
# Build the libFuzzer targets (clang, ASan + UBSan) and run them.
#   scripts/fuzz.sh [-t SECONDS | -n RUNS] [-j JOBS] [TARGET...]
#     -t SECONDS  run each target this long (default 30)
#     -n RUNS     run each target for this many executions instead
#     -j JOBS     libFuzzer worker processes per target (default 1)
#     TARGET      base32, code, uri, ... (default: every fuzz-* built)
#   MFA_FUZZ_BUILD  build directory (default: build-fuzz)
# The corpus of each target grows in $MFA_FUZZ_BUILD/fuzz-corpus/NAME,
# seeded from tests/fuzz/corpus/NAME; crashes go to
# $MFA_FUZZ_BUILD/fuzz-artifacts/.  Prints one line per target,
# "fuzz-NAME: N executions, ok|FAILED", then "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
secs=30; runs=""; jobs=1
while getopts "t:n:j:" o; do
  case $o in
  t) secs=$OPTARG ;;
  n) runs=$OPTARG ;;
  j) jobs=$OPTARG ;;
  *) echo "usage: $0 [-t SECONDS | -n RUNS] [-j JOBS] [TARGET...]" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))

build=${MFA_FUZZ_BUILD:-build-fuzz}
if [ ! -f "$build/build.ninja" ]; then
  CC=clang CXX=clang++ meson setup "$build" -Dfuzz=enabled -Dexamples=disabled \
    -Dtests=disabled -Dbench=disabled >/dev/null ||
    { echo "fuzz: meson setup failed"; echo "0 passed, 1 failed"; exit 1; }
fi
# only the fuzz targets: the rest of the tree is not needed here
all=$(meson introspect "$build" --targets | python3 -c '
import json, sys
for t in json.load(sys.stdin):
    if t["name"].startswith("fuzz-"):
        print(t["name"][5:])')
[ $# -eq 0 ] && set -- $all
ninja -C "$build" -j2 $(printf 'tests/fuzz/fuzz-%s ' "$@") >"$build/fuzz-build.log" 2>&1 ||
  { echo "fuzz: build failed (see $build/fuzz-build.log)"; echo "0 passed, 1 failed"; exit 1; }
[ $# -gt 0 ] || { echo "fuzz: no targets built"; echo "0 passed, 1 failed"; exit 1; }

mkdir -p "$build/fuzz-corpus" "$build/fuzz-artifacts" "$build/fuzz-logs"
passed=0; failed=0
for t in "$@"; do
  exe="$build/tests/fuzz/fuzz-$t"
  corpus="$build/fuzz-corpus/$t"
  log="$build/fuzz-logs/$t.log"
  if [ ! -x "$exe" ]; then
    echo "fuzz-$t: not built, FAILED"; failed=$((failed + 1)); continue
  fi
  mkdir -p "$corpus"
  args=(-print_final_stats=1 -timeout=10 -rss_limit_mb=2048
        "-artifact_prefix=$root/$build/fuzz-artifacts/$t-")
  [ -f "tests/fuzz/$t.dict" ] && args+=("-dict=tests/fuzz/$t.dict")
  if [ -n "$runs" ]; then args+=("-runs=$runs"); else args+=("-max_total_time=$secs"); fi
  seeds=()
  [ -d "tests/fuzz/corpus/$t" ] && seeds+=("tests/fuzz/corpus/$t")
  if [ "$jobs" -gt 1 ]; then
    # workers share the corpus; their logs are fuzz-N.log in the cwd
    (cd "$build/fuzz-logs" && "$root/$exe" "${args[@]}" -jobs="$jobs" -workers="$jobs" \
       "$root/$corpus" "${seeds[@]/#/$root/}" >"$log" 2>&1)
    rc=$?
    n=$(cat "$build"/fuzz-logs/fuzz-*.log 2>/dev/null |
        awk '/stat::number_of_executed_units/ {s += $2} END {print s + 0}')
    rm -f "$build"/fuzz-logs/fuzz-*.log
  else
    "$exe" "${args[@]}" "$corpus" "${seeds[@]}" >"$log" 2>&1
    rc=$?
    n=$(awk '/stat::number_of_executed_units/ {print $2}' "$log" | tail -n 1)
  fi
  if [ "$rc" -eq 0 ]; then
    echo "fuzz-$t: ${n:-0} executions, ok"; passed=$((passed + 1))
  else
    echo "fuzz-$t: ${n:-?} executions, FAILED (exit $rc; log $log)"
    grep -E 'ERROR|invariant failed|runtime error|leak' "$log" | head -n 5 | sed 's/^/  /'
    failed=$((failed + 1))
  fi
done
echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
