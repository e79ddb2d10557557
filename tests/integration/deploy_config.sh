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
#   deploy/systemd/serve.yml            agentmon serve --config (as the
#                                       systemd unit runs it), also with its
#                                       commented alerting lines in use
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
AGENTMON=$B/agentmon
. tests/integration/lib.inc
# shellcheck disable=SC2016
sed -n '/^alerting:/,$p' deploy/prometheus/prometheus.yml | sed '/^scrape_configs:/,$d' >"$D/alerting.yml"
for cfg in deploy/prometheus/alertmanager.yml "$D/alerting.yml"; do
    serve_starts "$D" deploy_config --listen 127.0.0.1:0 --statsd off \
        --store "sqlite:$D/db/agentmon.db" --system-interval 0 \
        --rules deploy/prometheus/alerts.yml --notify-config "$cfg" || rc=1
done
# deploy/systemd/serve.yml as the unit gives it (listen, StatsD and store
# moved to port 0 and $D), and with its commented rules:/notify-config:
# lines in use, pointed at deploy/prometheus/
sed -e 's|^#   rules: /etc/agentmon/prometheus/|rules: '"$(pwd)"'/deploy/prometheus/|' \
    -e 's|^#   notify-config: /etc/agentmon/prometheus/|notify-config: '"$(pwd)"'/deploy/prometheus/|' \
    deploy/systemd/serve.yml >"$D/serve-alerting.yml"
grep -q '^rules:' "$D/serve-alerting.yml" && grep -q '^notify-config:' "$D/serve-alerting.yml" ||
    { echo "deploy_config: serve.yml lost its commented rules:/notify-config: lines"; rc=1; }
for cfg in deploy/systemd/serve.yml "$D/serve-alerting.yml"; do
    rm -rf "$D/db"
    serve_starts "$D" deploy_config --config "$cfg" --listen 127.0.0.1:0 --statsd off \
        --store "sqlite:$D/db/agentmon.db" --system-interval 0 || { rc=1; continue; }
    case $cfg in
    *alerting*) grep -q ' 1 rule file' "$D/serve.log" ||
        { echo "deploy_config: serve did not load serve.yml's rules:"; cat "$D/serve.log"; rc=1; } ;;
    esac
done
[ $rc = 0 ] && echo "deploy_config: ok"
exit $rc
