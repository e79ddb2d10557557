#!/bin/sh
# deploy_stack.sh: the bundle's services, run as real processes on loopback
# (what docker-compose.yml runs, without containers), scraped by a real
# Prometheus with the shipped prometheus.yml -- only its ports rewritten to
# free ones -- and its rules and Alertmanager.
#
#   sh tests/integration/deploy_stack.sh [BUILDDIR]      (from the repo root)
#
# Runs: PostgreSQL (tests/pg_cluster.sh), redis-server, agentmon serve on
# deploy/systemd/serve.yml storing into that PostgreSQL, agentmon demo on
# that Redis (the compose file's "agents"), node_exporter, redis_exporter,
# postgres_exporter, Alertmanager on deploy/prometheus/alertmanager.yml, and
# Prometheus on deploy/prometheus/prometheus.yml. Then, within 60 s:
# every scrape job of the shipped file is up (up == 1 for each of its five
# jobs), Prometheus has discovered the Alertmanager, and every rule of
# alerts.yml has been evaluated without error.
# Skips (exit 0, saying so) when one of these programs is not installed.
set -u
B=${1:-build}
AGENTMON=$B/agentmon
PY=/usr/bin/python3
for bin in prometheus prometheus-alertmanager prometheus-node-exporter prometheus-redis-exporter \
    prometheus-postgres-exporter redis-server curl "$PY"; do
    command -v "$bin" >/dev/null 2>&1 || { echo "deploy_stack: SKIP: $bin not installed"; exit 0; }
done
. tests/integration/lib.inc
make_tmp
PIDS=""
PG=""
stop_all() {
    kill_child $PIDS
    for p in $PIDS; do wait "$p" 2>/dev/null; done
    [ -z "$PG" ] || sh tests/pg_cluster.sh stop "$TMP/pg" >/dev/null 2>&1
    _lib_cleanup
}
trap stop_all EXIT INT TERM
fail() { echo "deploy_stack: FAIL: $*"; exit 1; }
wait_http() { # URL: 0 once it answers 2xx, within 30 s
    _n=0
    until curl -fsS -o /dev/null "$1" 2>/dev/null; do
        _n=$((_n + 1)); [ $_n -lt 300 ] || return 1; sleep 0.1
    done
}

URI=$(sh tests/pg_cluster.sh start "$TMP/pg") || {
    [ $? = 77 ] && { echo "deploy_stack: SKIP: no PostgreSQL"; exit 0; }
    fail "PostgreSQL did not start"
}
PG=1
P_REDIS=$(free_port)
redis-server --port "$P_REDIS" --bind 127.0.0.1 --save '' --appendonly no --dir "$TMP" \
    >"$TMP/redis.log" 2>&1 &
PIDS="$PIDS $!"
n=0
until redis-cli -p "$P_REDIS" ping >/dev/null 2>&1; do
    n=$((n + 1)); [ $n -lt 100 ] || fail "redis-server did not start"; sleep 0.1
done

# the collector as the systemd unit runs it, on PostgreSQL as compose runs it
P_COLL=$(free_port)
"$AGENTMON" serve --config deploy/systemd/serve.yml --listen 127.0.0.1:"$P_COLL" --statsd off \
    --store "$URI" >"$TMP/serve.log" 2>&1 &
PIDS="$PIDS $!"
# the compose file's agents: the demo on Redis
P_AG=$(free_port)
"$AGENTMON" demo --listen 127.0.0.1:"$P_AG" --quiet --coordinator "redis://127.0.0.1:$P_REDIS/0" \
    --rules off --log /dev/null >"$TMP/demo.log" 2>&1 &
PIDS="$PIDS $!"
P_NODE=$(free_port)
prometheus-node-exporter --web.listen-address=127.0.0.1:"$P_NODE" >"$TMP/node.log" 2>&1 &
PIDS="$PIDS $!"
P_REXP=$(free_port)
prometheus-redis-exporter -redis.addr "redis://127.0.0.1:$P_REDIS" \
    -web.listen-address 127.0.0.1:"$P_REXP" >"$TMP/rexp.log" 2>&1 &
PIDS="$PIDS $!"
P_PEXP=$(free_port)
DATA_SOURCE_NAME="$URI?sslmode=disable" prometheus-postgres-exporter \
    --web.listen-address=127.0.0.1:"$P_PEXP" >"$TMP/pexp.log" 2>&1 &
PIDS="$PIDS $!"

# deploy/prometheus as shipped, in a copy whose addresses are this run's
mkdir "$TMP/prom"
cp -r deploy/prometheus/. "$TMP/prom/"
P_AM=$(free_port)
for pair in 9470:$P_COLL 9464:$P_AG 9100:$P_NODE 9121:$P_REXP 9187:$P_PEXP 9093:$P_AM; do
    from=${pair%%:*} to=${pair#*:}
    grep -q "'127.0.0.1:$from'" "$TMP/prom/prometheus.yml" ||
        fail "prometheus.yml has no target 127.0.0.1:$from any more"
    sed -i "s/'127.0.0.1:$from'/'127.0.0.1:$to'/" "$TMP/prom/prometheus.yml"
done
prometheus-alertmanager --config.file="$TMP/prom/alertmanager.yml" --storage.path="$TMP/am" \
    --web.listen-address=127.0.0.1:"$P_AM" --cluster.listen-address= >"$TMP/am.log" 2>&1 &
PIDS="$PIDS $!"
start_prometheus "$TMP" deploy_stack "$TMP/prom/prometheus.yml"
PIDS="$PIDS $PROM_PID"
PROM_PID=""
for u in "$P_COLL/health" "$P_AG/metrics" "$P_NODE/metrics" "$P_REXP/metrics" "$P_PEXP/metrics" \
    "$P_AM/-/ready"; do
    wait_http "http://127.0.0.1:$u" || {
        tail -3 "$TMP"/*.log; fail "nothing answers http://127.0.0.1:$u"
    }
done

"$PY" - "http://127.0.0.1:$PROM_PORT" <<'EOF' || { tail -3 "$TMP/serve.log" "$TMP/prometheus.log"; exit 1; }
import json, sys, time, urllib.parse, urllib.request
base = sys.argv[1]
def get(path, **q):
    with urllib.request.urlopen(base + path + "?" + urllib.parse.urlencode(q), timeout=10) as r:
        return json.load(r)["data"]
want = {"agentmon-collector", "agentmon-agents", "node", "redis", "postgres"}
deadline = time.time() + 60
while True:
    up = {s["metric"]["job"]: s["value"][1] for s in get("/api/v1/query", query="up")["result"]}
    am = get("/api/v1/alertmanagers")["activeAlertmanagers"]
    rules = [r for g in get("/api/v1/rules")["groups"] for r in g["rules"]]
    bad_rules = [r["name"] for r in rules if r.get("health") != "ok"]
    ok = (set(up) >= want and all(up[j] == "1" for j in want) and len(am) == 1
          and len(rules) == 11 and not bad_rules)
    if ok or time.time() > deadline:
        break
    time.sleep(1)
print("deploy_stack: up %s; alertmanagers %d; rules %d, not ok: %s" % (
    json.dumps(up, sort_keys=True), len(am), len(rules), bad_rules or "none"))
if not ok:
    print("deploy_stack: FAIL: not every job up, Alertmanager found and rule evaluated in 60 s")
    sys.exit(1)
EOF
echo "deploy_stack: PASS"
