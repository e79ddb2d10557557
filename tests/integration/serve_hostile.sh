#!/bin/sh
# serve_hostile.sh: `agentmon serve` under the attacks of issue 10 that
# need no other server: memory per request (hostile_mem.py). Bounded in
# time and count, loopback only.
#
#   sh tests/integration/serve_hostile.sh [BUILDDIR]      (from the repo root)
set -u
BUILD=${1:-build}
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "serve_hostile: SKIP: $PY missing"; exit 0; }
if [ -f "$BUILD/CMakeCache.txt" ]; then
    cmake --build "$BUILD" --target agentmon >/dev/null || { echo "serve_hostile: FAIL: build"; exit 1; }
fi
AGENTMON=$(cd "$BUILD" && pwd)/agentmon
TMP=$(mktemp -d "${TMPDIR:-/tmp}/am-hostile.XXXXXX") || exit 1
PID=
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

start() {
    "$AGENTMON" serve --listen 127.0.0.1:0 --statsd off --system-interval 0 \
        --store "sqlite:$TMP/data/a.db" "$@" >"$TMP/out" 2>&1 &
    PID=$!
    i=0
    until PORT=$(grep -o 'HTTP on 127.0.0.1:[0-9]*' "$TMP/out" | cut -d: -f2) && [ -n "$PORT" ]; do
        i=$((i + 1))
        [ $i -gt 100 ] && { echo "serve_hostile: FAIL: no start"; cat "$TMP/out"; exit 1; }
        sleep 0.1
    done
}

start
"$PY" tests/integration/hostile_mem.py "$PORT" "$PID" 100 || exit 1
echo "serve_hostile: ok"
