#!/bin/sh
# coord_cli.sh: `agentmon demo` on a real Redis coordinator, then the
# coordinator's command line on what it left behind.
#
#   sh tests/integration/coord_cli.sh [BUILDDIR]      (from the repo root)
#
# A redis-server on a free loopback port; `agentmon demo --coordinator
# redis://...` runs 15 s at 5x simulated speed, so some messages die; then,
# on the same prefix, from new processes:
#   agentmon snapshot         the totals of the demo (it flushed them at exit)
#   agentmon dlq list         as many entries as the snapshot's DLQ length
#   agentmon dlq replay --id  one entry back to its queue
#   agentmon dlq purge        the rest gone; list is empty, the queue has one
# and bad usage: exit 2 with a message, a bad URI or a dead server exit 1.
# Skips (exit 0, saying so) when redis-server or Debian's python3 is missing.
set -u
BUILD=${1:-build}
PY=/usr/bin/python3
AGENTMON=$BUILD/agentmon
say() { printf 'coord_cli: %s\n' "$*"; }
command -v redis-server >/dev/null 2>&1 || { say "SKIP: redis-server not installed"; exit 0; }
[ -x "$PY" ] || { say "SKIP: $PY missing"; exit 0; }
if [ -f "$BUILD/CMakeCache.txt" ]; then
    cmake --build "$BUILD" --target agentmon >/dev/null || { say "FAIL: build"; exit 1; }
fi

TMP=$(mktemp -d)
RPID=""
cleanup() {
    [ -n "$RPID" ] && kill "$RPID" 2>/dev/null && wait "$RPID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
fail() { say "FAIL: $*"; exit 1; }

RP=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$RP" --bind 127.0.0.1 --save "" --appendonly no --dir "$TMP" \
    >"$TMP/redis.log" 2>&1 &
RPID=$!
i=0
until redis-cli -p "$RP" ping >/dev/null 2>&1; do
    i=$((i + 1))
    [ $i -gt 50 ] && fail "redis-server did not start"
    sleep 0.1
done
URI="redis://127.0.0.1:$RP/0?prefix=clitest"

"$AGENTMON" demo --coordinator "$URI" --listen 127.0.0.1:0 --quiet --duration 15 \
    --time-scale 0.2 --rate 60 --seed 3 --log "$TMP/demo.log" >"$TMP/demo.out" 2>&1 ||
    { cat "$TMP/demo.out"; fail "the demo on Redis failed"; }
grep -q "tasks started" "$TMP/demo.out" || fail "no demo summary"

"$AGENTMON" snapshot --coordinator "$URI" >"$TMP/snap.json" || fail "snapshot"
# the agent with the most dead letters, and the demo's totals
set -- $("$PY" - "$TMP/snap.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
dlq = s["messaging.dlq_length"]
agent = max(dlq, key=lambda a: dlq[a])
ok = s["messaging.delivered.ok"]
print(agent, dlq[agent], int(ok))
EOF
)
AGENT=$1
N=$2
OK=$3
[ "$OK" -gt 100 ] || fail "the snapshot shows $OK deliveries: the demo's totals were not flushed"
[ "$N" -ge 2 ] || fail "the demo left fewer than 2 dead letters for any agent ($AGENT: $N)"

"$AGENTMON" dlq list --coordinator "$URI" --agent "$AGENT" >"$TMP/list.ndjson" || fail "dlq list"
[ "$(wc -l <"$TMP/list.ndjson")" -eq "$N" ] || fail "dlq list: $(wc -l <"$TMP/list.ndjson") entries, snapshot says $N"
ID=$("$PY" -c 'import json,sys; e=[json.loads(l) for l in open(sys.argv[1])]; assert all(x["to"]==sys.argv[2] and x["reason"] in ("permanent","max_attempts","poison") for x in e); print(e[0]["id"])' "$TMP/list.ndjson" "$AGENT") ||
    fail "dlq list entries are not what was dead-lettered"

"$AGENTMON" dlq replay --coordinator "$URI" --agent "$AGENT" --id "$ID" | grep -q "replayed 1 message" ||
    fail "dlq replay --id"
"$AGENTMON" dlq purge --coordinator "$URI" --agent "$AGENT" | grep -q "purged $((N - 1)) message" ||
    fail "dlq purge did not purge the other $((N - 1))"
[ -z "$("$AGENTMON" dlq list --coordinator "$URI" --agent "$AGENT")" ] || fail "DLQ not empty after purge"
"$AGENTMON" snapshot --coordinator "$URI" | "$PY" -c '
import json, sys
s = json.load(sys.stdin)
a = sys.argv[1]
assert s["messaging.dlq_length"][a] == 0, s["messaging.dlq_length"][a]
assert sum(s["messaging.queue_length"][a].values()) >= 1, s["messaging.queue_length"][a]
' "$AGENT" || fail "after replay and purge the snapshot disagrees"

# bad usage and bad places
"$AGENTMON" dlq list --agent "$AGENT" 2>"$TMP/err"; [ $? -eq 2 ] && grep -q "coordinator" "$TMP/err" ||
    fail "dlq without --coordinator: want exit 2 naming the option"
"$AGENTMON" dlq frobnicate --coordinator "$URI" --agent "$AGENT" 2>"$TMP/err"; [ $? -eq 2 ] ||
    fail "dlq with an unknown action: want exit 2"
"$AGENTMON" dlq list --coordinator "$URI" --agent "$AGENT" --max x 2>"$TMP/err"; [ $? -eq 2 ] ||
    fail "dlq list --max x: want exit 2"
"$AGENTMON" snapshot --coordinator "redis://127.0.0.1:$RP/0?prefix=a:b" 2>"$TMP/err"; [ $? -eq 1 ] &&
    grep -q "prefix" "$TMP/err" || fail "a bad prefix: want exit 1 naming it"
kill "$RPID"; wait "$RPID" 2>/dev/null; RPID=""
"$AGENTMON" snapshot --coordinator "$URI" 2>"$TMP/err"; [ $? -eq 1 ] && [ -s "$TMP/err" ] ||
    fail "a dead server: want exit 1 and a message"
say "PASS ($AGENT: $N dead letters listed, 1 replayed, $((N - 1)) purged)"
