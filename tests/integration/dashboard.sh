#!/bin/sh
# dashboard.sh: the web dashboard (docs/DASHBOARD.md) in real headless
# Chromium against a running `agentmon demo`.
#
#   sh tests/integration/dashboard.sh [BUILDDIR]      (from the repo root)
#
# 1. The demo runs on loopback (port 0) with write credentials (a bearer
#    token file) and without its simulated operator's DLQ replays, so that
#    only the page moves dead letters.
# 2. tests/browser/dashboard.js (puppeteer-core from npm, installed by
#    scripts/npm-deps.sh into build-npm/; Debian's chromium) visits every
#    page: no console error, no failed request, every chart drawn, no
#    sideways scroll at 1366 px; the time range re-queries and redraws; the
#    agent filter narrows a table; a panel downloads as CSV; a DLQ replay
#    without credentials is refused, then with them (confirmed) it works;
#    the trace page follows a recent trace. PNGs of every page go to
#    BUILDDIR/dashboard/ (AM_SCREENSHOTS_TO=docs/img also copies them there,
#    for the README).
# 3. Checked here, outside the page: the replayed message is no longer in
#    the DLQ (the coordinator's API), and the agent took the task again
#    (its log line for that task, after the replay).
# Skips (exit 0, saying so) when chromium or node is missing.
set -u
BUILD=${1:-build}
AGENTMON=$BUILD/agentmon
PY=/usr/bin/python3
command -v chromium >/dev/null 2>&1 || { echo "dashboard: SKIP: chromium not installed"; exit 0; }
command -v node >/dev/null 2>&1 || { echo "dashboard: SKIP: node not installed"; exit 0; }
if [ -f "$BUILD/CMakeCache.txt" ]; then
    cmake --build "$BUILD" --target agentmon >/dev/null || { echo "dashboard: FAIL: build"; exit 1; }
fi
NODE_MODULES=$(scripts/npm-deps.sh) || { echo "dashboard: FAIL: npm-deps.sh"; exit 1; }
export NODE_MODULES

TMP=$(mktemp -d)
OUT=$BUILD/dashboard
mkdir -p "$OUT"
DEMO_PID=""
cleanup() {
    [ -n "$DEMO_PID" ] && kill "$DEMO_PID" 2>/dev/null && wait "$DEMO_PID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

# started PATTERN OUT ERR WHAT: wait (10 s at most) for a server's first line
started() {
    i=0
    while ! grep -q "$1" "$2" 2>/dev/null; do
        i=$((i + 1))
        [ $i -gt 100 ] && { echo "dashboard: FAIL: $4 did not start"; cat "$3"; exit 1; }
        sleep 0.1
    done
}

TOKEN=dash-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
printf '%s\n' "$TOKEN" >"$TMP/write.token"
"$AGENTMON" demo --listen 127.0.0.1:0 --quiet --seed 11 --log "$TMP/demo.log" \
    --replay-interval 0 --write-token-file "$TMP/write.token" \
    >"$TMP/demo.out" 2>"$TMP/demo.err" &
DEMO_PID=$!
started "dashboard at" "$TMP/demo.out" "$TMP/demo.err" "the demo"
URL=$(sed -n 's|.*dashboard at \(http://127.0.0.1:[0-9]*/\).*|\1|p' "$TMP/demo.out")
# charts need a few samples in the window first (the README's pictures, a
# minute and a half of them)
sleep 6
[ -n "${AM_SCREENSHOTS_TO:-}" ] && sleep 84

node tests/browser/dashboard.js "$URL" "$OUT" "$TOKEN" >"$TMP/facts.json" 2>"$TMP/browser.err" || {
    echo "dashboard: FAIL: the browser test"
    cat "$TMP/browser.err"
    exit 1
}

# the replay, seen from outside the page
"$PY" - "$URL" "$TMP/facts.json" "$TMP/demo.log" <<'PY' || exit 1
import json, re, sys, time, urllib.parse, urllib.request
url, facts, log = sys.argv[1], json.load(open(sys.argv[2])), sys.argv[3]
d = facts["dlq"]
agent, mid, payload = d["agent"], d["id"], d["payload"] or ""
dlq = json.load(urllib.request.urlopen(url + "api/v1/dlq/" + urllib.parse.quote(agent, safe="")))["data"]
# the agent may take it and dead-letter it again (a permanent failure), so
# the entry the page replayed must be gone: the same id, dead before then
if any(e["id"] == mid and e["dead_at"] < d["replayed_at"] - 1 for e in dlq):
    sys.exit("dashboard: FAIL: message %s is still in %s's DLQ after the replay" % (mid, agent))
m = re.search(r"task=(\d+)", payload)
task = int(m.group(1)) if m else None
if task is None:
    sys.exit("dashboard: FAIL: no task in the dead letter's payload %r" % payload)
deadline = time.time() + 30
while time.time() < deadline:
    for line in open(log):
        try:
            j = json.loads(line)
        except ValueError:
            continue
        ts = j.get("timestamp", "")
        t = time.mktime(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone if ts else 0
        if j.get("component") == agent and j.get("task") == task and t >= int(d["replayed_at"]) - 1:
            print("dashboard: replayed message %s (task %d) went back to %s's queue and was taken: %s"
                  % (mid, task, agent, j.get("message")))
            sys.exit(0)
    time.sleep(0.5)
sys.exit("dashboard: FAIL: %s never took task %d again after the replay" % (agent, task))
PY

# `agentmon serve` serves the same page, with its store and a price table
kill "$DEMO_PID" && wait "$DEMO_PID" 2>/dev/null
DEMO_PID=""
# it follows the demo's log file (--tail): the trace page shows its lines
"$AGENTMON" serve --listen 127.0.0.1:0 --statsd off --store "sqlite:$TMP/db/agentmon.db" \
    --evaluation-interval 1s --llm-price openai/gpt-4o=2.5,10 --tail "$TMP/demo.log" \
    >"$TMP/serve.out" 2>"$TMP/serve.err" &
DEMO_PID=$!
started "HTTP on" "$TMP/serve.out" "$TMP/serve.err" "serve"
SURL=http://$(sed -n 's|.*HTTP on \(127.0.0.1:[0-9]*\).*|\1|p' "$TMP/serve.out")/
curl -fsS "$SURL" | grep -q '<script src="/ui/app.js"' &&
    curl -fsS "${SURL}api/v1/dashboard" | grep -q '"store":true,"coordinator":false,"logs":true' &&
    curl -fsS "${SURL}api/v1/dashboard" | grep -q '"prices_are_examples":false' &&
    curl -fsS "${SURL}ui/app.js" | grep -q agentmonDashboard ||
    { echo "dashboard: FAIL: agentmon serve does not serve the dashboard"; exit 1; }
[ "$(curl -s -o /dev/null -w '%{http_code}' "${SURL}api/v1/dlq/coder:1")" = 404 ] ||
    { echo "dashboard: FAIL: serve has no coordinator, yet answers the DLQ route"; exit 1; }
# events as an agent sends them: one trace across two agents, an LLM call
TR=4bf92f3577b34da6a3ce929d0e0e4736
curl -fsS -o /dev/null -H 'Content-Type: application/x-ndjson' --data-binary @- "${SURL}api/v1/events" <<EV ||
{"event":"task","agent_id":"planner:1","status":"success","duration":0.4,"trace_id":"$TR","session_id":"s1"}
{"event":"communication","source_agent_id":"planner:1","target_agent_id":"coder:1","message_type":"code","message_size":120,"processing_time":35,"trace_id":"$TR","session_id":"s1"}
{"event":"llm","provider":"openai","model":"gpt-4o","status":"success","latency":0.8,"input_tokens":900,"output_tokens":200,"agent_id":"coder:1","trace_id":"$TR"}
{"event":"task","agent_id":"coder:1","status":"failure","duration":1.2,"error_type":"ToolTimeout","trace_id":"$TR","session_id":"s1"}
{"event":"system","host":"h1","cpu_usage":12.5,"memory_usage":812,"disk_usage":20480,"load_1m":0.4}
EV
    { echo "dashboard: FAIL: serve refused the events"; exit 1; }
# a log line of that trace, as an agent's log shipper posts it
printf '{"timestamp":"%s","level":"WARNING","component":"coder:1","message":"tool timed out","trace_id":"%s","span_id":"00f067aa0ba902b7","tool":"pytest"}\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%S.000Z)" "$TR" |
    curl -fsS -o /dev/null -H 'Content-Type: application/x-ndjson' --data-binary @- "${SURL}api/v1/logs" ||
    { echo "dashboard: FAIL: serve refused a log line"; exit 1; }
# the demo trace whose lines came from the most agents
AM_LOG_TRACE=$("$PY" - "$TMP/demo.log" <<'PY'
import collections, json, sys
by = collections.defaultdict(set)
for line in open(sys.argv[1]):
    try:
        j = json.loads(line)
    except ValueError:
        continue
    if j.get("trace_id"):
        by[j["trace_id"]].add(j.get("component"))
print(max(by, key=lambda t: len(by[t])) if by else "")
PY
)
export AM_LOG_TRACE
# every line the demo wrote is served back by trace id (serve tails it
# once a second)
i=0
until [ -n "$AM_LOG_TRACE" ] && [ "$("$PY" - "$TMP/demo.log" "${SURL}api/v1/logs?limit=2000&trace_id=$AM_LOG_TRACE" <<'PY'
import json, sys, urllib.request
want = [l for l in open(sys.argv[1]) if '"trace_id":"%s"' % sys.argv[2].rsplit("=", 1)[1] in l]
got = json.load(urllib.request.urlopen(sys.argv[2]))["data"]
print("same" if [json.loads(l) for l in want] == got else "%d of %d" % (len(got), len(want)))
PY
)" = same ]; do
    i=$((i + 1))
    [ $i -gt 30 ] && { echo "dashboard: FAIL: serve's log lines of trace $AM_LOG_TRACE differ from the demo's"; exit 1; }
    sleep 0.5
done
sleep 3
node tests/browser/dashboard.js "$SURL" "$OUT" "$TR" serve >"$TMP/serve-facts.json" 2>"$TMP/browser.err" || {
    echo "dashboard: FAIL: the browser test on agentmon serve"
    cat "$TMP/browser.err"
    exit 1
}
"$AGENTMON" serve --listen 127.0.0.1:0 --statsd off --store "sqlite:$TMP/db2/a.db" \
    --llm-price openai >/dev/null 2>"$TMP/bad.err" &&
    { echo "dashboard: FAIL: serve took a bad --llm-price"; exit 1; }
grep -q "want PROVIDER/MODEL=INPUT,OUTPUT" "$TMP/bad.err" ||
    { echo "dashboard: FAIL: a bad --llm-price is not explained"; cat "$TMP/bad.err"; exit 1; }

if [ -n "${AM_SCREENSHOTS_TO:-}" ]; then
    mkdir -p "$AM_SCREENSHOTS_TO"
    cp "$OUT"/dashboard-*.png "$AM_SCREENSHOTS_TO"/
fi
echo "dashboard: OK $(cat "$TMP/facts.json") serve: $(cat "$TMP/serve-facts.json")"
