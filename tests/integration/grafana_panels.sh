#!/bin/sh
# grafana_panels.sh: every Grafana panel of deploy/grafana shows data from a
# real Prometheus scraping `agentmon demo`, and the dashboards' JSON is what
# Grafana needs.
#
#   sh tests/integration/grafana_panels.sh [BUILDDIR]      (from the repo root)
#
# 0. grafana_gen_test.py: the generator refuses bad panels.def lines (a
#    table of them) by line, and lays panels out as Grafana expects.
# 1. grafana_check.py static: the JSON is up to date with panels.def
#    (scripts/grafana_dashboards.py --check), uids and titles unique, panel
#    ids unique, gridPos inside the grid without overlaps, targets with expr
#    and refId, the provisioned data source uid everywhere, variables defined
#    and used, and every metric named one agentmon's catalogue has.
# 2. `agentmon demo` on loopback (port 0) and a real Prometheus scraping it
#    every second for a minute (the mistral provider degrades from 20 s to
#    35 s, so breakers open and close and dead letters are replayed).
# 3. grafana_check.py live: every variable's label_values() and every
#    panel's every query, variables at "All" and $__rate_interval at 20s,
#    over that minute through /api/v1/query_range: a query with no finite
#    value fails the test.
# Skips the live part (exit 0, saying so) when prometheus is missing, and
# everything when Debian's python3 is.
set -u
BUILD=${1:-build}
PY=/usr/bin/python3
AGENTMON=$BUILD/agentmon
SCRAPE_SECONDS=${AM_GRAFANA_SCRAPE_SECONDS:-60}
[ -x "$PY" ] || { echo "grafana_panels: SKIP: $PY missing"; exit 0; }
if [ -f "$BUILD/CMakeCache.txt" ]; then
    cmake --build "$BUILD" --target agentmon >/dev/null || { echo "grafana_panels: FAIL: build"; exit 1; }
fi

"$PY" tests/integration/grafana_gen_test.py >"${TMPDIR:-/tmp}/grafana_gen_test.$$" 2>&1 ||
    { cat "${TMPDIR:-/tmp}/grafana_gen_test.$$"; rm -f "${TMPDIR:-/tmp}/grafana_gen_test.$$";
      echo "grafana_panels: FAIL: the generator's tests"; exit 1; }
rm -f "${TMPDIR:-/tmp}/grafana_gen_test.$$"
"$PY" tests/integration/grafana_check.py static "$AGENTMON" ||
    { echo "grafana_panels: FAIL: dashboard JSON"; exit 1; }
command -v prometheus >/dev/null 2>&1 ||
    { echo "grafana_panels: SKIP live queries: prometheus not installed"; exit 0; }

. tests/integration/lib.inc
make_tmp
start_demo "$TMP" grafana_panels --seed 11

# the job name has "agent" in it, as the shipped prometheus.yml's agent jobs
# do: the overview's "Active Agents" selects up{job=~".*agent.*"}
cat >"$TMP/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: agents
    static_configs:
      - targets: ['127.0.0.1:$DEMO_PORT']
YML
start_prometheus "$TMP" grafana_panels "$TMP/prometheus.yml"
START=$(date +%s)
while [ $(($(date +%s) - START)) -lt "$SCRAPE_SECONDS" ]; do sleep 1; done
END=$(date +%s)

if ! "$PY" tests/integration/grafana_check.py live "http://127.0.0.1:$PROM_PORT" "$START" "$END"; then
    tail -5 "$TMP/prometheus.log"
    echo "grafana_panels: FAIL: panels without data"
    exit 1
fi
echo "grafana_panels: PASS"
