#!/bin/sh
# test_programs.sh AGENTMON: the two programs together, briefly -- `agentmon
# demo` (its agents, coordinator, alerting engine and log file) and
# `agentmon serve` scraping it, tailing its log, taking StatsD and sending
# remote_write (to the demo's HTTP server, whose 404 it drops: a 4xx is
# never retried), both answering their APIs -- started, worked and stopped.
#
# It is a ctest test so that it runs in every build `make test` makes: under
# ThreadSanitizer it finds races in how the programs start their threads
# and stop them, which the unit tests of the library cannot see (two were
# found this way: serve's scraper reading the remote_write exporter before
# it was set, the demo rewriting the registry pointer the alerting engine
# reads). Each program must exit 0 and print no sanitizer report.
set -eu
prog=$1
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d /tmp/am-programs.XXXXXX)
demo= serve=
cleanup() {
    [ -z "$demo" ] || kill "$demo" 2>/dev/null || true
    [ -z "$serve" ] || kill "$serve" 2>/dev/null || true
    [ -n "${KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
    echo "test_programs: $*" >&2
    for f in "$tmp"/*.out; do
        echo "---- $f" >&2
        tail -60 "$f" >&2
    done
    exit 1
}
# address NAME PID SED: where NAME (PID) listens, as SED finds it in its
# first lines (NAME.out), waiting up to 30 s for it to say so
address() {
    for _ in $(seq 300); do
        a=$(sed -n "$3" "$tmp/$1.out")
        [ -z "$a" ] || { echo "$a"; return; }
        kill -0 "$2" 2>/dev/null || fail "$1 exited at start"
        sleep 0.1
    done
    fail "$1 did not say where it listens"
}
cd "$src" # the demo's default rules are deploy/prometheus/alerts.yml

"$prog" demo --quiet --listen 127.0.0.1:0 --log "$tmp/demo.log" --duration 12 \
    --time-scale 0.1 >"$tmp/demo.out" 2>&1 &
demo=$!
url=$(address demo "$demo" 's/.*metrics at \(http[^ ,]*\).*/\1/p')

cat >"$tmp/serve.yml" <<EOF
remote_write:
  - url: ${url%/metrics}/api/v1/write
EOF
"$prog" serve --config "$tmp/serve.yml" --listen 127.0.0.1:0 --statsd 127.0.0.1:0 \
    --store "sqlite:$tmp/data/a.db" --scrape "$url" --scrape-interval 1s \
    --remote-write-interval 1s --tail "$tmp/demo.log" \
    --rules deploy/prometheus/alerts.yml >"$tmp/serve.out" 2>&1 &
serve=$!
surl=$(address serve "$serve" 's/.*HTTP on \([0-9.:]*\) .*/http:\/\/\1/p')
demo_url=${url%/metrics}

# While both work (scrapes, tails, remote_write batches, rule evaluations),
# what their users send: the demo's own log lines shipped to serve, the
# queries of the shipped rules and of the dashboard, a reload of the rules,
# the dashboard's and the DLQ's reads. Answers are not judged here (the
# integration tests do that): only that the programs stay sound.
get() {
    curl -sS -o /dev/null -w '%{http_code} %{url_effective}\n' --max-time 20 "$@" \
        >>"$tmp/requests.out" 2>&1 || true
}
for round in 1 2 3; do
    head -c 200000 "$tmp/demo.log" | sed '$d' >"$tmp/lines.ndjson"
    get -H 'Content-Type: application/x-ndjson' --data-binary @"$tmp/lines.ndjson" \
        "$surl/api/v1/logs"
    trace=$(sed -n 's/.*"trace_id":"\([0-9a-f]*\)".*/\1/p' "$tmp/lines.ndjson" | tail -1)
    for base in "$surl" "$demo_url"; do
        get "$base/metrics"
        get -H 'Accept: application/openmetrics-text' "$base/metrics"
        get "$base/api/v1/dashboard"
        # SlowTaskExecution's expression in deploy/prometheus/alerts.yml
        get "$base/api/v1/query?query=histogram_quantile(0.95%2C%20sum%20by%20(agent_id%2C%20le)%20(rate(agent_task_duration_seconds_bucket%5B5m%5D)))"
        get "$base/api/v1/query_range?query=up&start=$(($(date +%s) - 60))&end=$(date +%s)&step=5"
        get "$base/api/v1/query_exemplars?query=agent_task_duration_seconds_bucket"
        get "$base/api/v1/rules"
        get "$base/api/v1/alerts"
        get "$base/api/v1/logs?trace_id=$trace"
    done
    get -X POST "$surl/-/reload"
    get "$surl/api/v1/metrics/communication/summary?group_by=source_agent_id&step=60s"
    get "$demo_url/api/v1/dlq/coder:1"
    sleep 1
done

kill -0 "$serve" 2>/dev/null || fail "serve exited early"
kill -TERM "$serve"
st=0
wait "$serve" || st=$?
serve=
[ "$st" -eq 0 ] || fail "serve exited with $st"
st=0
wait "$demo" || st=$?
demo=
[ "$st" -eq 0 ] || fail "the demo exited with $st"
if grep -l "Sanitizer\|runtime error" "$tmp"/*.out >/dev/null; then
    fail "a sanitizer report"
fi
grep -q "agent steps" "$tmp/demo.out" || fail "the demo printed no summary"
echo "test_programs: ok"
