#!/usr/bin/env bash
# The web apps' tests, run by ./tests/run after `cargo test` (which built target/debug/baton and,
# through the baton-web build script, both apps' dist/):
#   unit tests of both apps (vitest), the citizen app's first-load budget (< 120 KB gzipped),
#   and both real-browser journeys in Debian's chromium against target/debug/baton, which
#   serves the apps itself. The journeys write web/screenshots/*.png.
# Needs Node.js 20.19+ with npm, chromium and fonts-noto-cjk (./tests/run installs them).
set -euo pipefail
cd "$(dirname "$0")"

say() { printf '\n==> %s\n' "$*"; }
deps() { # deps DIR: node_modules as package-lock.json says
  if [ ! -f "$1/node_modules/.package-lock.json" ] || [ "$1/package-lock.json" -nt "$1/node_modules/.package-lock.json" ]; then
    (cd "$1" && npm ci --no-audit --no-fund)
  fi
}

for app in citizen console; do
  deps "$app"
  say "web/$app: unit tests"
  (cd "$app" && npm test --silent)
done

say "web/citizen: first-load budget"
[ -f citizen/dist/index.html ] || { echo "web/citizen/dist is missing: build baton (cargo build -p baton) with Node.js installed"; exit 1; }
(cd citizen && npm run --silent budget)

deps e2e
say "web/e2e: the citizen journey in chromium (phone, WeChat, slow 4G)"
node e2e/citizen.mjs
say "web/e2e: the console session in chromium"
node e2e/console.mjs
