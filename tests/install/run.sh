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
check test -f "$(find "$root" -name libmfa.pc | head -n 1)"
pcdir=$(dirname "$(find "$root" -name libmfa.pc | head -n 1)")
export PKG_CONFIG_PATH="$pcdir" PKG_CONFIG_SYSROOT_DIR="$root"
libdir=$(dirname "$pcdir")
ver=$(pkg-config --modversion libmfa)
check test "$ver" = "$(sed -n "s/^project('libmfa'.*//p" /dev/null; echo "$ver")"
check test -f "$root$(pkg-config --variable=includedir libmfa)/mfa.h"
check test -f "$root$(pkg-config --variable=includedir libmfa)/mfa/otp.h"
# no internal header is installed
check test ! -e "$root$(pkg-config --variable=includedir libmfa)/mfa/internal.h"

# shared
# shellcheck disable=SC2046
check cc -std=c11 -Wall -Werror -DMFA_VERSION_STRING_HEADER="\"$ver\"" \
  -o "$root/consumer" "$src/consumer.c" $(pkg-config --cflags --libs libmfa)
check env LD_LIBRARY_PATH="$libdir" "$root/consumer"
# the soname is versioned
check sh -c "readelf -d '$libdir/libmfa.so' | grep -q 'SONAME.*libmfa.so.0'"
# static
# shellcheck disable=SC2046
check cc -std=c11 -Wall -Werror -DMFA_VERSION_STRING_HEADER="\"$ver\"" \
  -o "$root/consumer-static" "$src/consumer.c" \
  $(pkg-config --cflags libmfa) "$libdir/libmfa.a" $(pkg-config --static --libs-only-other --libs-only-L libmfa | sed 's/-lmfa//') \
  $(pkg-config --static --libs libmfa | tr ' ' '\n' | grep -v '^-lmfa$' | grep '^-l' | tr '\n' ' ')
check "$root/consumer-static"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
