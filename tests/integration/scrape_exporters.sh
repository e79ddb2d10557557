#!/bin/sh
# scrape_exporters.sh: agentmon's exposition parser on what real exporters
# emit, checked against Python's prometheus_client parsers.
#
#   sh tests/integration/scrape_exporters.sh [BUILDDIR]     (from the repo root)
#
# Starts on 127.0.0.1 and free ports: prometheus (scraping itself, so its
# own /metrics is a busy one), prometheus-node-exporter, redis-server with
# prometheus-redis-exporter, and prometheus-pushgateway (after a push of a
# counter, a histogram and a summary with awkward label values). Fetches
# each /metrics twice, asking for OpenMetrics and for text 0.0.4; for every
# body, expo_dump (our parser, format from the Content-Type) and
# prometheus_client's parser of that format must read the same samples:
# same count, and every name, label set and value equal (floats exactly).
# The bodies are kept when AM_SCRAPE_KEEP=DIR is set (the fuzz corpus
# seeds came from such a run).
#
# An exporter whose binary is missing is skipped with a message; when none
# is there, or Debian's python3 lacks prometheus_client, the script says
# SKIP and exits 0. Everything it started is stopped at the end.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/integration/lib.inc"
B=${1:-build}
case $B in
/*) ;;
*) B=$ROOT/$B ;;
esac
PY=/usr/bin/python3
DUMP=$B/tests/expo_dump

say() { printf 'scrape_exporters: %s\n' "$*"; }
fail() {
    say "FAIL: $*"
    exit 1
}

if ! "$PY" -c 'import prometheus_client' >/dev/null 2>&1; then
    say "SKIP: $PY has no prometheus_client (apt-get install python3-prometheus-client)"
    exit 0
fi
have=""
for bin in prometheus prometheus-node-exporter redis-server prometheus-redis-exporter \
    prometheus-pushgateway curl; do
    if command -v "$bin" >/dev/null 2>&1; then
        have="$have $bin"
    else
        say "note: $bin is not installed; what needs it is skipped"
    fi
done
case " $have " in
*" curl "*) ;;
*)
    say "SKIP: curl is not installed"
    exit 0
    ;;
esac

if [ -f "$B/CMakeCache.txt" ]; then
    log=${TMPDIR:-/tmp}/am-scrape-build.$$
    if ! cmake --build "$B" --target expo_dump >"$log" 2>&1; then
        tail -30 "$log"
        rm -f "$log"
        fail "could not build expo_dump in $B"
    fi
    rm -f "$log"
fi
[ -x "$DUMP" ] || fail "$DUMP is missing (build $B first)"

D=$(mktemp -d "${TMPDIR:-/tmp}/am-scrape.XXXXXX")
PIDS=""
cleanup() {
    kill_child $PIDS
    for p in $PIDS; do
        wait "$p" 2>/dev/null
    done
    rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

freeport() {
    "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_http URL PID NAME: until URL answers, or the process dies (5 s at most)
wait_http() {
    i=0
    while [ $i -lt 100 ]; do
        kill -0 "$2" 2>/dev/null || return 1
        curl -sf --noproxy '*' -o /dev/null "$1" && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

# start NAME URLPATH CMD...: runs CMD (which holds PORT) in the background
started=""
start() {
    name=$1
    path=$2
    shift 2
    "$@" >"$D/$name.log" 2>&1 &
    pid=$!
    PIDS="$PIDS $pid"
    if ! wait_http "http://127.0.0.1:$PORT$path" "$pid"; then
        tail -5 "$D/$name.log"
        fail "$name did not come up on 127.0.0.1:$PORT"
    fi
    started="$started $name=$PORT"
    say "$name up on 127.0.0.1:$PORT"
}

on() { case " $have " in *" $1 "*) return 0 ;; esac; return 1; }

if on prometheus; then
    PORT=$(freeport)
    cat >"$D/prometheus.yml" <<EOF
global: {scrape_interval: 1s}
scrape_configs:
  - job_name: self
    static_configs: [{targets: ["127.0.0.1:$PORT"]}]
EOF
    start prometheus /-/ready prometheus --config.file="$D/prometheus.yml" \
        --storage.tsdb.path="$D/prom-data" --web.listen-address="127.0.0.1:$PORT"
    sleep 2 # a few scrapes, so that its scrape and TSDB metrics have values
fi
if on prometheus-node-exporter; then
    PORT=$(freeport)
    start node /metrics prometheus-node-exporter --web.listen-address="127.0.0.1:$PORT"
fi
if on redis-server && on prometheus-redis-exporter; then
    RPORT=$(freeport)
    redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no \
        --dir "$D" >"$D/redis.log" 2>&1 &
    PIDS="$PIDS $!"
    i=0
    until redis-cli -p "$RPORT" ping >/dev/null 2>&1; do
        i=$((i + 1))
        [ $i -lt 50 ] || fail "redis-server did not come up"
        sleep 0.1
    done
    redis-cli -p "$RPORT" set k v >/dev/null
    redis-cli -p "$RPORT" lpush q a b c >/dev/null
    PORT=$(freeport)
    start redis /metrics prometheus-redis-exporter -redis.addr "redis://127.0.0.1:$RPORT" \
        -web.listen-address "127.0.0.1:$PORT"
fi
if on prometheus-pushgateway; then
    PORT=$(freeport)
    start pushgateway /-/ready prometheus-pushgateway --web.listen-address="127.0.0.1:$PORT" \
        --persistence.file=
    curl -sf --noproxy '*' --data-binary @- \
        "http://127.0.0.1:$PORT/metrics/job/scrape_test/instance/i1" <<'EOF' || fail "push failed"
# HELP pushed_requests_total Requests, "quoted" \\ and a\nnewline.
# TYPE pushed_requests_total counter
pushed_requests_total{code="200",path="/a \"b\" \\ c"} 1027
pushed_requests_total{code="500",path="/é日"} 3
# TYPE pushed_latency_seconds histogram
pushed_latency_seconds_bucket{le="0.005"} 1
pushed_latency_seconds_bucket{le="0.1"} 5
pushed_latency_seconds_bucket{le="+Inf"} 7
pushed_latency_seconds_sum 1.25e-01
pushed_latency_seconds_count 7
# TYPE pushed_rpc summary
pushed_rpc{quantile="0.5"} 0.05
pushed_rpc{quantile="0.99"} NaN
pushed_rpc_sum 12
pushed_rpc_count 100
# TYPE pushed_temp gauge
pushed_temp -Inf
EOF
fi
[ -n "$started" ] || {
    say "SKIP: none of the exporters is installed"
    exit 0
}

# The comparison: our samples (expo_dump's JSON lines) against the Python
# parser's, as multisets of (name, sorted labels, value).
cat >"$D/compare.py" <<'EOF'
import json, math, sys
from prometheus_client.parser import text_string_to_metric_families as parse_prom
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om

body, ctype, ours = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(body, encoding="utf-8").read()
om = ctype.lower().startswith("application/openmetrics-text")
SPECIAL = {"NaN": math.nan, "+Inf": math.inf, "-Inf": -math.inf}

def num(s):
    return SPECIAL[s] if s in SPECIAL else float(s)

# prometheus_client's 0.0.4 parser renames the samples of a counter whose
# name lacks _total to name_total; Prometheus (and agentmon) keep the name
# as sent. So in 0.0.4, counter sample names are compared without _total.
def key(name, typ, labels, value):
    if not om and typ == "counter" and name.endswith("_total"):
        name = name[:-6]
    v = "NaN" if math.isnan(value) else repr(value)
    return (name, tuple(sorted(labels.items())), v)

theirs = []
for fam in (parse_om if om else parse_prom)(text):
    for s in fam.samples:
        theirs.append(key(s.name, fam.type, s.labels, s.value))
mine = []
for line in open(ours, encoding="utf-8"):
    o = json.loads(line)
    mine.append(key(o["n"], o["t"], o["l"], num(o["v"])))
theirs.sort()
mine.sort()
if theirs != mine:
    a, b = set(theirs), set(mine)
    sys.stderr.write("%d samples from prometheus_client, %d from agentmon\n"
                     % (len(theirs), len(mine)))
    for k in sorted(a - b)[:5]:
        sys.stderr.write("  only prometheus_client: %r\n" % (k,))
    for k in sorted(b - a)[:5]:
        sys.stderr.write("  only agentmon: %r\n" % (k,))
    sys.exit(1)
print(len(mine))
EOF

OMACCEPT='application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'
TXACCEPT='text/plain;version=0.0.4'
checked=0
for pair in $started; do
    name=${pair%%=*}
    port=${pair#*=}
    for want in om text; do
        if [ $want = om ]; then accept=$OMACCEPT; else accept=$TXACCEPT; fi
        f=$D/$name.$want
        ctype=$(curl -sf --noproxy '*' --compressed -H "Accept: $accept" -o "$f" \
            -w '%{content_type}' "http://127.0.0.1:$port/metrics") ||
            fail "GET $name /metrics failed"
        case $ctype in
        application/openmetrics-text*) got=om ;;
        *) got=text ;;
        esac
        if [ $want = om ] && [ $got != om ]; then
            say "$name offers no OpenMetrics (answered $ctype)"
            continue
        fi
        "$DUMP" "$ctype" "$f" >"$f.json" || fail "$name ($ctype): our parser refused it"
        n=$("$PY" "$D/compare.py" "$f" "$ctype" "$f.json") ||
            fail "$name ($ctype): the parsers disagree"
        [ "$n" -gt 10 ] || fail "$name ($ctype): only $n samples"
        say "$name $got: $n samples, same as prometheus_client ($(wc -c <"$f") bytes)"
        checked=$((checked + 1))
        if [ -n "${AM_SCRAPE_KEEP:-}" ]; then
            mkdir -p "$AM_SCRAPE_KEEP"
            cp "$f" "$AM_SCRAPE_KEEP/$name.$got"
        fi
    done
done

# None of Debian's exporters offers OpenMetrics; Python's client writes it
# (with every OpenMetrics type, _created series and exemplars), and 0.0.4.
cat >"$D/pyclient.py" <<'EOF'
import sys
from prometheus_client import (CollectorRegistry, Counter, Enum, Gauge, Histogram, Info,
                               Summary, generate_latest)
from prometheus_client.openmetrics.exposition import generate_latest as generate_om
r = CollectorRegistry()
c = Counter("py_requests", "Requests \"quoted\" \\ and\nnewline.", ["path"], registry=r)
c.labels(path="/a \"b\" \\").inc(7)
c.labels(path="/\u00e9\u65e5\n").inc(2.5)
h = Histogram("py_latency_seconds", "Latency.", ["op"], registry=r)
for v in (0.001, 0.02, 0.3, 4, 40):
    h.labels(op="get").observe(v)
h.labels(op="put").observe(0.5, {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"})
Summary("py_rpc_seconds", "RPC.", registry=r).observe(0.25)
Gauge("py_temp_celsius", "Temp.", unit="celsius", registry=r).set(float("-inf"))
Info("py_build", "Build.", registry=r).info({"version": "1.2.3", "commit": "abc"})
Enum("py_state", "State.", states=["up", "down"], registry=r).state("down")
open(sys.argv[1] + ".om", "wb").write(generate_om(r))
open(sys.argv[1] + ".text", "wb").write(generate_latest(r))
EOF
"$PY" "$D/pyclient.py" "$D/pyclient" || fail "prometheus_client could not write its expositions"
for got in om text; do
    if [ $got = om ]; then
        ctype='application/openmetrics-text; version=1.0.0; charset=utf-8'
    else
        ctype='text/plain; version=0.0.4; charset=utf-8'
    fi
    f=$D/pyclient.$got
    "$DUMP" "$ctype" "$f" >"$f.json" || fail "pyclient ($got): our parser refused it"
    n=$("$PY" "$D/compare.py" "$f" "$ctype" "$f.json") || fail "pyclient ($got): the parsers disagree"
    say "python client $got: $n samples, same as prometheus_client ($(wc -c <"$f") bytes)"
    checked=$((checked + 1))
    [ -z "${AM_SCRAPE_KEEP:-}" ] || cp "$f" "$AM_SCRAPE_KEEP/pyclient.$got"
done
grep -q '"n":"py_latency_seconds_bucket".*"le":"0.5".*"ex":{"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"},"exv":"0.5"' \
    "$D/pyclient.om.json" || fail "pyclient: the exemplar was not read"
grep -q '"t":"stateset","n":"py_state","l":{"py_state":"down"},"v":"1"' "$D/pyclient.om.json" ||
    fail "pyclient: the stateset was not read"

# A few values we know: what was pushed, and what redis holds.
if on prometheus-pushgateway; then
    f=$D/pushgateway.text.json
    grep -q '"pushed_requests_total".*"path":"/a \\"b\\" \\\\ c".*"v":"1027"' "$f" ||
        fail "pushgateway: pushed_requests_total{code=200} 1027 not read back"
    grep -q '"n":"pushed_rpc".*"quantile":"0.99".*"v":"NaN"' "$f" ||
        fail "pushgateway: pushed_rpc{quantile=0.99} NaN not read back"
    grep -q '"n":"pushed_temp".*"v":"-Inf"' "$f" ||
        fail "pushgateway: pushed_temp -Inf not read back"
fi
if on prometheus-redis-exporter && on redis-server; then
    grep -q '"n":"redis_up","l":{},"v":"1"' "$D/redis.text.json" ||
        fail "redis: redis_up is not 1"
    grep -q '"n":"redis_db_keys","l":{"db":"db0"},"v":"2"' "$D/redis.text.json" ||
        fail "redis: redis_db_keys{db=db0} is not 2"
fi
say "ok: $checked bodies from$(for p in $started; do printf ' %s' "${p%%=*}"; done)"
