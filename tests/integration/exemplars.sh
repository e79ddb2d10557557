#!/bin/sh
# exemplars.sh: GET /api/v1/query_exemplars of `agentmon demo` against a
# real Prometheus (Debian's 2.42, --enable-feature=exemplar-storage)
# scraping that demo's /metrics (OpenMetrics, with the packs' exemplars).
#
#   sh tests/integration/exemplars.sh [BUILDDIR]        (from the repo root)
#
# Both are asked the same queries (a latency panel's histogram_quantile, a
# bare selector, GET and form POST) over the same range: the answers have
# the same shape (status; data a list of {seriesLabels, exemplars:[{labels,
# value (a string), timestamp (seconds, a number)}]}), every series we
# answer is one Prometheus answers too (plus its job and instance), and
# every exemplar of ours older than Prometheus' last scrape is one it holds
# (same series, trace_id, value and timestamp); a series with only newer
# exemplars may be missing from Prometheus' answer. Bad requests fail alike
# (status and errorType). Prometheus keeps a history of exemplars; the
# demo's registry holds the last of each bucket, so ours are a subset.
#
# Skips (exit 0, saying so) when prometheus is missing.
set -u
B=${1:-build}
command -v prometheus >/dev/null || { echo "exemplars: SKIP (no prometheus)"; exit 0; }
PY=/usr/bin/python3
. "$(dirname "$0")/lib.inc"
D=$(mktemp -d)
PR=; DM=
cleanup() { kill_child $PR $DM; wait $PR $DM 2>/dev/null; rm -rf "$D"; }
trap cleanup EXIT
AP=$(free_port)
PP=$(free_port)
"$B/agentmon" demo --listen 127.0.0.1:$AP --quiet --seed 5 --log "$D/demo.log" >"$D/demo.out" 2>&1 & DM=$!
cat >"$D/p.yml" <<E
global: {scrape_interval: 1s, scrape_timeout: 1s}
scrape_configs:
  - job_name: demo
    static_configs: [{targets: ["127.0.0.1:$AP"]}]
E
prometheus --config.file="$D/p.yml" --storage.tsdb.path="$D/data" --enable-feature=exemplar-storage \
    --web.listen-address=127.0.0.1:$PP >"$D/prom.log" 2>&1 & PR=$!
sleep 8
$PY - "http://127.0.0.1:$PP" "http://127.0.0.1:$AP" <<'PY'
import json, sys, time, urllib.error, urllib.parse, urllib.request
prom, am = sys.argv[1], sys.argv[2]

def ask(base, params, post=False):
    data = urllib.parse.urlencode(params)
    url = base + "/api/v1/query_exemplars"
    try:
        r = urllib.request.urlopen(urllib.request.Request(url, data=data.encode()) if post
                                   else url + "?" + data, timeout=10)
        return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)

def shape(ans):
    assert set(ans) == {"status", "data"}, ans.keys()
    for s in ans["data"]:
        assert set(s) == {"seriesLabels", "exemplars"}, s.keys()
        assert all(isinstance(v, str) for v in s["seriesLabels"].values())
        for e in s["exemplars"]:
            assert set(e) == {"labels", "value", "timestamp"}, e.keys()
            assert isinstance(e["value"], str) and isinstance(e["timestamp"], (int, float))
            float(e["value"])

fails = 0
now = time.time()
queries = ['histogram_quantile(0.95, sum by (agent_id, le) (rate(agent_task_duration_seconds_bucket{agent_id=~".*"}[1m])))',
           'a2a_request_duration_seconds_bucket{agent="planner"}']
# Prometheus' last scrape: what it holds is up to there
last = float(json.load(urllib.request.urlopen(prom + "/api/v1/query?query=timestamp(up)"))["data"]["result"][0]["value"][1])
for q in queries:
    for post in (False, True):
        params = {"query": q, "start": "%.3f" % (now - 300), "end": "%.3f" % (now + 5)}
        ps, pa = ask(prom, params, post)
        as_, aa = ask(am, params, post)
        try:
            assert ps == as_ == 200, (ps, as_)
            shape(pa); shape(aa)
            assert aa["data"], "agentmon answered no exemplar for %s" % q
            held = {}
            for s in pa["data"]:
                lab = dict(s["seriesLabels"]); lab.pop("job", None); lab.pop("instance", None)
                held.setdefault(json.dumps(lab, sort_keys=True), []).extend(s["exemplars"])
            checked = 0
            for s in aa["data"]:
                k = json.dumps(s["seriesLabels"], sort_keys=True)
                old = [e for e in s["exemplars"] if e["timestamp"] < last - 1.5]
                # a series made since Prometheus' last scrape is not there yet
                assert k in held or not old, "series %s is not in Prometheus' answer" % k
                for e in old:
                    checked += 1
                    assert any(x["labels"] == e["labels"] and float(x["value"]) == float(e["value"])
                               and abs(x["timestamp"] - e["timestamp"]) < 0.002 for x in held[k]), \
                        "exemplar %s of %s is not Prometheus'" % (e, k)
            print("exemplars: %s (%s): %d series, %d exemplars checked against Prometheus' %d series"
                  % (q[:40], "POST" if post else "GET", len(aa["data"]), checked, len(pa["data"])))
        except AssertionError as e:
            fails += 1
            print("exemplars: FAIL: %s: %s" % (q, e))
for params in ({"query": "sum("}, {}, {"query": "up", "start": "x"}, {"query": "up", "start": "10", "end": "5"}):
    ps, pa = ask(prom, params)
    as_, aa = ask(am, params)
    if (ps, pa.get("errorType")) != (as_, aa.get("errorType")):
        fails += 1
        print("exemplars: FAIL: %s: Prometheus %s %s, agentmon %s %s" % (params, ps, pa, as_, aa))
sys.exit(1 if fails else 0)
PY
rc=$?
[ $rc = 0 ] && echo "exemplars: ok"
exit $rc
