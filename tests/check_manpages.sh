#!/bin/sh
# The man pages, the linker map and the public headers name the same
# functions (libfido2's check, for libmfa):
#  - every symbol exported by lib/libmfa.map is declared MFA_API in a header,
#    and every MFA_API function of a header is exported;
#  - every exported symbol is named in the NAME section of exactly one page
#    in docs/man and appears in that page's SYNOPSIS;
#  - a page names (in NAME) or declares (in SYNOPSIS) no function that is not
#    exported, and refers only to error codes that err.h defines;
#  - every API page has the sections a reader looks for, every SEE ALSO
#    reference resolves to a page or an alias, and groff renders each page
#    without a warning;
#  - with a build directory given, every exported name has its alias page
#    there (what `meson install` puts in man3), so `man NAME` works.
# Usage: check_manpages.sh [SOURCE_ROOT [BUILD_DOCS_DIR]]
# Prints "N passed, N failed"; exits 1 when anything failed.
set -u
export LC_ALL=C  # sort and comm agree whatever the locale
src=${1:-$(cd "$(dirname "$0")/.." && pwd)}
built=${2:-}
man="$src/docs/man"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mfa-man.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }

# ---- what is exported ---------------------------------------------------
# global: entries of every version node, comments removed
sed -e 's,/\*.*\*/,,g' "$src/lib/libmfa.map" |
    grep -E '^[[:space:]]*mfa_[a-z0-9_]+;' | tr -d ' \t;' | sort -u >"$tmp/map"
# MFA_API declarations: comments dropped, the identifier before the first
# '(' of each declaration (perl-base is part of every Debian system)
cat "$src"/include/mfa/*.h |
    perl -0777 -ne 's{/\*.*?\*/}{}gs; s{//[^\n]*}{}g; s{^[ \t]*#(?:[^\n]*\\\n)*[^\n]*}{}gm;
        print "$1\n" while /\bMFA_API\b[^;(]*?\b([a-z_][a-z0-9_]*)\s*\(/g' |
    sort -u >"$tmp/hdr"
# error codes err.h defines
grep -oE 'MFA_ERR_[A-Z0-9_]+|MFA_OK' "$src/include/mfa/err.h" | sort -u >"$tmp/codes"

# every code err.h defines has its row in mfa_err(3)
for c in $(grep -v '_H$' "$tmp/codes"); do
    short=${c#MFA_ERR_WEBAUTHN_}   # that table shows the names without it
    grep -q "[[:space:]]$c[[:space:]]\|^\\\\-1[12][0-9][[:space:]]$short[[:space:]]" "$src/docs/man/mfa_err.3" ||
        bad "$c is defined in err.h but has no row in mfa_err(3)"
done
[ -s "$tmp/map" ] && ok || bad "no exported symbol found in lib/libmfa.map"
for s in $(comm -23 "$tmp/map" "$tmp/hdr"); do
    bad "$s is exported by libmfa.map but declared MFA_API in no header"
done
for s in $(comm -13 "$tmp/map" "$tmp/hdr"); do
    bad "$s is declared MFA_API in a header but not exported by libmfa.map"
done
cmp -s "$tmp/map" "$tmp/hdr" && ok

# ---- what the pages name ------------------------------------------------
# section TEXT of page FILE: the lines after ".SH TEXT" up to the next .SH
section() {
    awk -v want="$2" '
        /^\.SH/ { s = $0; sub(/^\.SH[ \t]+/, "", s); gsub(/"/, "", s);
                  on = (s == want); next }
        on { print }' "$1"
}
: >"$tmp/named"
: >"$tmp/pages"
for page in "$man"/*.3; do
    [ -e "$page" ] || continue
    p=$(basename "$page" .3)
    echo "$p" >>"$tmp/pages"
    # NAME: "a, b, c \- what they do"
    section "$page" NAME | tr '\n' ' ' | sed 's/\\-.*//' | tr ',' '\n' |
        tr -d ' \t' | grep -E '^mfa_' | sort -u >"$tmp/name.$p"
    section "$page" SYNOPSIS | sed 's/\\f[BIRP]//g; s/"//g' |
        grep -oE '(^|[^a-z0-9_])mfa_[a-z0-9_]+[[:space:]]*\([^*]' |
        grep -oE 'mfa_[a-z0-9_]+' | sort -u >"$tmp/syn.$p"
    sed "s/\$/ $p/" "$tmp/name.$p" >>"$tmp/named"
    printf '%s\n' NAME SYNOPSIS DESCRIPTION >"$tmp/want"
    [ "$p" = libmfa ] || printf '%s\n' "RETURN VALUES" EXAMPLES "SEE ALSO" >>"$tmp/want"
    while read -r sec; do
        if grep -qE "^\.SH \"?$sec\"?\$" "$page"; then ok; else bad "$p(3) has no $sec section"; fi
    done <"$tmp/want"
    for s in $(cat "$tmp/name.$p"); do
        if grep -qx "$s" "$tmp/map"; then ok; else bad "$p(3) names $s, which is not exported"; fi
        grep -qx "$s" "$tmp/syn.$p" || bad "$p(3) names $s but its SYNOPSIS does not declare it"
    done
    for s in $(comm -23 "$tmp/syn.$p" "$tmp/map"); do
        bad "$p(3) declares $s in its SYNOPSIS, which is not exported"
    done
    for c in $(grep -oE 'MFA_ERR_[A-Z0-9_]+' "$page" | sort -u); do
        grep -qx "$c" "$tmp/codes" || bad "$p(3) mentions $c, which err.h does not define"
    done
done

# every page is installed (listed in docs/meson.build's man3_pages)
for p in $(cat "$tmp/pages"); do
    if grep -q "'$p'" "$src/docs/meson.build"; then ok; else bad "$p.3 is not in man3_pages of docs/meson.build: it would not be installed"; fi
done

# every exported symbol on exactly one page
sort "$tmp/named" >"$tmp/named.s"
for s in $(cat "$tmp/map"); do
    n=$(grep -c "^$s " "$tmp/named.s")
    if [ "$n" -eq 1 ]; then
        ok
    elif [ "$n" -eq 0 ]; then
        bad "$s is exported but no man page names it"
    else
        bad "$s is named by $n pages: $(grep "^$s " "$tmp/named.s" | cut -d' ' -f2 | tr '\n' ' ')"
    fi
done
# a page whose file name is a function must be that function's page, or
# its alias would overwrite the page on install
for p in $(cat "$tmp/pages"); do
    if grep -qx "$p" "$tmp/map" && ! grep -qx "$p" "$tmp/name.$p"; then
        bad "page $p(3) has the name of a function documented elsewhere"
    fi
done

# SEE ALSO references resolve (section 3 to a page or alias; 1 to a page)
cut -d' ' -f1 "$tmp/named.s" >"$tmp/targets3"
cat "$tmp/pages" >>"$tmp/targets3"
for page in "$man"/*.3 "$man"/*.1; do
    [ -e "$page" ] || continue
    section "$page" "SEE ALSO" | grep -oE '^\.BR [a-z0-9_.]+ \([0-9]\)' |
        sed -E 's/^\.BR ([a-z0-9_.]+) \(([0-9])\)/\1 \2/' | while read -r ref sec; do
        case $sec in
        3) case $ref in mfa*|libmfa) ;; *) continue ;; esac
           grep -qx "$ref" "$tmp/targets3" || echo "$(basename "$page"): $ref($sec)" ;;
        1) case $ref in mfa*) ;; *) continue ;; esac
           [ -e "$man/$ref.1" ] || echo "$(basename "$page"): $ref($sec)" ;;
        esac
    done
done >"$tmp/dangling"
if [ -s "$tmp/dangling" ]; then
    while read -r l; do bad "SEE ALSO refers to a missing page: $l"; done <"$tmp/dangling"
else
    ok
fi

# groff renders every page without a warning
if command -v groff >/dev/null 2>&1; then
    for page in "$man"/*.3 "$man"/*.1; do
        [ -e "$page" ] || continue
        out=$(LC_ALL=C.UTF-8 groff -t -man -Tutf8 -ww -z "$page" 2>&1)
        if [ -z "$out" ]; then ok; else bad "groff warns on $(basename "$page"): $out"; fi
    done
else
    echo "skipped: rendering: groff not found: apt-get install groff-base (scripts/deps.sh test installs it)"
    skipped=1
fi

# the aliases the build generated (installed to man3 by meson install)
if [ -n "$built" ]; then
    for s in $(cat "$tmp/map"); do
        if [ -f "$built/$s.3" ] || grep -qx "$s" "$tmp/pages"; then
            ok
        else
            bad "no page or alias $s.3 in $built"
        fi
    done
fi

echo "$pass passed, $fail failed${skipped:+, $skipped skipped}"
[ "$fail" -eq 0 ]
