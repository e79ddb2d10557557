#!/bin/sh
# coord_conservation.sh: no message is lost or acked twice by the Redis
# coordinator while its processes -- and Redis itself -- crash.
#
#   sh tests/integration/coord_conservation.sh [BUILDDIR]     (from the repo root)
#
# On one redis-server (127.0.0.1, a free port, AOF with appendfsync always,
# so a write Redis acknowledged survives its death), under a key prefix
# unique to this run:
#   - 3 producers send 500 messages each to work:1 and work:2, random
#     priorities, logging every id they got AM_OK for (and those whose reply
#     was lost);
#   - 4 consumers (2 per agent) ack 70%, nack transiently 15% (retried,
#     dead-lettered after 3 attempts) and permanently 15%, logging each
#     outcome;
#   - 2 holders reserve 5 messages each and are killed with kill -9 while
#     holding them (their reservations expire after 2 s and come back);
#   - redis-server is killed with kill -9 mid-run and restarted on the same
#     port and directory a second later.
# When the producers are done the consumers drain both queues and leave;
# then `coord_worker lens` compares every length the scripts keep in
# <prefix>:agents (queues, delayed, in flight, DLQ, each head's time, the
# next timer) with LLEN/ZCARD of the real keys, and checks that no audit
# had to repair one (the consumers' snapshots audit them every second, so
# a drift repaired in passing would hide a bug); `coord_worker check`
# (tests/integration/coord_worker.c) recovers, drains and lists the DLQs,
# and checks that every message sent is in exactly one place (acked,
# dead-lettered or still queued), none was acked twice, and the
# snapshot's totals agree with the logs; and `lens` once more after that.
#
# Skips (exit 0, saying so) when redis-server is not installed. About 20 s.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${1:-build}
case $B in
/*) ;;
*) B=$ROOT/$B ;;
esac
W=$B/tests/coord_worker

say() { printf 'coord_conservation: %s\n' "$*"; }

REDIS=$(command -v redis-server || true)
if [ -z "$REDIS" ]; then
    say "SKIP: redis-server is not installed (apt-get install redis-server)"
    exit 0
fi
if [ -f "$B/CMakeCache.txt" ]; then
    log=${TMPDIR:-/tmp}/am-cons-build.$$
    if ! cmake --build "$B" --target coord_worker >"$log" 2>&1; then
        tail -30 "$log"
        rm -f "$log"
        say "FAIL: building coord_worker in $B failed"
        exit 1
    fi
    rm -f "$log"
fi
if [ ! -x "$W" ]; then
    say "FAIL: $W is missing; build first (cmake -S . -B build && cmake --build build)"
    exit 1
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/am-cons.XXXXXX") || exit 1
mkdir "$TMP/data" "$TMP/logs"
PIDS=""
cleanup() {
    for p in $PIDS; do
        kill -9 "$p" 2>/dev/null
    done
    if [ -f "$TMP/redis.pid" ]; then
        kill -9 "$(cat "$TMP/redis.pid")" 2>/dev/null
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
    say "FAIL: $1"
    [ -f "$TMP/redis.log" ] && tail -5 "$TMP/redis.log" | sed 's/^/    redis: /'
    exit 1
}

PORT=$("$W" port) || fail "no free port"
URI="redis://127.0.0.1:$PORT/0?prefix=cons$$x$(date +%s)"

start_redis() {
    "$REDIS" --port "$PORT" --bind 127.0.0.1 --save '' --appendonly yes \
        --appendfsync always --dir "$TMP/data" --daemonize yes \
        --pidfile "$TMP/redis.pid" --logfile "$TMP/redis.log" ||
        fail "cannot start redis-server"
    "$W" ping "$PORT" 10 || fail "redis-server does not answer on port $PORT"
}

start_redis
say "redis-server on 127.0.0.1:$PORT, $URI"

i=1
for a in work:1 work:1 work:2 work:2; do
    "$W" consume "$URI" "$a" "$i" "$TMP/logs/consume$i.log" "$TMP/stop" &
    CONSUMERS="${CONSUMERS:-} $!"
    PIDS="$PIDS $!"
    i=$((i + 1))
done
"$W" hold "$URI" work:1 5 "$TMP/logs/hold1.log" &
H1=$!
"$W" hold "$URI" work:2 5 "$TMP/logs/hold2.log" &
H2=$!
PIDS="$PIDS $H1 $H2"
PRODUCERS=""
for p in 1 2 3; do
    "$W" produce "$URI" "p$p" 500 "$TMP/logs/produce$p.log" &
    PRODUCERS="$PRODUCERS $!"
    PIDS="$PIDS $!"
done

# The holders are killed once each holds its 5 reservations.
n=0
while [ $n -lt 200 ]; do
    if grep -q holding "$TMP/logs/hold1.log" 2>/dev/null &&
        grep -q holding "$TMP/logs/hold2.log" 2>/dev/null; then
        break
    fi
    sleep 0.05
    n=$((n + 1))
done
kill -9 $H1 $H2 2>/dev/null
wait $H1 $H2 2>/dev/null
say "killed both holders (kill -9) holding $(grep -c held "$TMP/logs/hold1.log" "$TMP/logs/hold2.log" | sed 's/.*://' | tr '\n' ' ')reservations"

sleep 1
kill -9 "$(cat "$TMP/redis.pid")"
say "killed redis-server (kill -9)"
sleep 1
start_redis
say "restarted redis-server from its AOF"

for p in $PRODUCERS; do
    wait "$p" || fail "a producer failed"
done
touch "$TMP/stop"
n=0
for p in $CONSUMERS; do
    while kill -0 "$p" 2>/dev/null && [ $n -lt 600 ]; do
        sleep 0.05
        n=$((n + 1))
    done
    kill -0 "$p" 2>/dev/null && fail "consumers did not drain the queues within 30 s"
    wait "$p" || fail "a consumer failed"
done

"$W" lens "$URI" || fail "a kept length disagrees with its keys (above)"
if ! "$W" check "$URI" "$TMP/logs"; then
    fail "conservation violated (above)"
fi
"$W" lens "$URI" || fail "after recover and drain, a kept length disagrees with its keys (above)"
say "ok"
