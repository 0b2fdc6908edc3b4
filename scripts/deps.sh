#!/usr/bin/env bash
# Install the Debian packages a command needs, only those missing.
#   scripts/deps.sh demo   what building and running the demo needs
#   scripts/deps.sh test   what the whole test suite needs
#   scripts/deps.sh state  print what of the test suite's needs is there now
#                          (packages and versions, programs on PATH), for
#                          scripts/test to see that a build directory was
#                          configured before something was installed
# Runs apt-get as root (or through sudo); never touches what is installed.
set -euo pipefail

PKGS_BUILD="meson ninja-build pkg-config gcc libc6-dev libsodium-dev nettle-dev
  libqrencode-dev libpng-dev libsqlite3-dev libpq-dev libmicrohttpd-dev"
# passkeys (-Dwebauthn): COSE keys and signatures, CBOR, JSON
PKGS_BUILD="$PKGS_BUILD libfido2-dev libcbor-dev libjson-c-dev"
PKGS_TEST="check oathtool liboath-dev zbar-tools librsvg2-bin clang-format
  valgrind python3 postgresql procps groff-base man-db"
# the text-field test checks every Cf code point against UnicodeData.txt;
# pyotp cross-checks the URI reader
PKGS_TEST="$PKGS_TEST unicode-data python3-pyotp"
# proof of safety (scripts/ci-safety.sh): libFuzzer and sanitizers (clang),
# scan-build (clang-tools), clang-tidy, cppcheck, a C++ compiler for the
# header test
PKGS_TEST="$PKGS_TEST clang clang-tools clang-tidy cppcheck g++"
# WebAuthn: the software authenticator (tests/webauthn/softauth.py) and
# the second relying party it is compared with (fido2.server), for
# Debian's /usr/bin/python3
PKGS_TEST="$PKGS_TEST python3-fido2 python3-cryptography"
# browser end-to-end tests, openssl for their throwaway TLS certificate
# (Node.js itself is taken from the machine when
# present, otherwise from Debian)
PKGS_E2E="chromium openssl"

case "${1:-test}" in
demo) want="$PKGS_BUILD" ;;
test) want="$PKGS_BUILD $PKGS_TEST $PKGS_E2E" ;;
state)
  for p in $PKGS_BUILD $PKGS_TEST $PKGS_E2E nodejs npm; do
    v=$(dpkg-query -W -f='${Version} ${db:Status-Abbrev}' "$p" 2>/dev/null) || v=absent
    echo "$p $v"
  done
  # what meson finds on PATH, wherever it comes from
  for c in node npm cc c++ clang valgrind; do
    echo "$c $(command -v "$c" || echo absent)"
  done
  exit 0
  ;;
*) echo "usage: $0 demo|test|state" >&2; exit 2 ;;
esac
if [ "${1:-test}" = test ] && ! command -v node >/dev/null 2>&1; then
  want="$want nodejs npm"
fi

missing=()
for p in $want; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
