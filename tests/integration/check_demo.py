#!/usr/bin/python3
"""check_demo.py: check a running `agentmon demo` and the Prometheus scraping it.

    check_demo.py DEMO_URL PROMETHEUS_URL AGENTMON DEMO_LOG T0

Prints one line per failed check and exits 1 if any failed. See demo.sh.
"""
import json
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request

from prometheus_client.openmetrics.parser import \
    text_string_to_metric_families as om_families
from prometheus_client.parser import text_string_to_metric_families as prom_families

DEMO, PROM, AGENTMON, LOG, T0 = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
FAILED = []

# Only appear when something goes wrong: a family at its child limit.
EVENT_ONLY = {"agentmon_cardinality_overflow_total",
              "agentmon_coord_key_errors",  # only while a Redis key has the wrong type
              # by receiver: none until --notify-config gives the demo one
              "agentmon_notifications_total",
              "agentmon_notification_latency_seconds"}
# The collector's own metrics (`agentmon serve`): the demo does not run it.
# remote_write runs only in `serve` too.
COLLECTOR_GROUPS = {"ingest", "store", "scrape", "system", "remote_write"}


def fail(msg):
    FAILED.append(msg)
    print("demo: FAIL: " + msg)


def get(url, accept=None):
    req = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.read().decode(), r.headers.get("Content-Type", "")


def promql(expr, path="query", **extra):
    args = {"query": expr, **extra}
    url = PROM + "/api/v1/" + path + "?" + urllib.parse.urlencode(args)
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.load(r)
    except urllib.error.HTTPError as e:
        body = json.load(e)
    if body.get("status") != "success":
        fail("%s: %s" % (expr, body.get("error")))
        return None
    return body["data"]["result"]


# ---- the catalogue against /metrics, in both formats ----------------------

catalogue = json.loads(subprocess.check_output([AGENTMON, "metrics", "list", "--format", "json"]))


def family_name(m, om):
    n, t = m["name"], m["type"]
    if t == "counter" and n.endswith("_total"):
        return n[:-6]
    if t == "info" and not om:
        return n + "_info"
    return n


def check_catalogue(text, parse, om):
    fmt = "OpenMetrics" if om else "Prometheus text"
    fams = {f.name: f for f in parse(text)}
    for m in catalogue:
        if m["name"] in EVENT_ONLY or m["group"] in COLLECTOR_GROUPS:
            continue
        f = fams.get(family_name(m, om))
        if f is None or not f.samples:
            fail("%s: %s (%s) is missing" % (fmt, m["name"], m["source"]))
            continue
        if m["type"] == "info":
            continue  # an info's labels are its content, free-form
        want = set(m["labels"])
        for s in f.samples:
            got = set(s.labels) - {"le", "quantile"}
            if m["type"] == "stateset":
                got.discard(m["name"])
            if got != want:
                fail("%s: %s has labels %s, the catalogue says %s" %
                     (fmt, s.name, sorted(got), sorted(want)))
                break


prom_text, ctype = get(DEMO + "/metrics")
if not ctype.startswith("text/plain"):
    fail("/metrics Content-Type is %s" % ctype)
lint = subprocess.run(["promtool", "check", "metrics"], input=prom_text, text=True,
                      capture_output=True)
if lint.returncode != 0:
    fail("promtool check metrics: " + (lint.stdout + lint.stderr).strip()[:2000])
check_catalogue(prom_text, prom_families, False)

om_text, ctype = get(DEMO + "/metrics", "application/openmetrics-text; version=1.0.0")
if not ctype.startswith("application/openmetrics-text"):
    fail("OpenMetrics Content-Type is %s" % ctype)
check_catalogue(om_text, om_families, True)

for path in ("/health", "/snapshot", "/coordinator"):
    body, ctype = get(DEMO + path)
    try:
        json.loads(body)
    except ValueError as e:
        fail("%s is not JSON: %s" % (path, e))

# ---- Prometheus: the documents' expressions ------------------------------

# Wait until Prometheus has a few scrapes of the demo.
for _ in range(30):
    r = promql('up{job="agentmon-demo"}')
    if r and r[0]["value"][1] == "1" and promql("agent_task_success_total"):
        break
    time.sleep(1)

# (expression, must it be non-empty now?) -- the alert rules are checked
# twice: whole (it may be empty: nothing need be alerting) and without
# their threshold (the series must be there).
EXPRS = [
    # monitoring-collector-spec.md: the alert rules and the dashboard panels
    ("rate(agent_task_failure_total[5m]) > 1", False),
    ("rate(agent_task_failure_total[5m])", True),
    ("rate(agent_task_success_total[5m])", True),
    ("agent_queue_depth > 100", False),
    ("agent_queue_depth", True),
    ("histogram_quantile(0.95, sum by (agent_id, le) "
     "(rate(agent_task_duration_seconds_bucket[5m]))) > 60", False),
    ("histogram_quantile(0.95, sum by (agent_id, le) (rate(agent_task_duration_seconds_bucket[5m])))",
     True),
    ('up{job=~".*agent.*"} == 0', False),
    ('count(up{job=~".*agent.*"} == 1)', True),
    # prometheus-integration-plan.md
    ('rate(insa_agent_requests_total{status="error"}[5m]) > 0.1', False),
    ('rate(insa_agent_requests_total{status="error"}[5m])', True),
    ("insa_worker_health_status == 0", False),
    ("insa_worker_health_status", True),
    ("insa_circuit_breaker_state == 1", False),
    ("insa_circuit_breaker_state", True),
    ("delta(insa_dead_letter_queue_size[10m]) > 10", False),
    ("delta(insa_dead_letter_queue_size[10m])", True),
    ("sum by (cache_name) (rate(insa_cache_hits_total[1m]))", True),
    ("sum by (reason) (insa_cache_evictions_total)", True),
    # metrics-exposure-story.md
    ('sum by (result) (rate(rate_limit_hits_total[1m]))', True),
    ('rate_limit_hits_total{result="denied"}', True),
    ("sum by (provider, direction) (rate(ccr_tokens_total[1m]))", True),
    ("histogram_quantile(0.95, sum by (provider, le) (rate(ccr_latency_seconds_bucket[1m])))", True),
    ("histogram_quantile(0.95, sum by (agent, le) (rate(a2a_request_duration_seconds_bucket[1m])))",
     True),
    ("sum by (operation, result) (rate(cache_operations_total[1m]))", True),
    ("agentos_info", True),
    # OpenTelemetry GenAI
    ("sum by (gen_ai_provider_name, gen_ai_token_type) "
     "(rate(gen_ai_client_token_usage_sum[1m]))", True),
    # messaging-metrics-spec.md
    ("sum by (agent) (messaging_queue_length)", True),
    ("messaging_dlq_length", True),
    ("rate(messaging_delivered_ok_total[1m])", True),
    ("messaging_retries_scheduled_total", True),
    ("messaging_permanent_failures_total", True),
    ("histogram_quantile(0.95, sum by (le) (rate(messaging_queue_wait_seconds_bucket[1m])))", True),
    ("sum by (reason) (messaging_dead_lettered_total)", True),
    # the machine
    ("rate(process_cpu_seconds_total[1m])", True),
]
for expr, nonempty in EXPRS:
    r = promql(expr)
    if r is not None and nonempty and not r:
        fail("%s: empty" % expr)

# The degrading provider opened its breaker at some point of the run.
r = promql("insa_circuit_breaker_state == 1", "query_range", start=T0, end=time.time(), step="1")
if r is not None and not any(s["metric"].get("agent_type") == "llm:mistral" for s in r):
    fail("llm:mistral's breaker was never open (insa_circuit_breaker_state == 1)")
r = promql('insa_circuit_breaker_transitions_total{agent_type="llm:mistral",to="open"} > 0')
if r is not None and not r:
    fail("no closed->open transition counted for llm:mistral")

# Every alert rule of deploy/prometheus/alerts.yml evaluated without error.
with urllib.request.urlopen(PROM + "/api/v1/rules", timeout=10) as resp:
    groups = json.load(resp)["data"]["groups"]
n_rules = 0
for g in groups:
    for rule in g["rules"]:
        n_rules += 1
        if rule.get("health") != "ok":
            fail("rule %s: health %s %s" % (rule["name"], rule.get("health"), rule.get("lastError")))
if n_rules != 11:
    fail("Prometheus loaded %d rules, alerts.yml has 11" % n_rules)

# ---- logs and exemplars ----------------------------------------------------

components = {}
with open(LOG) as f:
    for line in f:
        rec = json.loads(line)
        t = rec.get("trace_id")
        if t:
            components.setdefault(t, set()).add(rec["component"].split(":")[0])
roles = {"orchestrator", "planner", "researcher", "coder", "reviewer", "writer"}
if not any(roles <= c for c in components.values()):
    fail("no trace_id in the log visits all six roles")
om_text, _ = get(DEMO + "/metrics", "application/openmetrics-text; version=1.0.0")
exemplars = set(re.findall(r'# \{[^}]*trace_id="([0-9a-f]{32})"', om_text))
if not exemplars:
    fail("no exemplar with a trace_id in OpenMetrics /metrics")
elif not exemplars & set(components):
    fail("none of %d exemplar trace ids is in the log" % len(exemplars))

if FAILED:
    sys.exit(1)
print("check_demo: %d catalogue metrics, %d expressions, %d rules, %d traces: ok"
      % (len(catalogue), len(EXPRS), n_rules, len(components)))
