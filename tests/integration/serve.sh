#!/bin/sh
# serve.sh: `agentmon serve` end to end, on SQLite and on PostgreSQL (a
# throwaway cluster, tests/pg_cluster.sh): check_serve.py drives it with
# HTTP events, StatsD datagrams, a real Prometheus on both sides of a
# scrape, promtool, and kill -9 under load (every acknowledged event must
# survive).
#
#   sh tests/integration/serve.sh [BUILDDIR]      (from the repo root)
#
# Skips (exit 0, saying so) when prometheus or Debian's python3 is missing;
# the PostgreSQL half skips when PostgreSQL is not installed.
set -u
BUILD=${1:-build}
PY=/usr/bin/python3
command -v prometheus >/dev/null 2>&1 || { echo "serve: SKIP: prometheus not installed"; exit 0; }
[ -x "$PY" ] || { echo "serve: SKIP: $PY missing"; exit 0; }
if [ -f "$BUILD/CMakeCache.txt" ]; then
    cmake --build "$BUILD" --target agentmon >/dev/null || { echo "serve: FAIL: build"; exit 1; }
fi
AGENTMON=$(cd "$BUILD" && pwd)/agentmon
TMP=$(mktemp -d "${TMPDIR:-/tmp}/am-serve.XXXXXX") || exit 1
cleanup() {
    sh tests/pg_cluster.sh stop "$TMP/pg" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

mkdir "$TMP/sqlite"
"$PY" tests/integration/check_serve.py "$AGENTMON" "sqlite:$TMP/sqlite/agentmon.db" \
    "$TMP/sqlite" || { tail -30 "$TMP/sqlite/serve.out"; exit 1; }

URI=$(sh tests/pg_cluster.sh start "$TMP/pg")
case $? in
0) ;;
77) echo "serve: SKIP postgres: not installed"; exit 0 ;;
*) echo "serve: FAIL: PostgreSQL did not start"; exit 1 ;;
esac
mkdir "$TMP/pgrun"
"$PY" tests/integration/check_serve.py "$AGENTMON" "$URI" "$TMP/pgrun" ||
    { tail -30 "$TMP/pgrun/serve.out"; exit 1; }
echo "serve: PASS"
