#!/bin/sh
# serve.sh: `agentmon serve` end to end -- first with no options at all, as
# the README runs it -- then on SQLite and on PostgreSQL (a
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

# The defaults, as the README runs it: 127.0.0.1:9470 and udp :8125 (when
# free here), the store directory created.
if "$PY" -c 'import socket,sys
for kind, port in ((socket.SOCK_STREAM, 9470), (socket.SOCK_DGRAM, 8125)):
    s = socket.socket(socket.AF_INET, kind)
    try: s.bind(("127.0.0.1", port))
    except OSError: sys.exit(1)
    s.close()'; then
    mkdir "$TMP/defaults"
    (cd "$TMP/defaults" && exec "$AGENTMON" serve >out 2>&1) &
    pid=$!
    i=0
    until curl -sf http://127.0.0.1:9470/health >/dev/null 2>&1; do
        i=$((i + 1))
        [ $i -gt 50 ] && { echo "serve: FAIL: no answer on the default port"; cat "$TMP/defaults/out"; kill $pid; exit 1; }
        sleep 0.1
    done
    kill -TERM $pid
    wait $pid || { echo "serve: FAIL: exit status $? after SIGTERM"; exit 1; }
    [ -f "$TMP/defaults/agentmon-data/agentmon.db" ] ||
        { echo "serve: FAIL: no store at the default path"; exit 1; }
    echo "serve: ok: defaults (127.0.0.1:9470, udp 127.0.0.1:8125, ./agentmon-data/agentmon.db)"
else
    echo "serve: SKIP defaults: 9470 or 8125 is in use here"
fi

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
