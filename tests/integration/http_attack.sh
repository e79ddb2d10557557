#!/bin/sh
# http_attack.sh: issue 10's attacks on the embedded HTTP server, in every
# program that embeds it -- an am_http test program (test_exporter),
# `agentmon serve` and `agentmon demo` -- loopback only, bounded in time.
#
#   sh tests/integration/http_attack.sh [BUILDDIR]      (from the repo root)
#
# 1. Slowloris (tests/integration/slowloris.c): 500 connections from
#    127.0.0.2..127.0.0.11 (50 per address: a per-address limit alone does
#    not stop them) for 15 s, each sending one header line (then, second
#    run, one body byte) every 5 s, reconnecting when cut off; meanwhile
#    /health and /metrics are asked from 127.0.0.1 every 200 ms, and every
#    answer must be a 200 within 1 s -- the target of issue 10 item 2. The
#    probe's figures (max, p99) are printed as JSON.
# 2. Framing (check_http_strict.py) against serve's POST /api/v1/events:
#    conflicting Content-Length 400, unknown Transfer-Encoding 501, both at
#    once (issue 10 item 10).
# SLOWLORIS=path uses another attacker binary (to attack an older build).
set -u
BUILD=${1:-build}
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "http_attack: SKIP: $PY missing"; exit 0; }
if [ -f "$BUILD/CMakeCache.txt" ] && [ -z "${SLOWLORIS:-}" ]; then
    cmake --build "$BUILD" --target agentmon test_exporter slowloris >/dev/null ||
        { echo "http_attack: FAIL: build"; exit 1; }
fi
AGENTMON=$(cd "$BUILD" && pwd)/agentmon
EXPORTER=$(cd "$BUILD" && pwd)/tests/test_exporter
LORIS=${SLOWLORIS:-$(cd "$BUILD" && pwd)/tests/slowloris}
SECONDS_=${AM_ATTACK_SECONDS:-15}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/am-attack.XXXXXX") || exit 1
PID=""
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
rc=0

# start NAME CMD...: run CMD in the background; PORT from its first line.
start() {
    name=$1
    shift
    "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
    PID=$!
    i=0
    PORT=""
    while [ -z "$PORT" ]; do
        i=$((i + 1))
        [ $i -gt 100 ] && { echo "http_attack: FAIL: $name did not start"; cat "$TMP/$name.err"; exit 1; }
        sleep 0.1
        PORT=$(sed -n -e 's/.*HTTP on 127.0.0.1:\([0-9]*\).*/\1/p' \
            -e 's|.*http://127.0.0.1:\([0-9]*\)/metrics.*|\1|p' -e 's/^\([0-9][0-9]*\)$/\1/p' \
            "$TMP/$name.out" | head -1)
    done
}

stop() {
    kill "$PID" 2>/dev/null
    wait "$PID" 2>/dev/null
    PID=""
}

# attack NAME POST_PATH: both slowloris variants against the running server.
attack() {
    for mode in headers body; do
        out=$("$LORIS" --port "$PORT" --conns 500 --seconds "$SECONDS_" --mode "$mode" \
            --path "$2" --expect-open 400)
        st=$?
        echo "http_attack: $1 $mode: $out"
        if [ $st -ne 0 ]; then
            echo "http_attack: FAIL: $1 under a $mode slowloris: /health or /metrics not answered 200 within 1 s every time"
            rc=1
        fi
    done
}

start exporter "$EXPORTER"
attack test_exporter /metrics
stop

mkdir "$TMP/store"
start serve "$AGENTMON" serve --listen 127.0.0.1:0 --statsd off --store "sqlite:$TMP/store/a.db"
attack serve /api/v1/events
"$PY" tests/integration/check_http_strict.py "$PORT" /api/v1/events || rc=1
stop

start demo "$AGENTMON" demo --listen 127.0.0.1:0 --quiet --log "$TMP/demo.log" --rate 20
attack demo /metrics
stop

[ $rc -eq 0 ] && echo "http_attack: ok"
exit $rc
