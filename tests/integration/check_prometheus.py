"""check_prometheus.py: ask a running Prometheus what it scraped from
test_exporter, and compare with the values the exporter set.

    /usr/bin/python3 check_prometheus.py http://127.0.0.1:PORT JOB [JOB...]
        [--example JOB LOGFILE]

Waits (up to 30 s) until every job's target is up, then checks each job's
values through the HTTP API, histogram_quantile over the histogram, and the
exemplar through /api/v1/query_exemplars. Exits 1 naming the first mismatch.
Only loopback is ever contacted.
"""
import json
import sys
import time
import urllib.parse
import urllib.request

BASE = sys.argv[1]
JOBS = sys.argv[2:]
EXAMPLE = None
if "--example" in JOBS:
    i = JOBS.index("--example")
    EXAMPLE = (JOBS[i + 1], JOBS[i + 2])
    JOBS = JOBS[:i]
assert BASE.startswith("http://127.0.0.1:"), "loopback only"


def api(path, **params):
    url = BASE + path + "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=5) as r:
        body = json.load(r)
    if body.get("status") != "success":
        raise SystemExit(f"prometheus: {path} {params}: {body}")
    return body["data"]


def query(q):
    return api("/api/v1/query", query=q)["result"]


def fail(msg):
    print(f"prometheus: FAIL: {msg}")
    sys.exit(1)


deadline = time.time() + 30
while True:
    up = {r["metric"]["job"]: r["value"][1] for r in query("up")}
    # rate() needs two samples: wait for three scrapes of every job.
    n = {r["metric"]["job"]: float(r["value"][1]) for r in query("count_over_time(up[1m])")}
    every = JOBS + ([EXAMPLE[0]] if EXAMPLE else [])
    if all(up.get(j) == "1" and n.get(j, 0) >= 3 for j in every):
        break
    if time.time() > deadline:
        fail(f"targets not up after 30 s: {up}")
    time.sleep(0.5)
print(f"prometheus: up == 1 for {', '.join(every)}")

EXPECT = [
    ('agent_task_failure_total{agent_id="coder:1",error_type="TimeoutError"}', 42),
    ('agent_task_failure_total{agent_id="say \\"hi\\"",error_type="é"}', 1),
    ('agent_queue_depth{queue_name="planner"}', -3.5),
    ('agent_task_duration_seconds_count{agent_id="planner:1",status="success"}', 3),
    ('agent_task_duration_seconds_sum{agent_id="planner:1",status="success"}', 7.55),
    ('agent_task_duration_seconds_bucket{agent_id="planner:1",le="0.05"}', 1),
    ('agent_task_duration_seconds_bucket{agent_id="planner:1",le="+Inf"}', 3),
    ('circuit_breaker{provider="anthropic",circuit_breaker="open"}', 1),
    ('circuit_breaker{provider="anthropic",circuit_breaker="closed"}', 0),
    ('agentos_info{version!=""}', 1),
    ('sum(rate(agent_task_failure_total[1m]))', 0),
]

for job in JOBS:
    for sel, want in EXPECT:
        q = sel.replace("{", '{job="%s",' % job, 1) if "{" in sel and not sel.startswith(
            "sum(") else sel
        if sel.startswith("sum("):
            q = 'sum(rate(agent_task_failure_total{job="%s"}[1m]))' % job
        res = query(q)
        if len(res) != 1:
            fail(f"{job}: {q}: {len(res)} series, want 1: {res}")
        got = float(res[0]["value"][1])
        if abs(got - want) > 1e-9:
            fail(f"{job}: {q} = {got}, want {want}")
    p95 = query('histogram_quantile(0.95, sum by (le) (rate(agent_task_duration_seconds_bucket'
                '{job="%s"}[1m])))' % job)
    if len(p95) != 1:
        fail(f"{job}: histogram_quantile gave {p95}")
    start = query('process_start_time_seconds{job="%s"}' % job)
    if len(start) != 1 or float(start[0]["value"][1]) < 1.6e9:
        fail(f"{job}: process_start_time_seconds = {start}")
    print(f"prometheus: {job}: {len(EXPECT) + 2} values as the exporter set them")

# Exemplars travel only in OpenMetrics, so this also proves negotiation.
now = time.time()
ex = api("/api/v1/query_exemplars", query="agent_task_duration_seconds_bucket",
         start=now - 300, end=now + 60)
ids = {e["labels"].get("trace_id") for s in ex for e in s["exemplars"]}
if "4bf92f3577b34da6a3ce929d0e0e4736" not in ids:
    fail(f"exemplar with the trace_id not stored: {ex}")
print("prometheus: the histogram's exemplar (trace_id) reached Prometheus")

# The example agent: metrics to logs by trace_id.
if EXAMPLE:
    job, log_path = EXAMPLE
    ok = query('agent_task_success_total{job="%s"}' % job)
    if len(ok) != 1 or float(ok[0]["value"][1]) < 1:
        fail(f"{job}: agent_task_success_total = {ok}")
    ex = api("/api/v1/query_exemplars", query='agent_task_duration_seconds_bucket{job="%s"}' % job,
             start=now - 300, end=time.time() + 60)
    ids = {e["labels"].get("trace_id") for s in ex for e in s["exemplars"]}
    ids.discard(None)
    if not ids:
        fail(f"{job}: no exemplars stored")
    logged = set()
    with open(log_path) as f:
        for line in f:
            rec = json.loads(line)  # every line of the agent's log parses
            if "trace_id" in rec:
                logged.add(rec["trace_id"])
    joined = ids & logged
    if not joined:
        fail(f"{job}: none of the {len(ids)} exemplar trace_ids is in the agent's log")
    print(f"prometheus: {job}: {len(joined)} exemplar trace_id(s) found in the agent's JSON log")
