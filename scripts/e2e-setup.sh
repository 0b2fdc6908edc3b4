#!/usr/bin/env bash
# Install what the browser end-to-end tests (tests/e2e) need: Debian's
# Chromium (never a browser download of Playwright's own) and the pinned npm
# packages of tests/e2e/package-lock.json.  Does nothing when both are there.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "e2e-setup: installing chromium" >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
    --no-install-recommends chromium >&2
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "e2e-setup: npm is missing (scripts/deps.sh test installs it)" >&2
  exit 1
fi
cd tests/e2e
if [ -d node_modules/playwright-core ] && [ -d node_modules/jsqr ] &&
   [ -d node_modules/otpauth ] && [ -d node_modules/pngjs ]; then
  exit 0
fi
# playwright-core never downloads a browser; the variable is belt and braces.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error >&2
else
  npm install --no-audit --no-fund --loglevel=error >&2
fi
