#!/bin/sh
# pushgateway.sh: am_push() against a real prometheus-pushgateway.
#
#   sh tests/integration/pushgateway.sh [BUILDDIR]      (from the repo root)
#
# Starts prometheus-pushgateway on 127.0.0.1 and a free port, in memory only
# (no persistence file), then drives tests/integration/push_agent.c:
#   1. PUT a registry (counter with labels, gauge, histogram) to job
#      "agentmon-push-test" grouped by instance="worker-1", path="a/b"
#      (base64 in the URL), region="été" (percent-encoded) and shard=""
#      (base64 "="): the gateway's /metrics must show exactly those samples
#      with those labels, and a push_time_seconds for the group;
#   2. POST an update (one gauge family, one new counter): the posted
#      families are replaced or added, the others are untouched;
#   3. PUT a registry of one family: the group holds only that family;
#   4. DELETE: the group is gone;
#   5. a push the gateway refuses (a gauge whose name a counter of another
#      group already has): am_push() returns AM_EPROTO with status 400 and
#      "pushgateway answered 400: <the gateway's explanation>", and the
#      refused group does not appear.
# Stops the gateway on exit, whatever happens. Only loopback is contacted.
#
# Skips (exit 0, saying so) when prometheus-pushgateway or curl is missing;
# scripts/deps.sh installs both.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/integration/lib.inc"
B=${1:-build}
case $B in
/*) ;;
*) B=$ROOT/$B ;;
esac
AGENT=$B/tests/push_agent
JOB=agentmon-push-test

say() { printf 'pushgateway: %s\n' "$*"; }
fail() {
    say "FAIL: $*"
    exit 1
}

if ! command -v prometheus-pushgateway >/dev/null 2>&1; then
    say "SKIP: prometheus-pushgateway is not installed (apt-get install prometheus-pushgateway)"
    exit 0
fi
if ! command -v curl >/dev/null 2>&1; then
    say "SKIP: curl is not installed (apt-get install curl)"
    exit 0
fi

# Loopback only: no proxy may see these requests (libcurl and curl(1) both
# read these variables).
unset http_proxy HTTP_PROXY https_proxy HTTPS_PROXY all_proxy ALL_PROXY

if [ -f "$B/CMakeCache.txt" ]; then
    log=${TMPDIR:-/tmp}/am-push-build.$$
    if ! cmake --build "$B" --target push_agent >"$log" 2>&1; then
        tail -30 "$log"
        rm -f "$log"
        fail "could not build push_agent in $B"
    fi
    rm -f "$log"
fi
[ -x "$AGENT" ] || fail "$AGENT is missing (build $B first)"

D=$(mktemp -d "${TMPDIR:-/tmp}/am-push.XXXXXX")
GW_PID=""
cleanup() {
    if [ -n "$GW_PID" ]; then
        kill_child "$GW_PID"
        wait "$GW_PID" 2>/dev/null
    fi
    rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# Start the gateway on a free port; try another port if it loses a race for
# this one. Its routes live under a prefix of our own, so that we can never
# mistake another gateway that won the port (another run of this script, say)
# for ours: that one answers 404 at our prefix. The prefix also exercises a
# gateway URL with a path.
PREFIX=/am-push-$$-$(basename "$D" | tr -cd 'A-Za-z0-9')
PORT=""
for attempt in 1 2 3 4 5; do
    p=$("$AGENT" freeport) || fail "push_agent freeport failed"
    # --persistence.file= : memory only. Debian's build defaults to
    # /var/lib/prometheus/pushgateway.data, which would leak groups from one
    # run into the next (and into the machine's gateway).
    prometheus-pushgateway --web.listen-address="127.0.0.1:$p" --web.route-prefix="$PREFIX" \
        --persistence.file= >"$D/gateway.log" 2>&1 &
    GW_PID=$!
    i=0
    while [ $i -lt 100 ]; do
        if ! kill -0 "$GW_PID" 2>/dev/null; then
            wait "$GW_PID" 2>/dev/null
            GW_PID=""
            break
        fi
        if curl -sf --noproxy '*' -o /dev/null "http://127.0.0.1:$p$PREFIX/-/ready"; then
            PORT=$p
            break
        fi
        sleep 0.1
        i=$((i + 1))
    done
    [ -n "$PORT" ] && break
    if [ -n "$GW_PID" ]; then
        kill "$GW_PID" 2>/dev/null
        wait "$GW_PID" 2>/dev/null
        GW_PID=""
    fi
    say "gateway did not come up on port $p (attempt $attempt):"
    tail -5 "$D/gateway.log"
done
[ -n "$PORT" ] || fail "could not start prometheus-pushgateway"
URL="http://127.0.0.1:$PORT$PREFIX"
say "gateway up at $URL ($(prometheus-pushgateway --version 2>&1 | head -1))"

# The group's samples as the gateway shows them, sorted; push_time_seconds
# and push_failure_time_seconds are the gateway's own and checked apart.
group_samples() {
    curl -sf --noproxy '*' "$URL/metrics" >"$D/metrics" || fail "GET $URL/metrics failed"
    grep "job=\"$JOB\"" "$D/metrics" | grep 'instance="worker-1"' |
        grep -v '^push_time_seconds' | grep -v '^push_failure_time_seconds' | LC_ALL=C sort
}

# expect NAME: compare the group with $D/NAME.want (one sample a line).
expect() {
    LC_ALL=C sort "$D/$1.want" >"$D/$1.sorted"
    group_samples >"$D/$1.got"
    if ! cmp -s "$D/$1.sorted" "$D/$1.got"; then
        say "after $1, the gateway's /metrics differs from what was pushed (- want, + got):"
        diff -u "$D/$1.sorted" "$D/$1.got" | tail -n +3
        fail "$1"
    fi
    say "ok: $1 ($(wc -l <"$D/$1.got" | tr -d ' ') samples as pushed)"
}

# run MODE: run push_agent, which must succeed.
run() {
    out=$("$AGENT" "$URL" "$1") || fail "push_agent $1: $out"
}

G='instance="worker-1",job="agentmon-push-test",path="a/b"'
T='region="été",shard=""'

# 1. PUT
run put
cat >"$D/put.want" <<EOF
agent_queue_depth{$G,priority="high",$T} 7.5
agent_queue_depth{$G,priority="low",$T} 0
agent_task_seconds_bucket{$G,$T,le="0.1"} 1
agent_task_seconds_bucket{$G,$T,le="1"} 2
agent_task_seconds_bucket{$G,$T,le="+Inf"} 3
agent_task_seconds_sum{$G,$T} 2.5625
agent_task_seconds_count{$G,$T} 3
agent_tasks_total{agent="coder",$G,$T} 5
agent_tasks_total{agent="planner",$G,$T} 3
EOF
expect put
grep -q "^push_time_seconds{$G,$T} " "$D/metrics" || fail "put: no push_time_seconds for the group"

# 2. POST
run post
cat >"$D/post.want" <<EOF
agent_queue_depth{$G,priority="high",$T} 2
agent_retries_total{$G,$T} 1
agent_task_seconds_bucket{$G,$T,le="0.1"} 1
agent_task_seconds_bucket{$G,$T,le="1"} 2
agent_task_seconds_bucket{$G,$T,le="+Inf"} 3
agent_task_seconds_sum{$G,$T} 2.5625
agent_task_seconds_count{$G,$T} 3
agent_tasks_total{agent="coder",$G,$T} 5
agent_tasks_total{agent="planner",$G,$T} 3
EOF
expect post

# 3. PUT replaces the whole group
run replace
cat >"$D/replace.want" <<EOF
agent_retries_total{$G,$T} 4
EOF
expect replace

# 4. DELETE (the gateway answers 202 and applies it afterwards: wait 5 s)
run delete
: >"$D/delete.want"
i=0
while [ $i -lt 50 ] && [ -n "$(group_samples)" ]; do
    sleep 0.1
    i=$((i + 1))
done
expect delete
if grep -q "job=\"$JOB\"" "$D/metrics"; then
    grep "job=\"$JOB\"" "$D/metrics"
    fail "delete: the group is still there"
fi

# 5. A push the gateway refuses: its status and body reach am_errmsg().
out=$("$AGENT" "$URL" clash)
rc=$?
printf '%s\n' "$out" | sed 's/^/  /'
[ $rc -eq 0 ] || fail "clash: expected AM_EPROTO with status 400"
last=$(printf '%s\n' "$out" | tail -1)
case $last in
*"status=400 rc=AM_EPROTO msg=pushgateway answered 400: pushed metrics are invalid or inconsistent with existing metrics"*) ;;
*) fail "clash: unexpected result: $last" ;;
esac
case $last in
*agent_clash_total*) ;;
*) fail "clash: the gateway's body (naming agent_clash_total) is not in the message: $last" ;;
esac
curl -sf --noproxy '*' "$URL/metrics" >"$D/metrics" || fail "GET $URL/metrics failed"
grep -q 'agent_clash_total{instance="clash-a"' "$D/metrics" || fail "clash: the first group is gone"
if grep -q '^agent_clash_total{instance="clash-b"' "$D/metrics"; then
    fail "clash: the refused push shows up"
fi
say "ok: clash (refused with 400, the gateway's reason in am_errmsg())"

say "all pushgateway checks passed"
