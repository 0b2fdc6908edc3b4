#!/usr/bin/env bash
# Every installed header compiles on its own, as C (C99 and C11) and as
# C++ (C++11 and C++17), with strict warnings as errors; the umbrella header
# too.  Headers are taken from include/ in the source tree, as installed.
#   tests/check_headers.sh [source root] [build root]
# (the build root holds the generated mfa/version.h)
#   CC, CXX   compilers (default cc, c++); a missing C++ compiler fails.
# Prints "N passed, N failed" (one check per header and language).
set -uo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
build=${2:-$root/build}
cc=${CC:-cc}; cxx=${CXX:-c++}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
warn="-Wall -Wextra -Wpedantic -Werror -Wshadow -Wcast-qual -Wundef"
passed=0; failed=0

check() { # check LABEL COMPILER FLAGS FILE
  local label=$1 comp=$2 flags=$3 file=$4
  # shellcheck disable=SC2086
  if out=$($comp $flags $warn -I"$root/include" -I"$build/include" -fsyntax-only "$file" 2>&1); then
    passed=$((passed + 1))
  else
    echo "FAIL $label"; echo "$out" | head -n 20 | sed 's/^/  /'
    failed=$((failed + 1))
  fi
}

headers="$(cd "$root/include" && ls mfa/*.h) mfa/version.h"
for h in $headers mfa.h; do
  name=$(echo "$h" | tr '/.-' '___')
  # the header first, alone, then again (include guards)
  printf '#include <%s>\n#include <%s>\nint mfa_header_check_%s;\n' "$h" "$h" "$name" >"$tmp/$name.c"
  cp "$tmp/$name.c" "$tmp/$name.cc"
  check "$h as C99" "$cc" "-std=c99" "$tmp/$name.c"
  check "$h as C11" "$cc" "-std=c11" "$tmp/$name.c"
  check "$h as C++11" "$cxx" "-std=c++11" "$tmp/$name.cc"
  check "$h as C++17" "$cxx" "-std=c++17" "$tmp/$name.cc"
done
# nothing internal leaks into an installed header
if grep -nE '#include "|mfa_int_|MFA_INT_' "$root"/include/mfa.h "$root"/include/mfa/*.h; then
  echo "FAIL installed headers name internals"; failed=$((failed + 1))
else
  passed=$((passed + 1))
fi
echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
