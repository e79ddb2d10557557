#!/bin/sh
# deploy_bundle.sh: the deploy bundle (deploy/Dockerfile, docker-compose.yml,
# systemd/, prometheus.yml's scrape jobs, runbook links) is valid for the
# tools it is written for and agrees with itself and with agentmon.
#
#   sh tests/integration/deploy_bundle.sh [BUILDDIR]     (from the repo root)
#
# 1. deploy_bundle.py: scrape jobs, runbook_url <-> docs/RUNBOOKS.md
#    sections, compose services' addresses against prometheus.yml and the
#    Grafana provisioning, the image's runtime packages against the
#    libraries the program needs.
# 2. docker-compose config -q (Debian's docker-compose 1.29, which validates
#    without a Docker daemon; nothing is built or run here).
# 3. systemd-analyze verify on the unit (its ExecStart pointed at BUILDDIR's
#    agentmon, as verify wants the program to exist).
# (promtool/amtool on prometheus.yml and alertmanager.yml, and agentmon serve
# on deploy/systemd/serve.yml: deploy_config.sh; the rules' unit tests:
# alert_rules.sh.)
# Skips a tool that is missing, saying so.
set -u
B=${1:-build}
PY=/usr/bin/python3
rc=0
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
if [ -x "$PY" ] && "$PY" -c 'import yaml' 2>/dev/null; then
    "$PY" tests/integration/deploy_bundle.py "$B/agentmon" || rc=1
else
    echo "deploy_bundle: SKIP the cross-checks (no $PY with PyYAML)"
fi
if command -v docker-compose >/dev/null; then
    docker-compose -f deploy/docker-compose.yml config -q >"$D/compose" 2>&1 ||
        { cat "$D/compose"; echo "deploy_bundle: docker-compose config refused deploy/docker-compose.yml"; rc=1; }
else
    echo "deploy_bundle: SKIP docker-compose config (no docker-compose)"
fi
if command -v systemd-analyze >/dev/null; then
    sed "s|/usr/local/bin/agentmon|$(cd "$B" && pwd)/agentmon|" deploy/systemd/agentmon-serve.service \
        >"$D/agentmon-serve.service"
    systemd-analyze verify "$D/agentmon-serve.service" >"$D/verify" 2>&1 ||
        { cat "$D/verify"; echo "deploy_bundle: systemd-analyze verify refused the unit"; rc=1; }
else
    echo "deploy_bundle: SKIP systemd-analyze (no systemd)"
fi
[ $rc = 0 ] && echo "deploy_bundle: ok"
exit $rc
