#!/usr/bin/env bash
# Static analysis of the library (lib/): cppcheck, clang-tidy (.clang-tidy)
# and the clang static analyzer through scan-build --status-bugs.  Each must
# report nothing.  Prints "analyze-TOOL: ok|FAILED" per tool, then
# "N passed, N failed".
#   MFA_ANALYZE_BUILD  scratch build directory (default: build-safety/analyze)
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build=${MFA_ANALYZE_BUILD:-${MFA_SAFETY_BUILD:-build-safety}/analyze}
logs="$build/analyze-logs"
passed=0; failed=0
result() { # result TOOL STATUS LOG
  if [ "$2" -eq 0 ]; then
    echo "analyze-$1: ok"; passed=$((passed + 1))
  else
    echo "analyze-$1: FAILED (log $3)"; head -n 40 "$3" | sed 's/^/  /'
    failed=$((failed + 1))
  fi
}

# a configured build gives compile_commands.json and config.h
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" -Dexamples=disabled -Dtests=disabled -Dbench=disabled \
    -Dfuzz=disabled >/dev/null || { echo "analyze: meson setup failed"; echo "0 passed, 1 failed"; exit 1; }
fi
mkdir -p "$logs"
sources=$(git ls-files 'lib/*.c' 'lib/**/*.c' | sort -u)
[ -n "$sources" ] || sources=$(find lib -name '*.c' | sort)

# -- cppcheck: warnings, portability, performance; inline suppressions must
#    carry a reason (see .cppcheck-suppressions)
if command -v cppcheck >/dev/null; then
  # shellcheck disable=SC2086
  cppcheck -q --std=c11 --enable=warning,portability,performance \
    --inline-suppr --error-exitcode=1 --suppressions-list=.cppcheck-suppressions \
    -D__GNUC__ -DMFA_BUILDING -Iinclude -I"$build/include" -Ilib -I"$build" \
    --template='{file}:{line}: {severity} ({id}): {message}' \
    $sources >"$logs/cppcheck.log" 2>&1
  result cppcheck $? "$logs/cppcheck.log"
else
  echo "analyze-cppcheck: cppcheck not installed" >"$logs/cppcheck.log"
  result cppcheck 1 "$logs/cppcheck.log"
fi

# -- clang-tidy with the tree's .clang-tidy, on the real compile commands
if command -v clang-tidy >/dev/null; then
  st=0
  # two files at a time; each run's output is kept whole
  # shellcheck disable=SC2086
  printf '%s\n' $sources | xargs -P 2 -I{} sh -c \
    'clang-tidy -p "$1" --quiet "$2" >"$3/tidy-$(echo "$2" | tr / _).log" 2>&1' \
    sh "$build" {} "$logs" || st=1
  cat "$logs"/tidy-*.log >"$logs/clang-tidy.log"; rm -f "$logs"/tidy-*.log
  # "N warnings generated" counts what was filtered out (system headers)
  grep -E ': (warning|error):' "$logs/clang-tidy.log" >/dev/null && st=1
  grep -E ': (warning|error):' "$logs/clang-tidy.log" | sed 's|^.*\.\./||' |
    sort -u >"$logs/clang-tidy.findings"
  result clang-tidy $st "$logs/clang-tidy.findings"
else
  echo "clang-tidy not installed" >"$logs/clang-tidy.log"
  result clang-tidy 1 "$logs/clang-tidy.log"
fi

# -- scan-build: a fresh build of the library under the analyzer
if command -v scan-build >/dev/null; then
  sb="$build/scan"
  rm -rf "$sb" "$logs/scan-build"
  {
    scan-build meson setup "$sb" -Dexamples=disabled -Dtests=disabled \
      -Dbench=disabled -Dfuzz=disabled >/dev/null &&
    scan-build --status-bugs -o "$root/$logs/scan-build" \
      -enable-checker security.FloatLoopCounter \
      -enable-checker security.insecureAPI.strcpy \
      ninja -C "$sb" -j2 lib/libmfa.a
  } >"$logs/scan-build.log" 2>&1
  st=$?
  # one line per report: file:line: description (from the HTML comments)
  for r in "$logs"/scan-build/*/report-*.html; do
    [ -f "$r" ] || continue
    f=$(sed -n 's/^<!-- BUGFILE \(.*\) -->$/\1/p' "$r" | sed 's|^.*/lib/|lib/|')
    l=$(sed -n 's/^<!-- BUGLINE \(.*\) -->$/\1/p' "$r")
    d=$(sed -n 's/^<!-- BUGDESC \(.*\) -->$/\1/p' "$r")
    echo "$f:$l: $d"
  done | sort -u >"$logs/scan-build.findings"
  [ -s "$logs/scan-build.findings" ] || cp "$logs/scan-build.log" "$logs/scan-build.findings"
  result scan-build $st "$logs/scan-build.findings"
else
  echo "scan-build not installed (Debian: clang-tools)" >"$logs/scan-build.log"
  result scan-build 1 "$logs/scan-build.log"
fi

echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
