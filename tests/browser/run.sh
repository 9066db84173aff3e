#!/usr/bin/env bash
# Runs the Switchboard browser end-to-end tests in headless Chromium.
# Needs: node >= 20, npm, a Chromium at $CHROMIUM_PATH (default /usr/bin/chromium),
# and a built server at $SWITCHBOARD_BIN (default ../../target/debug/switchboard).
# playwright-core downloads no browser; nothing else is fetched besides npm packages.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

if [[ -f package-lock.json ]]; then
  npm ci --no-audit --no-fund
else
  npm install --no-audit --no-fund
fi

node --test ui.test.mjs
