#!/bin/sh
# fuzz_long.sh: run libFuzzer targets for longer than `make test` does and
# keep what they found: the inputs that add coverage are merged into the
# committed corpus (tests/fuzz/corpus/NAME), a crash stops with its input.
#
#   scripts/fuzz_long.sh [SECONDS] [NAME...]    (default 300 s, every target)
#
# Uses build-fuzz (clang, ASan+UBSan), built here when missing.
set -eu
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-300}
[ $# -gt 0 ] && shift
JOBS=$(nproc 2>/dev/null || echo 2)
CC=clang cmake -S . -B build-fuzz -DAM_BUILD_FUZZ=ON -DAM_BUILD_TESTS=OFF -DAM_BUILD_BENCH=OFF \
    -DAM_BUILD_EXAMPLES=OFF -DAM_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-fuzz -j"$JOBS" >/dev/null
names=${*:-$(ls build-fuzz/fuzz/ | grep '^fuzz_')}
for name in $names; do
    f=build-fuzz/fuzz/$name
    corpus=tests/fuzz/corpus/$name
    mkdir -p "$corpus"
    work=$(mktemp -d)
    cp -r "$corpus"/. "$work"/ 2>/dev/null || true
    dict=""
    [ -f "tests/fuzz/$name.dict" ] && dict="-dict=tests/fuzz/$name.dict"
    if ! "$f" $dict -max_total_time="$SECONDS_EACH" -print_final_stats=1 "$work" \
        >"$work.log" 2>&1; then
        tail -40 "$work.log"
        echo "fuzz_long: $name FAILED (its input is in the current directory)"
        exit 1
    fi
    before=$(ls "$corpus" | wc -l)
    "$f" -merge=1 "$corpus" "$work" >/dev/null 2>&1
    after=$(ls "$corpus" | wc -l)
    runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$work.log" | grep -o '[0-9]*$')
    echo "fuzz_long: $name clean: ${runs:-?} runs in ${SECONDS_EACH}s, corpus $before -> $after"
    rm -rf "$work" "$work.log"
done
