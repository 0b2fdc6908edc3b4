#!/usr/bin/env bash
# The proof-of-safety checks, for .ci/run (about 15 minutes on 2 cores):
#   fuzz        every libFuzzer target for MFA_FUZZ_SECONDS (default 15) under
#               ASan + UBSan (scripts/fuzz.sh; clang build in build-fuzz)
#   ct          the constant-time test under valgrind, and its canary
#   api         installed headers as C and C++; exports == map == MFA_API
#   valgrind    the unit suite under memcheck (meson test --setup valgrind)
#   analyze     cppcheck, clang-tidy, scan-build (scripts/analyze.sh)
# Each part prints "NAME: N passed, N failed"; the last line is the total.
#   MFA_SAFETY_BUILD  gcc build directory (default build-safety)
#   MFA_SAFETY_SKIP   parts to skip, e.g. "fuzz analyze"
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build=${MFA_SAFETY_BUILD:-build-safety}
skip=" ${MFA_SAFETY_SKIP:-} "
logdir=$(mktemp -d /tmp/mfa-safety.XXXXXX)
total_p=0; total_f=0

part() { # part NAME LOG: add the log's last "N passed, N failed" line
  local line p f
  local k
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$2" | tail -n 1)
  if [ -z "$line" ]; then p=0; f=1; else
    p=$(echo "$line" | awk '{print $1}'); f=$(echo "$line" | awk '{print $3}')
    # a skip is a check that did not run: here, where every tool is
    # installed, it counts as a failure
    k=$(echo "$line" | sed -n 's/.*, \([0-9][0-9]*\) skipped.*/\1/p')
    f=$((f + ${k:-0}))
  fi
  echo "$1: $p passed, $f failed"
  total_p=$((total_p + p)); total_f=$((total_f + f))
}
skipped() { case "$skip" in *" $1 "*) echo "$1: skipped"; return 0 ;; esac; return 1; }

scripts/deps.sh test >/dev/null 2>&1 || echo "ci-safety: scripts/deps.sh failed" >&2

if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" -Dexamples=disabled >"$logdir/setup.log" 2>&1 ||
    { cat "$logdir/setup.log"; echo "0 passed, 1 failed"; exit 1; }
fi
if ! ninja -C "$build" -j2 >"$logdir/build.log" 2>&1; then
  tail -n 30 "$logdir/build.log"; echo "build: 0 passed, 1 failed"
  total_f=$((total_f + 1))
fi

if ! skipped fuzz; then
  echo "== fuzz: each target ${MFA_FUZZ_SECONDS:-15} s under ASan + UBSan"
  scripts/fuzz.sh -t "${MFA_FUZZ_SECONDS:-15}" 2>&1 | tee "$logdir/fuzz.log"
  part fuzz "$logdir/fuzz.log"
fi

if ! skipped ct; then
  echo "== ct: constant-time test under valgrind"
  meson test -C "$build" --suite ct --print-errorlogs >"$logdir/ct.out" 2>&1
  python3 scripts/summarize.py "$build/meson-logs/testlog.json" >"$logdir/ct.log"
  grep -E '^(ok|FAIL) ' "$build/meson-logs/testlog.txt" | sed 's/^/  /'
  grep -qE 'Fail: +0' "$logdir/ct.out" || { tail -n 40 "$logdir/ct.out"; echo "0 passed, 1 failed" >>"$logdir/ct.log"; }
  # the canary proves the rest: it must have run and passed (tests/ct/
  # canary.sh passes only on memcheck's own exit code with the planted leak
  # reported), and its check must refuse a crashing canary; a skipped or
  # missing canary fails the part
  python3 - "$build/meson-logs/testlog.json" <<'PY' >>"$logdir/ct.log"
import json, sys
got = {}
for line in open(sys.argv[1]):
    t = json.loads(line)
    got[t["name"].split(" / ")[-1]] = t["result"]
for name in ("ct-canary", "ct-canary-crash"):
    if got.get(name) != "OK":
        print(f"  {name}: {got.get(name, 'did not run')}, must be OK")
        print("0 passed, 1 failed")
PY
  part ct "$logdir/ct.log"
fi

if ! skipped api; then
  echo "== api: headers and exports"
  meson test -C "$build" --suite api --print-errorlogs >"$logdir/api.out" 2>&1
  python3 scripts/summarize.py "$build/meson-logs/testlog.json" >"$logdir/api.log"
  grep -qE 'Fail: +0' "$logdir/api.out" || { tail -n 40 "$logdir/api.out"; echo "0 passed, 1 failed" >>"$logdir/api.log"; }
  part api "$logdir/api.log"
fi

if ! skipped valgrind; then
  echo "== valgrind: the unit suite under memcheck"
  meson test -C "$build" --setup valgrind --suite unit --num-processes 2 \
    --print-errorlogs >"$logdir/vg.out" 2>&1
  grep -E '^ *[0-9]+/[0-9]+ ' "$logdir/vg.out" | sed 's/^/  /'
  python3 scripts/summarize.py "$build/meson-logs/testlog-valgrind.json" >"$logdir/vg.log"
  if ! grep -qE 'Fail: +0' "$logdir/vg.out"; then
    grep -E '== (Invalid|Conditional|Use of|Syscall|Mismatched|[0-9,]+ bytes in [0-9,]+ blocks are definitely)' -A6 \
      "$logdir/vg.out" | head -n 60
    echo "0 passed, 1 failed" >>"$logdir/vg.log"
  fi
  part valgrind "$logdir/vg.log"
fi

if ! skipped analyze; then
  echo "== analyze: cppcheck, clang-tidy, scan-build"
  scripts/analyze.sh 2>&1 | tee "$logdir/analyze.log"
  part analyze "$logdir/analyze.log"
fi

rm -rf "$logdir"
echo "${total_p} passed, ${total_f} failed"
[ "$total_f" -eq 0 ]
