#!/bin/sh
# npm-deps.sh: install the npm packages the browser tests and the render
# benchmark need -- puppeteer-core only, which drives Debian's chromium and
# downloads no browser -- into build-npm/ (gitignored), from the npm registry
# and nowhere else. Does nothing when the pinned version is there already.
#
# Usage: scripts/npm-deps.sh      prints the node_modules directory
set -eu
cd "$(dirname "$0")/.."
PUPPETEER_VERSION=24.43.1
DIR=build-npm
if [ -f "$DIR/node_modules/puppeteer-core/package.json" ] &&
    grep -q "\"version\": \"$PUPPETEER_VERSION\"" "$DIR/node_modules/puppeteer-core/package.json"; then
    echo "$PWD/$DIR/node_modules"
    exit 0
fi
command -v npm >/dev/null || { echo "npm-deps.sh: npm is missing (apt-get install npm)" >&2; exit 1; }
mkdir -p "$DIR"
[ -f "$DIR/package.json" ] || echo '{"name":"agentmon-browser-tests","private":true}' >"$DIR/package.json"
# --ignore-scripts: nothing runs at install, nothing else is fetched
PUPPETEER_SKIP_DOWNLOAD=1 npm install --prefix "$DIR" --no-audit --no-fund --ignore-scripts \
    --loglevel=error "puppeteer-core@$PUPPETEER_VERSION" >&2
echo "$PWD/$DIR/node_modules"
