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
# then repair tools on awkward data, on agent test:1:
#   coord_worker deadletters  dead letters whose payloads and error texts
#                             hold NUL, invalid UTF-8 and control bytes, a
#                             broadcast copy whose id passes 128 bytes --
#                             what real clients can send -- and, by hand
#                             (redis-cli), a NUL in one's "from"
#   agentmon dlq list         every line valid JSON for Python's json (UTF-8,
#                             strict), every field's bytes back exactly
#                             (Python's surrogateescape), no payload cut
#   agentmon dlq replay --id  each id as printed replays its entry
#   SET <prefix>:q5:test:1    a string where a list belongs: `snapshot`
#                             names the key (stderr and "errors"), exit 0,
#                             and reports every other agent
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

# repair tools on awkward data
W=$BUILD/tests/coord_worker
if [ -f "$BUILD/CMakeCache.txt" ]; then
    cmake --build "$BUILD" --target coord_worker >/dev/null || fail "build coord_worker"
fi
"$W" deadletters "$URI" test:1 || fail "coord_worker deadletters"
FIRST=$("$AGENTMON" dlq list --coordinator "$URI" --agent test:1 --max 1 | "$PY" -c '
import json, sys; print(json.loads(sys.stdin.buffer.read().decode("utf-8"))["id"])') ||
    fail "dlq list of test:1"
printf 'pl\000anner:1' | redis-cli -p "$RP" -x HSET "clitest:m:$FIRST" from >/dev/null ||
    fail "redis-cli -x HSET"
"$AGENTMON" dlq list --coordinator "$URI" --agent test:1 >"$TMP/odd.ndjson" || fail "dlq list"
"$PY" - "$TMP/odd.ndjson" "$AGENTMON" "$URI" <<'EOF2' || fail "dlq list or replay on awkward bytes (above)"
import json, subprocess, sys
raw = open(sys.argv[1], "rb").read()
lines = raw.decode("utf-8").splitlines()     # strict: every byte printed is UTF-8
entries = [json.loads(l) for l in lines]     # and every line JSON
def b(s):
    return s.encode("utf-8", "surrogateescape")
assert len(entries) == 4, entries
e0, e1, e2, e3 = entries
assert b(e0["payload"]) == b'a\x00b\xff\xfe\x01\n"\\z', e0["payload"]
assert e0["payload_bytes"] == 10, e0
assert b(e0["error"]) == b'bad \xff\xc3 byte\x01\t"quoted"', e0["error"]
assert b(e0["from"]) == b"pl\x00anner:1", e0["from"]
assert e1["payload"] == "caf\u00e9 \u20ac \U0001f600 \x7f", e1["payload"]
assert b(e1["error"]) == b"\xe2\x82", e1["error"]
assert e2["payload"] == "" and e2["error"] == "" and e2["payload_bytes"] == 0, e2
assert len(b(e3["id"])) > 128 and e3["id"].endswith("/test:1"), e3["id"]
assert all(e["reason"] == "permanent" and e["to"] == "test:1" for e in entries), entries
for e in entries:
    out = subprocess.run([sys.argv[2], "dlq", "replay", "--coordinator", sys.argv[3],
                          "--agent", "test:1", "--id", e["id"]], capture_output=True)
    assert out.returncode == 0 and b"replayed 1 message" in out.stdout, (e["id"], out)
print("coord_cli: 4 awkward dead letters listed as valid JSON, every byte back, each replayed by id")
EOF2
redis-cli -p "$RP" SET clitest:q5:test:1 oops >/dev/null || fail "redis-cli SET"
"$AGENTMON" snapshot --coordinator "$URI" >"$TMP/snap2.json" 2>"$TMP/snap2.err" ||
    { cat "$TMP/snap2.err"; fail "snapshot with a key of the wrong type: want exit 0"; }
grep -q "clitest:q5:test:1" "$TMP/snap2.err" || fail "snapshot did not name the key on stderr"
"$PY" - "$TMP/snap2.json" "$AGENT" <<'EOF2' || fail "snapshot with a key of the wrong type (above)"
import json, sys
s = json.load(open(sys.argv[1]))
assert any(e["key"] == "clitest:q5:test:1" and e["agent"] == "test:1" and "WRONGTYPE" in e["error"]
           for e in s["errors"]), s.get("errors")
assert sys.argv[2] in s["messaging.queue_length"], s["messaging.queue_length"]
assert s["messaging.delivered.ok"] > 100, s
EOF2
redis-cli -p "$RP" DEL clitest:q5:test:1 >/dev/null

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
