#!/bin/sh
# shared_program.sh: the agentmon program linked against libagentmon.so
# (build/shared/agentmon, built with AM_BUILD_SHARED_PROGRAM, the default)
# works as the static one does -- the proof that the program uses the
# public API plus src/util only (issue 11; the link itself fails on any
# call into a library internal, whose symbols the .so hides).
#
#   sh tests/integration/shared_program.sh [BUILDDIR]      (from the repo root)
#
# Checks: it loads this build's libagentmon.so; it defines no symbol the
# library exports (its own copy of util never interposes on the
# library's); `agentmon metrics list` prints the same catalogue in every
# format; an error made inside the library (listen address) and one made
# by the program (store URI) reach stderr the same through am_errmsg();
# `agentmon serve` on free ports takes events over HTTP and StatsD and
# shows them on /metrics (promtool checks the exposition when installed);
# and, when prometheus and Debian's python3 are there, check_serve.py's
# whole run (the one serve.sh makes on the static program: events, StatsD,
# the query API, a real Prometheus on both sides of a scrape, kill -9
# under load) passes on SQLite.
set -u
BUILD=${1:-build}
PY=/usr/bin/python3
fail() {
    echo "shared_program: FAIL: $*"
    exit 1
}
if [ -f "$BUILD/CMakeCache.txt" ]; then
    cmake --build "$BUILD" --target agentmon agentmon_shared_program >/dev/null || fail "build"
fi
B=$(cd "$BUILD" && pwd)
STATIC=$B/agentmon
SHARED=$B/shared/agentmon
[ -x "$SHARED" ] || {
    echo "shared_program: SKIP: no $SHARED (AM_BUILD_SHARED_PROGRAM=OFF, or no collector)"
    exit 0
}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/am-shared.XXXXXX") || exit 1
PID=
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

# Linked against this build's shared library, not a static copy of it.
readelf -d "$SHARED" | grep -q 'NEEDED.*\[libagentmon\.so\.' || fail "$SHARED does not need libagentmon.so"
ldd "$SHARED" | grep -q "libagentmon\.so\.[0-9]* => $B/libagentmon\.so" ||
    fail "$SHARED does not load $B/libagentmon.so: $(ldd "$SHARED" | grep agentmon)"
echo "shared_program: ok: linked against $B/libagentmon.so"

# No symbol of the program (its util copy included) shadows one of the
# library's exports.
nm -D --defined-only "$B/libagentmon.so" | awk '{print $3}' | sort -u >"$TMP/lib.syms"
nm -D --defined-only "$SHARED" | awk '{print $3}' | sort -u >"$TMP/prog.syms"
both=$(comm -12 "$TMP/lib.syms" "$TMP/prog.syms")
[ -z "$both" ] || fail "the program defines symbols the library exports: $both"
echo "shared_program: ok: no exported symbol of the library defined twice"

for f in text markdown json; do
    "$STATIC" metrics list --format "$f" >"$TMP/static.$f" || fail "static metrics list --format $f"
    "$SHARED" metrics list --format "$f" >"$TMP/shared.$f" || fail "shared metrics list --format $f"
    cmp -s "$TMP/static.$f" "$TMP/shared.$f" || fail "metrics list --format $f differs"
done
echo "shared_program: ok: metrics list (text, markdown, json) as the static program's"

# Errors: one from inside the library (the HTTP server resolving its
# address), one from the program (the store URI).
errors() {
    "$1" serve --listen 256.1.1.1:0 --statsd 127.0.0.1:0 --store "sqlite:$TMP/x.db" 2>&1 >/dev/null
    "$1" serve --listen 127.0.0.1:0 --statsd 127.0.0.1:0 --store bogus://x 2>&1 >/dev/null
}
errors "$STATIC" >"$TMP/err.static"
errors "$SHARED" >"$TMP/err.shared"
grep -q '256.1.1.1: ' "$TMP/err.shared" || fail "the library's error did not reach stderr: $(cat "$TMP/err.shared")"
grep -q 'store "bogus://x": expected' "$TMP/err.shared" ||
    fail "the program's error did not reach stderr: $(cat "$TMP/err.shared")"
cmp -s "$TMP/err.static" "$TMP/err.shared" ||
    fail "errors differ: $(cat "$TMP/err.static") / $(cat "$TMP/err.shared")"
echo "shared_program: ok: library and program errors reach stderr as from the static program"

# Serve on free ports: an HTTP event and a StatsD line show on /metrics.
"$SHARED" serve --listen 127.0.0.1:0 --statsd 127.0.0.1:0 --store "sqlite:$TMP/a.db" \
    >"$TMP/out" 2>"$TMP/serve.err" &
PID=$!
i=0
until line=$(grep -m1 'HTTP on' "$TMP/out"); do
    i=$((i + 1))
    [ $i -gt 100 ] && fail "serve did not start: $(cat "$TMP/serve.err")"
    sleep 0.1
done
HTTP=$(echo "$line" | sed -n 's/.*HTTP on 127\.0\.0\.1:\([0-9]*\).*/\1/p')
UDP=$(echo "$line" | sed -n 's/.*StatsD on udp 127\.0\.0\.1:\([0-9]*\).*/\1/p')
[ -n "$HTTP" ] && [ -n "$UDP" ] || fail "no ports in: $line"
body=$(curl -sS -X POST --data-binary \
    '{"event":"task","agent_id":"coder","status":"success","duration":0.25}' \
    "http://127.0.0.1:$HTTP/api/v1/events") || fail "POST /api/v1/events"
echo "$body" | grep -q '"accepted":1' || fail "event not accepted: $body"
bad=$(curl -sS -X POST --data-binary '{"event":"task"}' "http://127.0.0.1:$HTTP/api/v1/events")
echo "$bad" | grep -q '"rejected":\[{' || fail "a bad event was not rejected with a reason: $bad"
printf 'shared.lib.hits:3|c|#route:a\n' >"$TMP/line"
i=0
until curl -sS "http://127.0.0.1:$HTTP/metrics" >"$TMP/metrics" &&
    grep -q '^shared_lib_hits_total{route="a"} 3$' "$TMP/metrics"; do
    i=$((i + 1))
    [ $i -gt 100 ] && fail "the StatsD line never showed on /metrics"
    "$PY" -c 'import socket,sys; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(open(sys.argv[1],"rb").read(), ("127.0.0.1", int(sys.argv[2])))' \
        "$TMP/line" "$UDP" 2>/dev/null || fail "cannot send the StatsD line"
    sleep 0.1
done
grep -q 'agent_id="coder"' "$TMP/metrics" || fail "the event's task is not on /metrics"
if command -v promtool >/dev/null 2>&1; then
    promtool check metrics <"$TMP/metrics" >"$TMP/promtool" 2>&1 ||
        fail "promtool check metrics: $(head -5 "$TMP/promtool")"
fi
kill -TERM "$PID"
wait "$PID" || fail "serve exit status $? after SIGTERM"
PID=
echo "shared_program: ok: serve on free ports: an HTTP event, a StatsD line, /metrics"

if command -v prometheus >/dev/null 2>&1 && [ -x "$PY" ]; then
    mkdir "$TMP/full"
    "$PY" tests/integration/check_serve.py "$SHARED" "sqlite:$TMP/full/agentmon.db" "$TMP/full" ||
        { tail -30 "$TMP/full/serve.out"; fail "check_serve.py on the shared program"; }
else
    echo "shared_program: SKIP check_serve.py: prometheus or $PY missing"
fi
echo "shared_program: PASS"
