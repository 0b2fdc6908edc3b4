#!/usr/bin/env bash
# The exported dynamic symbols of libmfa.so, the names in lib/libmfa.map
# and the MFA_API declarations in include/mfa/*.h must be the same set.
#   tests/check_exports.sh path/to/libmfa.so [source root]
# Prints the differences, then "N passed, N failed" (3 checks: each pair).
set -uo pipefail
so=${1:?usage: $0 libmfa.so [srcroot]}
root=${2:-$(cd "$(dirname "$0")/.." && pwd)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# defined, global, in a version node (the node names themselves are 'A')
nm -D --defined-only "$so" | awk '$2 ~ /^[TDRBVW]$/ {sub(/@.*/, "", $3); print $3}' |
  sort -u >"$tmp/so"

python3 - "$root" "$tmp" <<'PY'
import re, sys, pathlib
root, tmp = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])

def strip_comments(s):
    s = re.sub(r'/\*.*?\*/', ' ', s, flags=re.S)
    return re.sub(r'//[^\n]*', ' ', s)

# the map: every "name;" of a global: section
m = strip_comments((root / 'lib' / 'libmfa.map').read_text())
names, glob = set(), False
for tok in re.findall(r'[A-Za-z_][A-Za-z0-9_.*]*\s*[:;{}]|\}', m):
    tok = tok.strip()
    if tok.startswith('global'):
        glob = True
    elif tok.startswith('local'):
        glob = False
    elif tok.endswith(';') and glob:
        names.add(tok[:-1].strip())
(tmp / 'map').write_text(''.join(n + '\n' for n in sorted(names)))

# the headers: the identifier before the '(' of each MFA_API declaration
api = set()
for h in sorted((root / 'include' / 'mfa').glob('*.h')):
    s = strip_comments(h.read_text())
    s = re.sub(r'^\s*#.*$', ' ', s, flags=re.M)   # preprocessor lines
    for decl in re.findall(r'\bMFA_API\b([^;{]*)', s):
        m2 = re.search(r'([A-Za-z_][A-Za-z0-9_]*)\s*\(', decl)
        if m2:
            api.add(m2.group(1))
(tmp / 'api').write_text(''.join(n + '\n' for n in sorted(api)))
PY

passed=0; failed=0
compare() { # compare A B: names in one list and not the other
  local a=$1 b=$2 only_a only_b
  only_a=$(comm -23 "$tmp/$a" "$tmp/$b")
  only_b=$(comm -13 "$tmp/$a" "$tmp/$b")
  if [ -z "$only_a$only_b" ]; then
    echo "ok   $3 ($(wc -l <"$tmp/$a") names)"
    passed=$((passed + 1))
  else
    echo "FAIL $3"
    [ -n "$only_a" ] && echo "$only_a" | sed "s/^/  only in $a: /"
    [ -n "$only_b" ] && echo "$only_b" | sed "s/^/  only in $b: /"
    failed=$((failed + 1))
  fi
}
compare so map "exported symbols == lib/libmfa.map"
compare map api "lib/libmfa.map == MFA_API declarations"
compare so api "exported symbols == MFA_API declarations"
echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
