#!/bin/sh
# remote_write.sh: remote_write 1.0 from the library and from `agentmon serve`
# into a real VictoriaMetrics and a real Prometheus (--web.enable-remote-write-receiver).
#
#   sh tests/integration/remote_write.sh [BUILDDIR]      (from the repo root)
#   RW_OUTAGE_S=60 sh tests/integration/remote_write.sh  (the issue's 60 s outage;
#                                                          default 15 s)
#
# Every check queries the receiver's own API; counts and sums are exact:
#   1. library -> VictoriaMetrics and -> Prometheus: 20 series x 1500 samples
#      (values 1..1500): count_over_time and sum_over_time of every series
#      are 1500 and 1125750;
#   2. outage: a live agent (100 rounds/s of 10 series) while the receiver
#      (VictoriaMetrics, then Prometheus) is stopped for RW_OUTAGE_S and
#      restarted on the same data: the log spilled segments to its wal_dir,
#      and every sample before, during and after the outage is there;
#   3. the log's limit: the same with a 256 KiB limit: samples are dropped
#      (counted) and the receiver holds exactly the ones counted as sent;
#   4. 503, 500, 429, 502 answered first (a proxy in front of VictoriaMetrics):
#      retried, and every sample arrives;
#   5. a receiver answering 400 to everything: every sample counted failed,
#      each batch tried once (no retry storm);
#   6. agentmon serve with a remote_write: section as prometheus.yml has it
#      (basic_auth with password_file, queue_config, write_relabel_configs
#      keep/drop/replace) to both receivers: StatsD counters and a scraped
#      sample arrive relabelled, the dropped ones do not, and the drops are
#      counted.
# VictoriaMetrics runs with -dedup.minScrapeInterval=1ms: a batch whose answer
# was lost in the outage is resent, and the receiver keeps one copy, as
# Prometheus does by itself.
#
# Skips (exit 0, saying so) when victoria-metrics, prometheus, curl or
# /usr/bin/python3 is missing; scripts/deps.sh installs them.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/integration/lib.inc"
B=${1:-build}
case $B in
/*) ;;
*) B=$ROOT/$B ;;
esac
AGENT=$B/tests/rw_agent
AGENTMON=$B/agentmon
OUTAGE=${RW_OUTAGE_S:-15}
PY=/usr/bin/python3

say() { printf 'remote_write: %s\n' "$*"; }
fail() {
    say "FAIL: $*"
    cleanup
    exit 1
}

for t in victoria-metrics prometheus curl; do
    if ! command -v $t >/dev/null 2>&1; then
        say "SKIP: $t is not installed (scripts/deps.sh)"
        exit 0
    fi
done
[ -x $PY ] || {
    say "SKIP: $PY is missing"
    exit 0
}
[ -x "$AGENT" ] && [ -x "$AGENTMON" ] || fail "build $AGENT and $AGENTMON first"

D=$(mktemp -d)
VM= PR= PX= SV=
cleanup() {
    kill_child $SV $PX $PR $VM
    for p in $SV $PX $PR $VM; do wait $p 2>/dev/null; done
    rm -rf "$D"
}
# not an EXIT trap: dash runs it in $(...) subshells too
trap 'cleanup; exit 1' INT TERM

fp() { $PY -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
VP=$(fp)
PP=$(fp)

start_vm() {
    victoria-metrics -httpListenAddr=127.0.0.1:$VP -storageDataPath=$D/vm -search.latencyOffset=0s \
        -dedup.minScrapeInterval=1ms >>$D/vm.log 2>&1 &
    VM=$!
    n=0
    until curl -fsS http://127.0.0.1:$VP/health >/dev/null 2>&1; do
        n=$((n + 1))
        [ $n -lt 300 ] || fail "VictoriaMetrics did not start: $(tail -3 $D/vm.log)"
        sleep 0.1
    done
}
stop_vm() {
    kill $VM
    wait $VM 2>/dev/null
    VM=
}
start_prom() {
    prometheus --config.file=$D/p.yml --storage.tsdb.path=$D/prom --web.listen-address=127.0.0.1:$PP \
        --web.enable-remote-write-receiver >>$D/prom.log 2>&1 &
    PR=$!
    n=0
    until curl -fsS http://127.0.0.1:$PP/-/ready >/dev/null 2>&1; do
        n=$((n + 1))
        [ $n -lt 600 ] || fail "Prometheus did not start: $(tail -3 $D/prom.log)"
        sleep 0.1
    done
}
stop_prom() {
    kill $PR
    wait $PR 2>/dev/null
    PR=
}
start_vm
: >$D/p.yml
start_prom
say "VictoriaMetrics on :$VP, Prometheus on :$PP"

QS=http QOPT= # the receivers' scheme, and curl's options for it
# series_ok PORT NAME N_SERIES N_SAMPLES: every series of NAME has N_SAMPLES
# samples valued 1..N_SAMPLES (exact count and sum), polled for up to 60 s
# (VictoriaMetrics shows new series 2-10 s after they arrive).
series_ok() {
    n=0
    while :; do
        qc=$(curl -sS $QOPT --data-urlencode "query=count_over_time($2[1h])" $QS://127.0.0.1:$1/api/v1/query)
        qs=$(curl -sS $QOPT --data-urlencode "query=sum_over_time($2[1h])" $QS://127.0.0.1:$1/api/v1/query)
        verdict=$($PY - "$qc" "$qs" "$3" "$4" <<'E'
import json, sys
c, s = json.loads(sys.argv[1]), json.loads(sys.argv[2])
ns, n = int(sys.argv[3]), int(sys.argv[4])
cs = {r["metric"].get("series"): float(r["value"][1]) for r in c["data"]["result"]}
ss = {r["metric"].get("series"): float(r["value"][1]) for r in s["data"]["result"]}
bad = [k for k in cs if cs[k] != n or ss.get(k) != n * (n + 1) / 2]
print("ok" if len(cs) == ns and not bad else "%d series, wrong: %s" % (len(cs), sorted(
    (k, cs[k], ss.get(k)) for k in bad)[:3]))
E
)
        [ "$verdict" = ok ] && return 0
        n=$((n + 1))
        [ $n -lt 120 ] || {
            say "$2 on :$1: $verdict"
            return 1
        }
        sleep 0.5
    done
}

# total PORT QUERY: the one value of an instant query (0 when none)
total() {
    curl -sS --data-urlencode "query=$2" http://127.0.0.1:$1/api/v1/query |
        $PY -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(int(float(r[0]["value"][1])) if r else 0)'
}
# field OUTPUT KEY: KEY of rw_agent's JSON line (its log lines are JSON too)
field() { $PY -c 'import json,sys; print([json.loads(l) for l in sys.argv[1].splitlines() if l.startswith("{\"sent\"")][-1][sys.argv[2]])' "$1" "$2"; }

# ---- 1. library -> both receivers
for P in $VP $PP; do
    out=$(RW_AGENT_NAME=rw_lib "$AGENT" http://127.0.0.1:$P/api/v1/write 20 1500 10) || fail "rw_agent to :$P: $out"
    [ "$(field "$out" sent)" = 30000 ] || fail "rw_agent to :$P sent: $out"
    series_ok $P rw_lib 20 1500 || fail "library -> :$P: samples missing or wrong"
done
say "ok: library -> VictoriaMetrics and Prometheus: 20 x 1500 samples, counts and sums exact"

# ---- 2. outage within the log's limit, on each receiver
for R in vm prom; do
    if [ $R = vm ]; then P=$VP; else P=$PP; fi
    rm -rf $D/wal
    rounds=$(((OUTAGE + 12) * 100))
    RW_AGENT_REALTIME=1 RW_AGENT_NAME=rw_outage "$AGENT" http://127.0.0.1:$P/api/v1/write 10 $rounds 10 \
        $D/wal 4194304 >$D/outage.json 2>$D/outage.err &
    AG=$!
    sleep 4
    stop_$R
    say "$R stopped for ${OUTAGE}s"
    sleep "$OUTAGE"
    ls $D/wal | grep -q '^seg-' || fail "$R: no segment spilled to the wal_dir during the outage"
    start_$R
    say "$R restarted"
    wait $AG || fail "rw_agent (outage): $(cat $D/outage.json $D/outage.err)"
    out=$(cat $D/outage.json)
    [ "$(field "$out" sent)" = $((rounds * 10)) ] || fail "$R outage: not all sent: $out"
    [ "$(field "$out" spilled)" -gt 0 ] || fail "$R outage: nothing spilled: $out"
    series_ok $P rw_outage 10 $rounds || fail "$R outage: samples lost"
    say "ok: $R, ${OUTAGE}s outage: $((rounds * 10)) samples, $(field "$out" spilled) segments spilled to disk, none lost"
done

# ---- 3. past the log's limit: dropped and counted, the rest exact
rm -rf $D/wal2
rounds=$(((10 + 6) * 100))
RW_AGENT_REALTIME=1 RW_AGENT_NAME=rw_limit "$AGENT" http://127.0.0.1:$VP/api/v1/write 10 $rounds 10 \
    $D/wal2 262144 >$D/limit.json 2>$D/limit.err &
AG=$!
sleep 3
stop_vm
sleep 10
start_vm
wait $AG || fail "rw_agent (limit): $(cat $D/limit.json $D/limit.err)"
out=$(cat $D/limit.json)
sent=$(field "$out" sent)
dropped=$(field "$out" dropped)
[ "$dropped" -gt 0 ] || fail "limit: nothing dropped past 256 KiB: $out"
[ $((sent + dropped)) = $((rounds * 10)) ] || fail "limit: sent + dropped != appended: $out"
n=0
until [ "$(total $VP 'sum(count_over_time(rw_limit[1h]))')" = "$sent" ]; do
    n=$((n + 1))
    [ $n -lt 120 ] || fail "limit: the receiver holds $(total $VP 'sum(count_over_time(rw_limit[1h]))'), sent $sent"
    sleep 0.5
done
say "ok: 256 KiB limit: $dropped samples dropped and counted, the $sent sent are all there"

# ---- 4. 5xx and 429 retried
XP=$(fp)
$PY "$ROOT/tests/integration/rw_proxy.py" $XP http://127.0.0.1:$VP/api/v1/write 503,500,429,502 >$D/px.log 2>&1 &
PX=$!
until curl -sS -o /dev/null http://127.0.0.1:$XP/ 2>/dev/null; do sleep 0.1; done
out=$(RW_AGENT_NAME=rw_retry "$AGENT" http://127.0.0.1:$XP/api/v1/write 5 1000 10) || fail "rw_agent (retry): $out"
[ "$(field "$out" retried)" -gt 0 ] && [ "$(field "$out" failed)" = 0 ] || fail "retry: $out"
head -4 $D/px.log | awk '{print $2}' | tr '\n' ' ' | grep -q '^503 500 429 502 $' || fail "retry: proxy saw $(head -4 $D/px.log)"
series_ok $VP rw_retry 5 1000 || fail "retry: samples lost"
kill $PX
wait $PX 2>/dev/null
PX=
say "ok: 503, 500, 429, 502 retried ($(field "$out" retried) sample retries), every sample arrived"

# ---- 5. 400: dropped, counted, no retry storm
$PY "$ROOT/tests/integration/rw_proxy.py" $XP http://127.0.0.1:$VP/api/v1/write '400*' >$D/px400.log 2>&1 &
PX=$!
until curl -sS -o /dev/null http://127.0.0.1:$XP/ 2>/dev/null; do sleep 0.1; done
out=$(RW_AGENT_NAME=rw_refused "$AGENT" http://127.0.0.1:$XP/api/v1/write 5 1000 10) || fail "rw_agent (400): $out"
[ "$(field "$out" failed)" = 5000 ] && [ "$(field "$out" retried)" = 0 ] || fail "400: $out"
reqs=$(field "$out" requests)
[ "$(wc -l <$D/px400.log)" = "$reqs" ] || fail "400: the proxy saw $(wc -l <$D/px400.log) requests, the sender made $reqs"
[ "$reqs" -le 50 ] || fail "400: $reqs requests for 5000 samples (batches of 500): a retry storm"
kill $PX
wait $PX 2>/dev/null
PX=
say "ok: 400: 5000 samples counted failed, $reqs requests, none retried"

# ---- TLS: a VictoriaMetrics serving https, checked against its CA
TP=$(fp)
victoria-metrics -httpListenAddr=127.0.0.1:$TP -storageDataPath=$D/vmtls -search.latencyOffset=0s \
    -tls -tlsCertFile=$ROOT/tests/unit/tls/cert.pem -tlsKeyFile=$ROOT/tests/unit/tls/key.pem \
    >$D/vmtls.log 2>&1 &
PX=$!
n=0
until curl -fsS --cacert $ROOT/tests/unit/tls/cert.pem https://127.0.0.1:$TP/health >/dev/null 2>&1; do
    n=$((n + 1))
    [ $n -lt 300 ] || fail "VictoriaMetrics (TLS) did not start: $(tail -3 $D/vmtls.log)"
    sleep 0.1
done
out=$(RW_AGENT_CA_FILE=$ROOT/tests/unit/tls/cert.pem RW_AGENT_NAME=rw_tls "$AGENT" \
    https://127.0.0.1:$TP/api/v1/write 5 500 10) || fail "rw_agent (TLS): $out"
QS=https QOPT="--cacert $ROOT/tests/unit/tls/cert.pem"
series_ok $TP rw_tls 5 500 || fail "TLS: samples missing"
QS=http QOPT=
kill $PX
wait $PX 2>/dev/null
PX=
say "ok: https with tls_config's ca_file: 5 x 500 samples exact"

# ---- 6. agentmon serve, a prometheus.yml remote_write: section pasted in
echo 's3cret' >$D/pw
cat >$D/serve.yml <<E
listen: 127.0.0.1:0
statsd: 127.0.0.1:0
store: sqlite:$D/serve/s.db
remote_write:
  - url: http://127.0.0.1:$VP/api/v1/write
    name: vm
    remote_timeout: 30s
    basic_auth:
      username: agentmon
      password_file: pw
    write_relabel_configs:
      - source_labels: [__name__]
        regex: "rwtest_.*|agentmon_remote_write_samples_total|vm_app_uptime_seconds"
        action: keep
      - source_labels: [__name__]
        regex: rwtest_drop_total
        action: drop
      - target_label: cluster
        replacement: c1
    queue_config:
      capacity: 2500
      max_shards: 4
      min_shards: 1
      max_samples_per_send: 500
      batch_send_deadline: 1s
      min_backoff: 30ms
      max_backoff: 1s
      retry_on_http_429: true
    metadata_config:
      send: true
  - url: http://127.0.0.1:$PP/api/v1/write
    name: prom
    write_relabel_configs:
      - source_labels: [__name__]
        regex: "rwtest_.*"
        action: keep
E
"$AGENTMON" serve --config $D/serve.yml --remote-write-interval 1s --scrape-interval 1s \
    --scrape vm=http://127.0.0.1:$VP/metrics >$D/serve.log 2>&1 &
SV=$!
n=0
until grep -q 'StatsD on udp' $D/serve.log; do
    n=$((n + 1))
    [ $n -lt 100 ] || fail "serve did not start: $(cat $D/serve.log)"
    sleep 0.1
done
HP=$(sed -n 's/.*HTTP on 127\.0\.0\.1:\([0-9]*\).*/\1/p' $D/serve.log)
UP=$(sed -n 's/.*StatsD on udp 127\.0\.0\.1:\([0-9]*\).*/\1/p' $D/serve.log)
$PY -c 'import socket,sys; socket.socket(socket.AF_INET,socket.SOCK_DGRAM).sendto(sys.argv[1].encode(),("127.0.0.1",int(sys.argv[2])))' \
        "$(printf 'rwtest_keep:5|c\nrwtest_drop:3|c\nother_thing:1|c')" $UP
for P in $VP $PP; do
    n=0
    until [ "$(total $P 'rwtest_keep_total')" = 5 ]; do
        n=$((n + 1))
        [ $n -lt 120 ] || fail "serve -> :$P: rwtest_keep_total never arrived ($(curl -s http://127.0.0.1:$HP/metrics | grep remote_write_samples_total))"
        sleep 0.5
    done
done
[ "$(total $VP 'count(rwtest_keep_total{cluster="c1"})')" = 1 ] || fail "serve: replace did not add cluster=\"c1\""
n=0
until [ "$(total $VP 'count(vm_app_uptime_seconds{cluster="c1",job="vm"})')" = 1 ]; do
    n=$((n + 1))
    [ $n -lt 120 ] || fail "serve: a scraped sample (vm_app_uptime_seconds) never arrived"
    sleep 0.5
done
[ "$(total $VP 'count(rwtest_drop_total)')" = 0 ] || fail "serve: drop let rwtest_drop_total through"
[ "$(total $VP 'count(other_thing_total)')" = 0 ] || fail "serve: keep let other_thing_total through"
[ "$(total $PP 'count(other_thing_total)')" = 0 ] || fail "serve: keep let other_thing_total through to Prometheus"
curl -s http://127.0.0.1:$HP/metrics | grep -q 'agentmon_remote_write_samples_total{remote_name="vm",.*result="dropped"} [1-9]' ||
    fail "serve: relabel drops are not counted"
kill $SV
wait $SV || fail "serve did not stop cleanly"
SV=
say "ok: serve: keep/drop/replace applied, both receivers got rwtest_keep_total=5, scraped samples too, drops counted"
say "PASS"
cleanup
