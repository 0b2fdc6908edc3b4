#!/usr/bin/env bash
# Install the built tree into a temporary root, then compile, link and run
# a program outside the tree with `pkg-config --cflags --libs libmfa`
# (shared) and `pkg-config --static` (static), as a distribution would.
set -u
build=${MFA_BUILD_ROOT:?}
src=$(cd "$(dirname "$0")" && pwd)
root=$(mktemp -d /tmp/mfa-install.XXXXXX)
trap 'rm -rf "$root"' EXIT
pass=0; fail=0
check() { if "$@"; then pass=$((pass + 1)); else echo "FAILED: $*"; fail=$((fail + 1)); fi; }

meson install -C "$build" --destdir "$root" --no-rebuild --quiet >/dev/null 2>&1
# a sanitized build installs a sanitized library: its consumer needs the
# same runtime
san=$(meson introspect "$build" --buildoptions | python3 -c '
import json, sys
for o in json.load(sys.stdin):
    if o["name"] == "b_sanitize" and o["value"] not in ("none", ""):
        print("-fsanitize=" + o["value"])')
check test -f "$(find "$root" -name libmfa.pc | head -n 1)"
pcdir=$(dirname "$(find "$root" -name libmfa.pc | head -n 1)")
export PKG_CONFIG_PATH="$pcdir" PKG_CONFIG_SYSROOT_DIR="$root"
libdir=$(dirname "$pcdir")
ver=$(pkg-config --modversion libmfa)
check test -n "$ver"
# pkgconf prefixes --variable with the sysroot, pkg-config does not
inc=$(pkg-config --variable=includedir libmfa)
case "$inc" in "$root"/*) ;; *) inc="$root$inc" ;; esac
check test -f "$inc/mfa.h"
check test -f "$inc/mfa/otp.h"
check test -f "$inc/mfa/service.h"
# no internal header is installed
check test ! -e "$inc/mfa/internal.h"
check test ! -e "$inc/internal.h"

# shared
# shellcheck disable=SC2046,SC2086
check cc -std=c11 -Wall -Werror $san -DMFA_VERSION_STRING_HEADER="\"$ver\"" \
  -o "$root/consumer" "$src/consumer.c" $(pkg-config --cflags --libs libmfa)
check env LD_LIBRARY_PATH="$libdir" "$root/consumer"
# the soname is versioned
check sh -c "readelf -d '$libdir/libmfa.so' | grep -q 'SONAME.*libmfa.so.0'"
# static libmfa, its dependencies (Requires.private) shared
deps=$(pkg-config --print-requires-private libmfa | awk '{print $1}' | tr '\n' ' ')
# shellcheck disable=SC2046,SC2086
check cc -std=c11 -Wall -Werror $san -DMFA_VERSION_STRING_HEADER="\"$ver\"" \
  -o "$root/consumer-static" "$src/consumer.c" \
  $(pkg-config --cflags libmfa) "$libdir/libmfa.a" $(pkg-config --libs $deps) -lpthread
check "$root/consumer-static"
# the static program does not need libmfa.so
check sh -c "! ldd '$root/consumer-static' | grep -q libmfa"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
