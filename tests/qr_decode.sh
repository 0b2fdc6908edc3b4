#!/bin/sh
# qr_decode.sh IMAGE: print the text of the QR code in IMAGE (PNG, or SVG
# rasterised with rsvg-convert first) exactly, without a trailing newline.
# zbarimg's -Sbinary keeps the bytes as encoded (without it zbar guesses a
# charset and turns UTF-8 into mojibake).  Exit status: 0 when a code was
# read, 77 when a decoder is missing (with the package that provides it),
# another non-zero status otherwise.  Needs zbar-tools and librsvg2-bin.
set -eu
[ $# -eq 1 ] || { echo "usage: $0 IMAGE.png|IMAGE.svg" >&2; exit 2; }
img=$1
need() { # need PROGRAM PACKAGE
    command -v "$1" >/dev/null 2>&1 && return 0
    echo "skipped: $1 not found: apt-get install $2 (scripts/deps.sh test installs it)" >&2
    exit 77
}
need zbarimg zbar-tools
case "$img" in *.svg) need rsvg-convert librsvg2-bin ;; esac
case "$img" in
*.svg)
    tmp=$(mktemp "${TMPDIR:-/tmp}/qr_decode.XXXXXX")
    trap 'rm -f "$tmp"' EXIT
    rsvg-convert -f png -o "$tmp" "$img"
    img=$tmp
    ;;
esac
zbarimg --nodbus --raw -q -Sbinary "$img" 2>/dev/null
