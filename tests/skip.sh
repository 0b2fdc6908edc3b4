#!/bin/sh
# tests/skip.sh REASON...: registered in place of a test whose program was
# missing when meson configured the build, so that `meson test` lists it as
# skipped (exit 77) with the reason rather than not at all.
echo "skipped: $*"
exit 77
