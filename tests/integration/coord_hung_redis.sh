#!/bin/sh
# coord_hung_redis.sh: a hung Redis never makes an agent unobservable.
#
#   sh tests/integration/coord_hung_redis.sh [BUILDDIR]     (from the repo root)
#
# An agent (tests/integration/coord_agent.c: a Redis coordinator and
# am_http serving its registry) runs against a redis-server on a free
# loopback port. Then redis-server is stopped with SIGSTOP -- it keeps its
# connections open and answers nothing, as a Redis stuck in a long script,
# swapped out or behind a dead network does -- and, while it is stopped:
#   - /metrics answers within 1 s, every time (curl --max-time 1), with
#     the coordinator's gauges from its last snapshot, and
#     agentmon_coord_snapshot_age_seconds and
#     agentmon_coord_snapshot_refresh_failures_total say the snapshot is
#     growing old and why;
#   - SIGTERM stops the agent within 10 s (am_coord_close() is bounded:
#     its last counter flush has a 1 s deadline).
# Then redis-server continues (SIGCONT) and is stopped.
# Before the fix /metrics read Redis during the scrape (10 s per read):
# the first scrape timed out. Skips (exit 0) without redis-server or curl.
set -u
B=${1:-build}
. "$(dirname "$0")/lib.inc"
say() { printf 'coord_hung_redis: %s\n' "$*"; }
command -v redis-server >/dev/null 2>&1 || { say "SKIP: redis-server not installed"; exit 0; }
command -v curl >/dev/null 2>&1 || { say "SKIP: curl not installed"; exit 0; }
if [ -f "$B/CMakeCache.txt" ]; then
    cmake --build "$B" --target coord_agent coord_worker >/dev/null || { say "FAIL: build"; exit 1; }
fi
A=$B/tests/coord_agent
[ -x "$A" ] || { say "FAIL: $A is missing"; exit 1; }

TMP=$(mktemp -d)
RPID=""
APID=""
cleanup() {
    kill_child -CONT $RPID
    kill_child -KILL $RPID $APID
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
fail() {
    say "FAIL: $*"
    exit 1
}

RP=$("$B/tests/coord_worker" port) || fail "no free port"
redis-server --port "$RP" --bind 127.0.0.1 --save "" --appendonly no --dir "$TMP" \
    >"$TMP/redis.log" 2>&1 &
RPID=$!
"$B/tests/coord_worker" ping "$RP" 10 || fail "redis-server does not answer"

"$A" "redis://127.0.0.1:$RP/0?prefix=hung" >"$TMP/agent.out" 2>"$TMP/agent.err" &
APID=$!
i=0
until grep -q '^port ' "$TMP/agent.out" 2>/dev/null; do
    i=$((i + 1))
    [ $i -gt 100 ] && { cat "$TMP/agent.err"; fail "the agent did not start"; }
    sleep 0.1
done
URL="http://127.0.0.1:$(sed -n 's/^port //p' "$TMP/agent.out")/metrics"

# Healthy: the gauges appear (the first scrape wakes the refresher).
i=0
until curl -fsS --max-time 2 "$URL" 2>/dev/null | grep -q '^messaging_queue_length{agent="worker:1",priority="9"} 1$'; do
    i=$((i + 1))
    [ $i -gt 50 ] && fail "no messaging_queue_length for worker:1 on $URL"
    sleep 0.1
done

kill -STOP "$RPID"
say "redis-server stopped (SIGSTOP); scraping"
for n in 1 2 3 4 5 6; do
    curl -fsS --max-time 1 "$URL" >"$TMP/m$n" 2>"$TMP/curl.err" ||
        fail "scrape $n while Redis hangs: no answer within 1 s ($(cat "$TMP/curl.err"))"
    grep -q '^messaging_queue_length{agent="worker:1",priority="9"} 1$' "$TMP/m$n" ||
        fail "scrape $n lost the coordinator's gauges"
    sleep 0.5
done
age=$(sed -n 's/^agentmon_coord_snapshot_age_seconds //p' "$TMP/m6")
fails=$(sed -n 's/^agentmon_coord_snapshot_refresh_failures_total //p' "$TMP/m6")
awk -v a="${age:-0}" 'BEGIN { exit !(a >= 2) }' ||
    fail "agentmon_coord_snapshot_age_seconds is ${age:-missing} after 3 s of a hung Redis"
awk -v f="${fails:-0}" 'BEGIN { exit !(f >= 1) }' ||
    fail "agentmon_coord_snapshot_refresh_failures_total is ${fails:-missing}"
say "6 scrapes answered; snapshot age ${age}s, ${fails} refresh(es) failed"

kill -TERM "$APID"
i=0
while kill -0 "$APID" 2>/dev/null; do
    i=$((i + 1))
    [ $i -gt 100 ] && fail "the agent did not stop within 10 s of SIGTERM while Redis hangs"
    sleep 0.1
done
wait "$APID" || fail "the agent exited with an error"
APID=""
say "agent stopped: $(grep closed "$TMP/agent.out")"
grep -q "could not be added" "$TMP/agent.out" ||
    fail "the agent did not log that its last counts could not be flushed"
kill -CONT "$RPID"
kill "$RPID"
wait "$RPID" 2>/dev/null
RPID=""
say "PASS"
