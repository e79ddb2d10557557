#!/bin/sh
# promql_api.sh: agentmon serve's query API against a real Prometheus
# holding the same samples.
#
#   sh tests/integration/promql_api.sh [BUILDDIR]        (from the repo root)
#
# promql_api_target.py hands each scraper the same timeline of samples
# (one step per scrape, explicit timestamps, 45 minutes of data ending a
# few minutes ago): a real Prometheus (Debian's 2.42) scrapes /a/metrics
# and `agentmon serve --scrape` scrapes /b/metrics, every 400 ms,
# until both have the whole timeline. promql_api.py then asks both the
# same instant and range queries (GET and form POST, as Grafana sends
# them), label, label-value and series lookups, and requests that must
# fail, and compares the answers: status, errorType, label sets and
# timestamps exactly, values within 1e-9 relative.
#
# Skips (exit 0, saying so) when prometheus is missing.
set -u
B=${1:-build}
command -v prometheus >/dev/null || { echo "promql_api: SKIP (no prometheus)"; exit 0; }
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)
. "$(dirname "$0")/lib.inc"
D=$(mktemp -d)
cleanup() { kill_child $PR $AM $TG; wait $PR $AM $TG 2>/dev/null; rm -rf "$D"; }
PR=; AM=; TG=
trap cleanup EXIT

STEP=20000
STEPS=136
NOW=$($PY -c 'import time; print(int(time.time()*1000))')
# the last step ~5 minutes ago: well inside Prometheus' head (it refuses
# samples more than an hour older than its newest)
BASE=$(( (NOW - 5 * 60000 - (STEPS - 1) * STEP) / 1000 * 1000 ))
$PY "$HERE/promql_api_target.py" "$D/port" $BASE $STEP $STEPS & TG=$!
until [ -s "$D/port" ]; do sleep 0.05; done
TP=$(cat "$D/port")
PP=$(free_port)
AP=$(free_port)
cat >"$D/p.yml" <<E
global: {scrape_interval: 400ms, scrape_timeout: 400ms}
scrape_configs:
  - job_name: scrape
    metrics_path: /a/metrics
    static_configs: [{targets: ["127.0.0.1:$TP"]}]
E
prometheus --config.file="$D/p.yml" --storage.tsdb.path="$D/data" --query.max-samples=100000 \
    --web.listen-address=127.0.0.1:$PP >"$D/prom.log" 2>&1 & PR=$!
"$B/agentmon" serve --listen 127.0.0.1:$AP --statsd off --store "sqlite:$D/am/db" \
    --system-interval 0 --scrape "http://127.0.0.1:$TP/b/metrics" --scrape-interval 400ms \
    --query-max-samples 100000 >"$D/am.log" 2>&1 & AM=$!
n=0
until [ "$(curl -fsS "http://127.0.0.1:$TP/status" 2>/dev/null)" = "$((STEPS + 2)) $((STEPS + 2))" ] ||
      [ "$(curl -fsS "http://127.0.0.1:$TP/status" 2>/dev/null | awk '{print ($1>'$STEPS' && $2>'$STEPS')}')" = 1 ]; do
    sleep 0.5; n=$((n + 1))
    [ $n -lt 240 ] || { echo "promql_api: the scrapers did not get the timeline"; tail -5 "$D/prom.log" "$D/am.log"; exit 1; }
done
sleep 1
[ -n "${AM_KEEP:-}" ] && { echo "PROM=http://127.0.0.1:$PP AM=http://127.0.0.1:$AP BASE=$BASE"; sleep 100000; }
$PY "$HERE/promql_api.py" "http://127.0.0.1:$PP" "http://127.0.0.1:$AP" $BASE $STEP $STEPS
rc=$?
[ $rc = 0 ] && echo "promql_api: ok"
exit $rc
