#!/bin/sh
# pg_multi.sh: several `agentmon serve` on one PostgreSQL (issue 16 item 3,
# docs/SCALE.md). Three collectors start at once on a throwaway cluster
# (tests/pg_cluster.sh; one migrates, the others wait for it); clients send
# task events to all three, a fifth of them to two collectors (the same
# ids), and the collector that runs retention is killed -9 mid-run (its
# clients resend what it did not acknowledge to another, as a client
# does). Then: every row is stored once, the rollup tables hold exactly
# the rows, the row, paged-row and summary routes give the same answers
# whichever collector is asked (a cursor of one collector pages on
# another), retention ran on one collector at a time, and a survivor took
# it over. pg_multi.py does the work. Loopback only.
#
#   sh tests/integration/pg_multi.sh [BUILDDIR]      (from the repo root)
set -u
BUILD=${1:-build}
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "pg_multi: SKIP: $PY missing"; exit 0; }
command -v psql >/dev/null 2>&1 || { echo "pg_multi: SKIP: psql missing"; exit 0; }
if [ -f "$BUILD/CMakeCache.txt" ]; then
    cmake --build "$BUILD" --target agentmon >/dev/null || { echo "pg_multi: FAIL: build"; exit 1; }
fi
AGENTMON=$(cd "$BUILD" && pwd)/agentmon
TMP=$(mktemp -d "${TMPDIR:-/tmp}/am-pgmulti.XXXXXX") || exit 1
cleanup() {
    sh tests/pg_cluster.sh stop "$TMP/pg" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
URI=$(sh tests/pg_cluster.sh start "$TMP/pg")
rc=$?
[ $rc -eq 77 ] && { echo "pg_multi: SKIP: no PostgreSQL"; exit 0; }
[ $rc -eq 0 ] || { echo "pg_multi: FAIL: PostgreSQL did not start"; exit 1; }
timeout 600 "$PY" tests/integration/pg_multi.py "$AGENTMON" "$URI" "$TMP"
