#!/bin/sh
# prometheus.sh: a real Prometheus scrapes agentmon's /metrics.
#
#   sh tests/integration/prometheus.sh [BUILDDIR]      (from the repo root)
#
# Starts two test_exporter processes on 127.0.0.1 -- one plain, one with TLS
# and a bearer token -- and the README's example agent (examples/http_agent),
# and a Prometheus (Debian's) on loopback that scrapes all three every
# second, with exemplar storage on. check_prometheus.py then asks
# Prometheus' HTTP API for up and for the values the exporters set, a
# histogram_quantile, and the exemplars -- and checks that a trace_id
# Prometheus stored with the agent's histogram is in the agent's JSON log.
# Everything is stopped at the end.
# Skips (exit 0, saying so) when prometheus or Debian's python3 is missing.
set -u
BUILD=${1:-build}
ROOT=$(pwd)
PY=/usr/bin/python3
. "$(dirname "$0")/lib.inc"
EXPORTER=$BUILD/tests/test_exporter
AGENT=$BUILD/examples/http_agent
command -v prometheus >/dev/null 2>&1 || { echo "prometheus: SKIP: prometheus not installed"; exit 0; }
[ -x "$PY" ] || { echo "prometheus: SKIP: $PY missing"; exit 0; }
if [ -f "$BUILD/CMakeCache.txt" ]; then
    cmake --build "$BUILD" --target test_exporter http_agent >/dev/null ||
        { echo "prometheus: FAIL: build"; exit 1; }
fi
[ -x "$EXPORTER" ] || { echo "prometheus: FAIL: $EXPORTER missing"; exit 1; }

TMP=$(mktemp -d)
PIDS=""
cleanup() {
    kill_child $PIDS
    for p in $PIDS; do wait "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

# start_exporter NAME PROGRAM ARGS...: start it, wait for the port it
# prints, into PORT. Run in this shell, not in $(...): the PIDS it adds to
# must be this shell's, and the programs its children, for cleanup to stop
# them (they were left running when it ran in a subshell).
start_exporter() {
    name=$1
    prog=$2
    shift 2
    "$prog" "$@" >"$TMP/$name.port" 2>"$TMP/$name.err" &
    PIDS="$PIDS $!"
    i=0
    while [ ! -s "$TMP/$name.port" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    PORT=$(head -1 "$TMP/$name.port")
    [ -n "$PORT" ] || { echo "prometheus: FAIL: $name exporter did not start"; cat "$TMP/$name.err"; exit 1; }
}

start_exporter plain "$EXPORTER"
P1=$PORT
start_exporter tls "$EXPORTER" --tls "$ROOT/tests/unit/tls/cert.pem" \
    "$ROOT/tests/unit/tls/key.pem" --bearer s3cret
P2=$PORT
# The README's example agent, logging to a file we can join against.
start_exporter example "$AGENT" --listen 127.0.0.1:0 --log "$TMP/agent.log"
P3=$PORT
PP=$(free_port)

cat >"$TMP/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: plain
    static_configs:
      - targets: ['127.0.0.1:$P1']
  - job_name: tls
    scheme: https
    tls_config:
      ca_file: $ROOT/tests/unit/tls/cert.pem
    authorization:
      credentials: s3cret
    static_configs:
      - targets: ['127.0.0.1:$P2']
  - job_name: example
    static_configs:
      - targets: ['127.0.0.1:$P3']
YML
prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/data" \
    --web.listen-address=127.0.0.1:"$PP" --enable-feature=exemplar-storage \
    >"$TMP/prometheus.log" 2>&1 &
PIDS="$PIDS $!"
i=0
until curl -sf "http://127.0.0.1:$PP/-/ready" >/dev/null 2>&1; do
    i=$((i + 1))
    [ $i -gt 100 ] && { echo "prometheus: FAIL: prometheus not ready"; tail -20 "$TMP/prometheus.log"; exit 1; }
    sleep 0.2
done
if ! "$PY" "$ROOT/tests/integration/check_prometheus.py" "http://127.0.0.1:$PP" plain tls \
    --example example "$TMP/agent.log"; then
    tail -20 "$TMP/prometheus.log"
    exit 1
fi
echo "prometheus: PASS"
