#!/bin/sh
# npm-deps.sh: install the npm packages the browser tests and the render
# benchmark need -- puppeteer-core only, which drives Debian's chromium and
# downloads no browser -- into build-npm/ (gitignored), from the npm registry
# and nowhere else. Does nothing when the pinned version is there already.
#
# npm can stall for good on a fetch (seen here: a registry connection open
# and silent for 12 minutes, far past its own fetch-timeout), which would
# hang `make test`. So it prefers its cache to the network, and each try
# has a deadline; a try that misses it is killed, its half-made
# node_modules removed, and tried again, three times in all.
#
# Usage: scripts/npm-deps.sh      prints the node_modules directory
set -eu
cd "$(dirname "$0")/.."
PUPPETEER_VERSION=24.43.1
DIR=build-npm
TRY_SECONDS=180
have() {
    [ -f "$DIR/node_modules/puppeteer-core/package.json" ] &&
        grep -q "\"version\": \"$PUPPETEER_VERSION\"" "$DIR/node_modules/puppeteer-core/package.json"
}
if have; then
    echo "$PWD/$DIR/node_modules"
    exit 0
fi
command -v npm >/dev/null || { echo "npm-deps.sh: npm is missing (apt-get install npm)" >&2; exit 1; }
mkdir -p "$DIR"
[ -f "$DIR/package.json" ] || echo '{"name":"agentmon-browser-tests","private":true}' >"$DIR/package.json"
for try in 1 2 3; do
    # --ignore-scripts: nothing runs at install, nothing else is fetched
    if PUPPETEER_SKIP_DOWNLOAD=1 timeout -k 10 "$TRY_SECONDS" npm install --prefix "$DIR" \
        --no-audit --no-fund --ignore-scripts --prefer-offline --fetch-timeout=60000 \
        --loglevel=error "puppeteer-core@$PUPPETEER_VERSION" >&2 && have; then
        echo "$PWD/$DIR/node_modules"
        exit 0
    fi
    echo "npm-deps.sh: npm install failed or took over $TRY_SECONDS s (try $try of 3)" >&2
    rm -rf "$DIR/node_modules" "$DIR/package-lock.json"
done
exit 1
