#!/bin/sh
# store_crash.sh: an event the store acknowledged survives kill -9.
#
#   sh tests/integration/store_crash.sh [BUILDDIR]     (from the repo root)
#
# `store_writer write` (tests/integration/store_writer.c) submits records
# from 4 threads and prints each id once am_store_wait() said it is
# committed; it is killed with kill -9 mid-run, three times in a row on
# the same database, and then `store_writer check` must find every printed
# id, and the summary rollups must agree with the rows. Done on SQLite (a
# temp file; synchronous=NORMAL, the default) and on PostgreSQL (a
# throwaway cluster from tests/pg_cluster.sh, fsync on). The PostgreSQL
# half is skipped, saying so, when its binaries are missing. About 25 s.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${1:-build}
case $B in
/*) ;;
*) B=$ROOT/$B ;;
esac
W=$B/tests/store_writer

say() { printf 'store_crash: %s\n' "$*"; }

if [ -f "$B/CMakeCache.txt" ]; then
    log=${TMPDIR:-/tmp}/am-crash-build.$$
    if ! cmake --build "$B" --target store_writer >"$log" 2>&1; then
        tail -30 "$log"
        rm -f "$log"
        say "FAIL: building store_writer in $B failed"
        exit 1
    fi
    rm -f "$log"
fi
if [ ! -x "$W" ]; then
    say "FAIL: $W is missing; build first"
    exit 1
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/am-crash.XXXXXX") || exit 1
HAS_PG=0
cleanup() {
    [ $HAS_PG = 1 ] && sh "$ROOT/tests/pg_cluster.sh" stop "$TMP/pg" >/dev/null 2>&1
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

# crash_runs URI NAME: three writer runs killed mid-run, then the check.
crash_runs() {
    uri=$1
    name=$2
    : >"$TMP/$name.ids"
    for run in 1 2 3; do
        "$W" write "$uri" "$name$run" >>"$TMP/$name.ids" 2>"$TMP/$name.err" &
        pid=$!
        # killed once it has acknowledged some records (a second at least,
        # 30 at most): on a loaded machine opening the store can take more
        # than the second, and a run killed before its first ack tests nothing
        before=$(wc -l <"$TMP/$name.ids")
        sleep 1
        t=0
        while [ $(($(wc -l <"$TMP/$name.ids") - before)) -lt 50 ] && [ $t -lt 290 ] &&
            kill -0 "$pid" 2>/dev/null; do
            sleep 0.1
            t=$((t + 1))
        done
        if ! kill -0 "$pid" 2>/dev/null; then
            cat "$TMP/$name.err"
            say "FAIL: $name: the writer died before it was killed"
            return 1
        fi
        kill -9 "$pid"
        wait "$pid" 2>/dev/null
    done
    n=$("$W" check "$uri" "$TMP/$name.ids") || {
        say "FAIL: $name: an acknowledged record was lost, or the rollups disagree"
        return 1
    }
    if [ "$n" -lt 100 ]; then
        say "FAIL: $name: only $n records were acknowledged"
        return 1
    fi
    say "ok: $name: all $n acknowledged records survived 3 x kill -9"
}

fail=0
crash_runs "sqlite:$TMP/sqlite/agentmon.db" sqlite || fail=1

URI=$(sh "$ROOT/tests/pg_cluster.sh" start "$TMP/pg")
case $? in
0)
    HAS_PG=1
    crash_runs "$URI" postgres || fail=1
    ;;
77) say "SKIP postgres: no PostgreSQL binaries (apt-get install postgresql)" ;;
*)
    say "FAIL: could not start PostgreSQL"
    fail=1
    ;;
esac
[ $fail = 0 ] && say "PASS"
exit $fail
