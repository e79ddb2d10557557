#!/bin/sh
# store_hung_pg.sh: `agentmon serve` on a PostgreSQL that stops answering
# (issue 10 item 5): its processes are stopped with SIGSTOP, so the kernel
# keeps the connections up and only a client-side deadline can tell. While
# it hangs: /health and /metrics answer within 1 s, every time; a query
# answers 503 within its deadline instead of hanging; an ingest is
# refused, never acknowledged; SIGTERM stops the collector within its
# bound, saying what it could not commit. Loopback only.
#
#   sh tests/integration/store_hung_pg.sh [BUILDDIR]      (from the repo root)
set -u
BUILD=${1:-build}
. "$(dirname "$0")/lib.inc"
command -v curl >/dev/null 2>&1 || { echo "store_hung_pg: SKIP: curl missing"; exit 0; }
if [ -f "$BUILD/CMakeCache.txt" ]; then
    cmake --build "$BUILD" --target agentmon >/dev/null || { echo "store_hung_pg: FAIL: build"; exit 1; }
fi
AGENTMON=$(cd "$BUILD" && pwd)/agentmon
TMP=$(mktemp -d "${TMPDIR:-/tmp}/am-hungpg.XXXXXX") || exit 1
PID=
PGPIDS=
cleanup() {
    [ -n "$PGPIDS" ] && kill -CONT $PGPIDS 2>/dev/null
    kill_child -KILL $PID
    [ -z "$PID" ] || wait "$PID" 2>/dev/null
    sh tests/pg_cluster.sh stop "$TMP/pg" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
fail() { echo "store_hung_pg: FAIL: $*"; tail -5 "$TMP/out"; exit 1; }

URI=$(sh tests/pg_cluster.sh start "$TMP/pg")
rc=$?
[ $rc -eq 77 ] && { echo "store_hung_pg: SKIP: no PostgreSQL"; exit 0; }
[ $rc -eq 0 ] || fail "PostgreSQL did not start"

"$AGENTMON" serve --listen 127.0.0.1:0 --statsd off --system-interval 0 --store "$URI" \
    >"$TMP/out" 2>&1 &
PID=$!
i=0
until PORT=$(grep -o 'HTTP on 127.0.0.1:[0-9]*' "$TMP/out" | cut -d: -f2) && [ -n "$PORT" ]; do
    i=$((i + 1)); [ $i -gt 100 ] && fail "no start"; sleep 0.1
done
U=http://127.0.0.1:$PORT
EV='{"event":"task","agent_id":"a","status":"success","duration":1}'
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d "$EV" "$U/api/v1/events")
[ "$code" = 200 ] || fail "the first event got $code"

# every process of the cluster stops: connections stay up, nothing answers
PM=$(head -1 "$TMP/pg/data/postmaster.pid")
PGPIDS="$PM $(pgrep -P "$PM" | tr '\n' ' ')"
# shellcheck disable=SC2086
kill -STOP $PGPIDS

# an ingest and a query in the background, hanging on the database
curl -s -o "$TMP/ingest" -w '%{http_code}' --max-time 60 -X POST -d "$EV" "$U/api/v1/events" \
    >"$TMP/ingest_code" &
INGEST=$!
start=$(date +%s.%N)
curl -s -o "$TMP/query" -w '%{http_code}' --max-time 60 "$U/api/v1/metrics/task?limit=5" \
    >"$TMP/query_code" &
QUERY=$!

# meanwhile the collector answers what needs no database, every time
for n in 1 2 3 4 5 6 7 8; do
    for p in /health /metrics; do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$U$p")
        [ "$code" = 200 ] || fail "$p did not answer within 1 s while the database hung ($code)"
    done
    sleep 0.5
done

wait $QUERY
took=$(echo "$(date +%s.%N) - $start" | bc)
[ "$(cat "$TMP/query_code")" = 503 ] || fail "the query got $(cat "$TMP/query_code") ($(cat "$TMP/query"))"
grep -qE 'no answer within|timeout expired' "$TMP/query" || fail "the query's 503 does not say why: $(cat "$TMP/query")"
echo "store_hung_pg: the query gave up after ${took}s"

# SIGTERM while hung: the collector stops within its bound
t0=$(date +%s)
kill -TERM "$PID"
i=0
while kill -0 "$PID" 2>/dev/null; do
    i=$((i + 1)); [ $i -gt 300 ] && fail "serve did not stop within 30 s of SIGTERM"; sleep 0.1
done
wait "$PID"
PID=
echo "store_hung_pg: stopped $(( $(date +%s) - t0 )) s after SIGTERM"
wait $INGEST
[ "$(cat "$TMP/ingest_code")" = 503 ] || fail "the ingest got $(cat "$TMP/ingest_code"), not 503"
# shellcheck disable=SC2086
kill -CONT $PGPIDS
PGPIDS=
echo "store_hung_pg: ok"
