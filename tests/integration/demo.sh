#!/bin/sh
# demo.sh: `agentmon demo` checked by tools nobody here wrote.
#
#   sh tests/integration/demo.sh [BUILDDIR]      (from the repo root)
#
# 1. promtool checks deploy/prometheus: the rules parse and their unit
#    tests pass.
# 2. The demo runs on loopback (port 0) with a real Prometheus scraping it
#    every second and evaluating deploy/prometheus/alerts.yml.
# 3. After 34 s (long enough for the degrading LLM provider to trip its
#    breaker), check_demo.py: `promtool check metrics` on /metrics; every
#    metric of the catalogue (`agentmon metrics list --format json`) is
#    there with exactly its documented labels, in Prometheus text and in
#    OpenMetrics (read by Python's prometheus_client parsers); the source
#    documents' alert expressions answer without error and non-empty;
#    every rule evaluated without error; one trace_id follows a task
#    through the log across agents, and exemplar trace ids are in the log.
# 4. SIGINT stops the demo cleanly (exit 0, a summary line).
# Skips (exit 0, saying so) when prometheus or Debian's python3 is missing.
set -u
BUILD=${1:-build}
ROOT=$(pwd)
PY=/usr/bin/python3
AGENTMON=$BUILD/agentmon
command -v prometheus >/dev/null 2>&1 || { echo "demo: SKIP: prometheus not installed"; exit 0; }
[ -x "$PY" ] || { echo "demo: SKIP: $PY missing"; exit 0; }
if [ -f "$BUILD/CMakeCache.txt" ]; then
    cmake --build "$BUILD" --target agentmon >/dev/null || { echo "demo: FAIL: build"; exit 1; }
fi

promtool check rules deploy/prometheus/alerts.yml >/dev/null &&
    promtool test rules deploy/prometheus/alerts_test.yml >/dev/null &&
    promtool check config --syntax-only deploy/prometheus/prometheus.yml >/dev/null ||
    { echo "demo: FAIL: deploy/prometheus does not pass promtool"; exit 1; }

. "$ROOT/tests/integration/lib.inc"
make_tmp
start_demo "$TMP" demo --seed 7
T0=$(date +%s)
DP=$DEMO_PORT

cp deploy/prometheus/alerts.yml "$TMP/alerts.yml"
cat >"$TMP/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - $TMP/alerts.yml
scrape_configs:
  - job_name: agentmon-demo
    static_configs:
      - targets: ['127.0.0.1:$DP']
YML
start_prometheus "$TMP" demo "$TMP/prometheus.yml"
PP=$PROM_PORT

# the provider "mistral" degrades from 20 s to 35 s after the start
while [ $(($(date +%s) - T0)) -lt 34 ]; do sleep 1; done

if ! "$PY" "$ROOT/tests/integration/check_demo.py" "http://127.0.0.1:$DP" \
    "http://127.0.0.1:$PP" "$AGENTMON" "$TMP/demo.log" "$T0"; then
    tail -5 "$TMP/prometheus.log"
    exit 1
fi

kill -INT "$DEMO_PID"
i=0
while kill -0 "$DEMO_PID" 2>/dev/null; do
    i=$((i + 1))
    [ $i -gt 50 ] && { echo "demo: FAIL: no clean stop 5 s after SIGINT"; exit 1; }
    sleep 0.1
done
wait "$DEMO_PID"
rc=$?
DEMO_PID=""
[ $rc -eq 0 ] || { echo "demo: FAIL: exit status $rc after SIGINT"; cat "$TMP/demo.err"; exit 1; }
grep -q "tasks started" "$TMP/demo.out" || { echo "demo: FAIL: no summary"; exit 1; }
echo "demo: PASS"
