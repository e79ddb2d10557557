#!/bin/sh
# fuzz_short.sh NAME: one libFuzzer target of build-fuzz, briefly
# (AM_FUZZ_SECONDS, 30 by default), over a copy of its committed corpus, so
# the run adds nothing to the tree. On a crash prints the log's end (the
# input is written to the current directory) and fails. `make test`'s fuzz
# stage runs as many of these at once as there are cores.
set -eu
cd "$(dirname "$0")/.."
name=$1
corpus=tests/fuzz/corpus/$name
work=$(mktemp -d)
trap 'rm -rf "$work" "$work.log"' EXIT
[ -d "$corpus" ] && cp -r "$corpus"/. "$work"/
dict=""
[ -f "tests/fuzz/$name.dict" ] && dict="-dict=tests/fuzz/$name.dict"
if ! "build-fuzz/fuzz/$name" $dict -max_total_time="${AM_FUZZ_SECONDS:-30}" \
    -print_final_stats=0 "$work" >"$work.log" 2>&1; then
    tail -50 "$work.log"
    echo "-- $name FAILED"
    exit 1
fi
echo "-- $name: $(tail -1 "$work.log")"
