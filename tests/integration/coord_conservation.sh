#!/bin/sh
# coord_conservation.sh: no message is lost or acked twice by the Redis
# coordinator while its processes -- and Redis itself -- crash, on one
# redis-server and on a Redis Cluster.
#
#   sh tests/integration/coord_conservation.sh [BUILDDIR] [standalone|cluster]
#                                                    (from the repo root; both by default)
#
# Each scenario, under a key prefix unique to this run:
#   - 3 producers send 500 messages each to work:1 and work:2, random
#     priorities, logging every id they got AM_OK for (and those whose reply
#     was lost);
#   - 4 consumers (2 per agent) ack 70%, nack transiently 15% (retried,
#     dead-lettered after 3 attempts) and permanently 15%, logging each
#     outcome;
#   - 2 holders reserve 5 messages each and are killed with kill -9 while
#     holding them (their reservations expire after 2 s and come back);
#   - standalone: one redis-server (127.0.0.1, a free port, AOF with
#     appendfsync always, so a write Redis acknowledged survives its death)
#     is killed with kill -9 mid-run and restarted on the same port and
#     directory a second later;
#   - cluster: six redis-servers made a cluster of three masters with a
#     replica each (redis-cli --cluster create); the master that serves
#     work:1's keys is killed with kill -9 mid-run, its replica is promoted
#     by the cluster (the coordinator, which had every send, ack and nack
#     confirmed by that replica before it answered, finds it), and the
#     killed node is started again, to come back as the new master's
#     replica.
# When the producers are done the consumers drain both queues and leave;
# then `coord_worker lens` compares every length the scripts keep (queues,
# delayed, in flight, DLQ, each head's time, the next timer) with
# LLEN/ZCARD of the real keys -- on a cluster on the master of each bucket
# -- and checks that no audit had to repair one (the consumers' snapshots
# audit them every second, so a drift repaired in passing would hide a
# bug); `coord_worker check` (tests/integration/coord_worker.c) recovers,
# drains and lists the DLQs, and checks that every message sent is in
# exactly one place (acked, dead-lettered or still queued), none was acked
# twice, and the snapshot's totals agree with the logs; and `lens` once
# more after that.
#
# Skips (exit 0, saying so) when redis-server is not installed (the cluster
# also needs redis-cli). About 20 s a scenario.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/integration/lib.inc"
B=${1:-build}
case $B in
/*) ;;
*) B=$ROOT/$B ;;
esac
SCENARIOS=${2:-standalone cluster}
W=$B/tests/coord_worker

say() { printf 'coord_conservation: %s\n' "$*"; }

REDIS=$(command -v redis-server || true)
CLI=$(command -v redis-cli || true)
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
PIDS=""
SERVERS="" # the directories of every redis-server started (--dir, and its pid file)
cleanup() {
    kill_child -KILL $PIDS
    gone=""
    for d in $SERVERS; do
        kill_pidfile -KILL "$d/redis.pid" "$d" && gone="$gone $(cat "$d/redis.pid" 2>/dev/null)"
    done
    # a killed server (or its AOF-rewrite child) may still be writing into
    # TMP for a moment: wait for it, then remove, once more if it raced
    for p in $gone; do
        n=0
        while kill -0 "$p" 2>/dev/null && [ $n -lt 50 ]; do
            sleep 0.1
            n=$((n + 1))
        done
    done
    rm -rf "$TMP" 2>/dev/null || { sleep 1; rm -rf "$TMP"; }
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
    say "FAIL: $1"
    for f in "$TMP"/*/redis.log "$TMP"/*/*/log; do
        [ -f "$f" ] && tail -3 "$f" | sed "s|^|    $(basename "$(dirname "$f")"): |"
    done
    exit 1
}

# ---------------------------------------------------------------- standalone

start_standalone() {
    "$REDIS" --port "$PORT" --bind 127.0.0.1 --save '' --appendonly yes \
        --appendfsync always --dir "$D/data" --daemonize yes \
        --pidfile "$D/data/redis.pid" --logfile "$D/redis.log" ||
        fail "cannot start redis-server"
    "$W" ping "$PORT" 10 || fail "redis-server does not answer on port $PORT"
}

setup_standalone() {
    mkdir -p "$D/data"
    PORT=$("$W" port) || fail "no free port"
    SERVERS="$SERVERS $D/data"
    URI="redis://127.0.0.1:$PORT/0?prefix=cons$$x$(date +%s)"
    start_standalone
    say "standalone: redis-server on 127.0.0.1:$PORT, $URI"
}

crash_standalone() {
    kill -9 "$(cat "$D/data/redis.pid")"
    say "standalone: killed redis-server (kill -9)"
    sleep 1
    start_standalone
    say "standalone: restarted redis-server from its AOF"
}

# ---------------------------------------------------------------- cluster

# Start cluster node $1 (its directory and ports are $D/$1).
start_node() {
    n=$1
    "$REDIS" --port "$(cat "$D/$n/port")" --bind 127.0.0.1 --cluster-enabled yes \
        --cluster-port "$(cat "$D/$n/bus")" --cluster-config-file nodes.conf \
        --cluster-node-timeout 2000 --repl-diskless-sync-delay 0 --dir "$D/$n" --save '' \
        --appendonly no --daemonize yes --pidfile "$D/$n/redis.pid" --logfile "$D/$n/log" ||
        fail "cannot start cluster node $n"
    "$W" ping "$(cat "$D/$n/port")" 10 || fail "cluster node $n does not answer"
}

# Every running node: cluster_state:ok, 3 replicas, every replica's link up
# (/work/shared/RECIPES.md: before that a master killed may never be replaced).
cluster_ready() {
    for n in 0 1 2 3 4 5; do
        [ -f "$D/$n/down" ] && continue
        p=$(cat "$D/$n/port")
        "$CLI" -p "$p" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || return 1
        [ "$("$CLI" -p "$p" cluster nodes 2>/dev/null | grep -v fail | grep -c slave)" = 3 ] ||
            return 1
        "$CLI" -p "$p" info replication 2>/dev/null |
            grep -qE '^(role:master|master_link_status:up)' || return 1
    done
}

wait_ready() {
    n=0
    until cluster_ready; do
        n=$((n + 1))
        [ $n -gt 600 ] && fail "the cluster is not ready after 30 s"
        sleep 0.05
    done
}

setup_cluster() {
    [ -n "$CLI" ] || { say "SKIP cluster: redis-cli is not installed"; return 1; }
    nodes=""
    for n in 0 1 2 3 4 5; do
        mkdir -p "$D/$n"
        "$W" port >"$D/$n/port" || fail "no free port"
        "$W" port >"$D/$n/bus" || fail "no free port"
        SERVERS="$SERVERS $D/$n"
        start_node $n
        nodes="$nodes 127.0.0.1:$(cat "$D/$n/port")"
    done
    # shellcheck disable=SC2086
    "$CLI" --cluster create $nodes --cluster-replicas 1 --cluster-yes >"$D/create.log" 2>&1 ||
        fail "redis-cli --cluster create failed: $(tail -3 "$D/create.log")"
    wait_ready
    URI="redis+cluster://127.0.0.1:$(cat "$D/0/port"),127.0.0.1:$(cat "$D/1/port")?prefix=cons$$x$(date +%s)"
    say "cluster: 3 masters + 3 replicas on 127.0.0.1, $URI"
}

crash_cluster() {
    mport=$("$W" master "$URI" work:1) || fail "no master serves work:1"
    m=""
    for n in 0 1 2 3 4 5; do
        [ "$(cat "$D/$n/port")" = "$mport" ] && m=$n
    done
    replica=""
    for n in 0 1 2 3 4 5; do
        "$CLI" -p "$(cat "$D/$n/port")" info replication 2>/dev/null |
            grep -q "^master_port:$mport" && replica=$n
    done
    [ -n "$m" ] && [ -n "$replica" ] || fail "cannot tell work:1's master and its replica"
    kill -9 "$(cat "$D/$m/redis.pid")"
    touch "$D/$m/down"
    say "cluster: killed work:1's master, node $m on port $mport (kill -9)"
    n=0
    until "$CLI" -p "$(cat "$D/$replica/port")" role 2>/dev/null | head -1 | grep -qx master; do
        n=$((n + 1))
        [ $n -gt 600 ] && fail "node $replica was not promoted within 30 s"
        sleep 0.05
    done
    say "cluster: its replica, node $replica, is the master now"
    rm -f "$D/$m/down"
    start_node "$m"
    wait_ready
    say "cluster: node $m is back, as node $replica's replica"
}

# ---------------------------------------------------------------- a run

run() {
    kind=$1
    D=$TMP/$kind
    mkdir -p "$D/logs"
    PIDS=""
    "setup_$kind" || return 0
    CONSUMERS=""
    i=1
    for a in work:1 work:1 work:2 work:2; do
        "$W" consume "$URI" "$a" "$i" "$D/logs/consume$i.log" "$D/stop" &
        CONSUMERS="$CONSUMERS $!"
        PIDS="$PIDS $!"
        i=$((i + 1))
    done
    "$W" hold "$URI" work:1 5 "$D/logs/hold1.log" &
    H1=$!
    "$W" hold "$URI" work:2 5 "$D/logs/hold2.log" &
    H2=$!
    PIDS="$PIDS $H1 $H2"
    PRODUCERS=""
    for p in 1 2 3; do
        "$W" produce "$URI" "p$p" 500 "$D/logs/produce$p.log" &
        PRODUCERS="$PRODUCERS $!"
        PIDS="$PIDS $!"
    done

    # The holders are killed once each holds its 5 reservations.
    n=0
    while [ $n -lt 200 ]; do
        if grep -q holding "$D/logs/hold1.log" 2>/dev/null &&
            grep -q holding "$D/logs/hold2.log" 2>/dev/null; then
            break
        fi
        sleep 0.05
        n=$((n + 1))
    done
    kill -9 $H1 $H2 2>/dev/null
    wait $H1 $H2 2>/dev/null
    say "$kind: killed both holders (kill -9) holding $(grep -c held "$D/logs/hold1.log" "$D/logs/hold2.log" | sed 's/.*://' | tr '\n' ' ')reservations"

    sleep 1
    "crash_$kind"

    for p in $PRODUCERS; do
        wait "$p" || fail "$kind: a producer failed"
    done
    touch "$D/stop"
    n=0
    for p in $CONSUMERS; do
        while kill -0 "$p" 2>/dev/null && [ $n -lt 600 ]; do
            sleep 0.05
            n=$((n + 1))
        done
        kill -0 "$p" 2>/dev/null && fail "$kind: consumers did not drain the queues within 30 s"
        wait "$p" || fail "$kind: a consumer failed"
    done

    "$W" lens "$URI" || fail "$kind: a kept length disagrees with its keys (above)"
    if ! "$W" check "$URI" "$D/logs"; then
        fail "$kind: conservation violated (above)"
    fi
    "$W" lens "$URI" ||
        fail "$kind: after recover and drain, a kept length disagrees with its keys (above)"
    for d in $SERVERS; do
        kill_pidfile "$d/redis.pid" "$d"
    done
    SERVERS=""
    say "$kind: ok"
}

for s in $SCENARIOS; do
    case $s in
    standalone | cluster) run "$s" ;;
    *) fail "unknown scenario $s (standalone or cluster)" ;;
    esac
done
say "ok"
