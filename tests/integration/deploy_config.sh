#!/bin/sh
# deploy_config.sh: the shipped configurations are valid for the tools
# they are written for, and agentmon loads them too.
#
#   sh tests/integration/deploy_config.sh [BUILDDIR]     (from the repo root)
#
#   deploy/prometheus/alertmanager.yml  amtool check-config (Debian's
#                                       prometheus-alertmanager), and
#                                       agentmon serve --notify-config
#   deploy/prometheus/prometheus.yml    promtool check config (rule_files,
#                                       alerting:); its alerting: block is
#                                       loaded by agentmon as well
#
# Skips a tool that is missing, saying so.
set -u
B=${1:-build}
rc=0
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
if command -v amtool >/dev/null; then
    amtool check-config deploy/prometheus/alertmanager.yml >"$D/amtool" 2>&1 ||
        { cat "$D/amtool"; rc=1; }
else
    echo "deploy_config: SKIP amtool (no prometheus-alertmanager)"
fi
if command -v promtool >/dev/null; then
    promtool check config deploy/prometheus/prometheus.yml >"$D/promtool" 2>&1 ||
        { cat "$D/promtool"; rc=1; }
else
    echo "deploy_config: SKIP promtool (no prometheus)"
fi
# agentmon: the rules and the notifiers load (it starts, then stops)
# shellcheck disable=SC2016
sed -n '/^alerting:/,$p' deploy/prometheus/prometheus.yml | sed '/^scrape_configs:/,$d' >"$D/alerting.yml"
for cfg in deploy/prometheus/alertmanager.yml "$D/alerting.yml"; do
    "$B/agentmon" serve --listen 127.0.0.1:0 --statsd off --store "sqlite:$D/db/agentmon.db" \
        --system-interval 0 --rules deploy/prometheus/alerts.yml --notify-config "$cfg" \
        >"$D/serve.log" 2>&1 & P=$!
    n=0
    until grep -q 'HTTP on' "$D/serve.log" || ! kill -0 $P 2>/dev/null; do
        sleep 0.1; n=$((n + 1)); [ $n -lt 100 ] || break
    done
    if grep -q 'HTTP on' "$D/serve.log"; then
        kill $P; wait $P
    else
        echo "deploy_config: agentmon refused $cfg:"; cat "$D/serve.log"; rc=1
        kill $P 2>/dev/null; wait $P 2>/dev/null
    fi
done
[ $rc = 0 ] && echo "deploy_config: ok"
exit $rc
