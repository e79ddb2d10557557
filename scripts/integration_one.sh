#!/bin/sh
# integration_one.sh NAME [BUILD]: tests/integration/NAME.sh against BUILD
# (build by default), its output kept aside and shown only when it fails,
# so that `make test` can run several at once and still read clearly.
# A failed script's whole output is also kept in BUILD/integration-failed/
# NAME.log, for scripts/test.sh to show again at the end of the stage (CI
# keeps only the end of a run's output).
set -eu
cd "$(dirname "$0")/.."
name=$1
build=${2:-build}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
start=$(date +%s)
if sh "tests/integration/$name.sh" "$build" >"$log" 2>&1; then
    echo "-- $name: ok ($(($(date +%s) - start)) s): $(tail -1 "$log")"
else
    rc=$?
    tail -80 "$log"
    echo "-- $name: FAILED (exit $rc after $(($(date +%s) - start)) s)"
    mkdir -p "$build/integration-failed"
    { echo "-- $name: FAILED (exit $rc after $(($(date +%s) - start)) s), ended $(date -u +%H:%M:%S)"; cat "$log"; } \
        >"$build/integration-failed/$name.log"
    exit 1
fi
