#!/bin/sh
# alert_diff.sh: agentmon's alerting engine against a real Prometheus.
#
#   sh tests/integration/alert_diff.sh [BUILDDIR]        (from the repo root)
#
# alert_target serves scripted agentmon series (task histograms with the
# buckets agentmon exposes, counters, a reset, a series that vanishes); a
# real Prometheus (Debian's 2.42) scrapes it every second and evaluates
# tests/integration/rules/diff_rules.yml for about a minute. Then
# alert_diff.py reads Prometheus' raw samples and evaluation times back
# from its API, replays them into agentmon's engine (alert_replay), and
# compares recorded series, ALERTS / ALERTS_FOR_STATE at every evaluation,
# instant queries, and the final alerts: values within 1e-9 relative,
# labels and states exactly.
#
# An evaluation that starts within 100 ms after a scrape may or may not see
# that scrape in Prometheus, so such a run is inconclusive: it is run again
# (up to three times, new ports give new scrape offsets).
#
# Skips (exit 0, saying so) when prometheus is missing.
set -u
B=${1:-build}
command -v prometheus >/dev/null || { echo "alert_diff: SKIP (no prometheus)"; exit 0; }
[ -x "$B/tests/alert_target" ] && [ -x "$B/tests/alert_replay" ] ||
    { echo "alert_diff: build alert_target and alert_replay first" >&2; exit 1; }
RULES=$(pwd)/tests/integration/rules/diff_rules.yml
. "$(dirname "$0")/lib.inc"

run_once() {
    D=$(mktemp -d)
    "$B/tests/alert_target" >"$D/port" 2>"$D/target.log" & TG=$!
    until [ -s "$D/port" ]; do sleep 0.05; done
    TP=$(head -1 "$D/port")
    PP=$(free_port)
    cat >"$D/p.yml" <<E
global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: ["$RULES"]
scrape_configs:
  - job_name: agentmon
    static_configs: [{targets: ["127.0.0.1:$TP"]}]
E
    prometheus --config.file="$D/p.yml" --storage.tsdb.path="$D/data" \
        --web.listen-address=127.0.0.1:$PP >"$D/prom.log" 2>&1 & PR=$!
    until curl -fsS "http://127.0.0.1:$PP/-/ready" >/dev/null 2>&1; do sleep 0.1; done
    # the offsets of scrapes and evaluations are fixed from the start: when
    # an evaluation would fall just after a scrape, start again at once
    sleep 7 # every group has been evaluated once (the slowest runs every 5 s)
    if ! python3 tests/integration/alert_diff.py "http://127.0.0.1:$PP" --phase; then
        kill $PR $TG 2>/dev/null; wait $PR 2>/dev/null; wait $TG 2>/dev/null
        rm -rf "$D"
        return 76
    fi
    # the script runs 45 s; leave room for the last transitions
    sleep 48
    python3 tests/integration/alert_diff.py "http://127.0.0.1:$PP" "$B/tests/alert_replay" \
        "$RULES" agentmon
    rc=$?
    kill $PR $TG 2>/dev/null; wait $PR 2>/dev/null; wait $TG 2>/dev/null
    [ $rc = 0 ] || [ $rc = 75 ] || { echo "-- prometheus log:"; tail -5 "$D/prom.log"; }
    rm -rf "$D"
    return $rc
}

n_full=0
for attempt in 1 2 3 4 5 6 7 8 9 10 11 12; do
    run_once; rc=$?
    [ $rc = 76 ] && continue # racy offsets, seen in 4 s: other ports
    [ $rc = 75 ] || break
    n_full=$((n_full + 1))
    echo "alert_diff: attempt $attempt inconclusive, again"
    [ $n_full -ge 3 ] && break
done
[ $rc = 76 ] && echo "alert_diff: FAIL: every start had an evaluation just after a scrape"
[ $rc = 0 ] && echo "alert_diff: ok"
exit $rc
