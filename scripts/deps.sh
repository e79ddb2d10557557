#!/bin/sh
# deps.sh: install the Debian packages that agentmon's build and tests need.
#
# Checks each package with `dpkg -s` and installs only what is missing, with
# apt-get as root. Does nothing (and needs no root) when everything is present.
# Nothing is downloaded from anywhere but Debian's package registry.
#
# Usage: scripts/deps.sh [build|test|all]   (default: all)
#
# redis-tools (redis-cli, redis-benchmark; redis-server pulls it in too) is
# named for what uses it directly: the coordinator's conservation test forms
# a Redis Cluster with redis-cli, am-bench measures the server's ceiling
# with redis-benchmark (also with --cluster).
#
# libjs-chart.js is Chart.js, compiled into the program's web dashboard;
# chromium, nodejs and npm run the dashboard's browser test and benchmark
# (scripts/npm-deps.sh then installs puppeteer-core from npm, nothing else).
set -eu

BUILD_PKGS="cmake make gcc clang pkg-config libcmocka-dev libclang-rt-14-dev
    libprotobuf-c-dev protobuf-c-compiler libsnappy-dev
    libmicrohttpd-dev libcurl4-openssl-dev libdeflate-dev zlib1g-dev libhiredis-dev
    libsqlite3-dev libpq-dev libjansson-dev libyaml-dev libpcre2-dev libssl-dev python3-dev
    python3-setuptools libjs-chart.js"
TEST_PKGS="prometheus prometheus-pushgateway python3-prometheus-client curl wrk openssl
    redis-server redis-tools postgresql prometheus-node-exporter prometheus-redis-exporter lcov
    prometheus-alertmanager python3-aiosmtpd python3-pytest python3-venv python3-pip gunicorn
    victoria-metrics chromium docker-compose python3-yaml prometheus-postgres-exporter"
# Node.js and npm: Debian's, unless a node with its own npm is installed
# already (NodeSource's nodejs ships npm and conflicts with Debian's npm).
NODE_PKGS="nodejs npm"
command -v npm >/dev/null 2>&1 && NODE_PKGS=""

case "${1:-all}" in
    build) want="$BUILD_PKGS" ;;
    test) want="$TEST_PKGS $NODE_PKGS" ;;
    all) want="$BUILD_PKGS $TEST_PKGS $NODE_PKGS" ;;
    *) echo "usage: $0 [build|test|all]" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
    if ! dpkg -s "$p" >/dev/null 2>&1; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

echo "deps.sh: installing missing Debian packages:$missing" >&2
if [ "$(id -u)" -ne 0 ]; then
    echo "deps.sh: need root to install:$missing (run: sudo $0 $*)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing >/dev/null
