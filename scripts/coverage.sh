#!/bin/sh
# coverage.sh: line and branch coverage of the unit tests, per source folder.
#
#   scripts/coverage.sh [BUILD_DIR]       (default build-cov; `make coverage`)
#
# Builds with gcc --coverage (-O0, Debug; warnings not errors: -O0 makes gcc
# see false snprintf truncations) into BUILD_DIR, runs every unit test
# (those needing redis-server or PostgreSQL start them on loopback as usual),
# then the cheap integration scripts that drive the coordinator and the store
# through the real program (AM_COV_INTEGRATION=0 leaves them out). lcov (Debian
# `lcov`) gathers the counts; the summary prints one row per folder under src/
# (src/core, src/coord, src/serve/store, ...): lines hit/total and %, branches
# hit/total and %. The HTML report lands in BUILD_DIR/coverage/html.
#
# Branch counts are gcc's: every outcome of every condition, including the
# ones assert-like macros expand to, so branch percentages read lower than
# line percentages by nature.
set -eu
cd "$(dirname "$0")/.."
B=${1:-build-cov}
JOBS=$(nproc 2>/dev/null || echo 2)
out=$B/coverage
lc="--rc lcov_branch_coverage=1 --quiet"

cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Debug -DAM_WERROR=OFF -DAM_BUILD_BENCH=OFF \
    -DAM_BUILD_EXAMPLES=OFF -DAM_BUILD_PYTHON=OFF \
    -DCMAKE_C_FLAGS="--coverage -fprofile-update=atomic -O0" -DCMAKE_EXE_LINKER_FLAGS="--coverage" \
    -DCMAKE_SHARED_LINKER_FLAGS="--coverage" >/dev/null
cmake --build "$B" -j"$JOBS"
rm -rf "$out"
mkdir -p "$out"
lcov $lc --zerocounters --directory "$B"
# The baseline makes files no test reaches count as 0%, not vanish.
lcov $lc --capture --initial --directory "$B" --output-file "$out/base.info"

(cd "$B" && ctest -j"$JOBS" -L unit --output-on-failure) || echo "coverage.sh: some unit tests failed" >&2
if [ "${AM_COV_INTEGRATION:-1}" = 1 ]; then
    for t in coord_cli store_crash; do
        [ -f "tests/integration/$t.sh" ] || continue
        echo "-- tests/integration/$t.sh"
        sh "tests/integration/$t.sh" "$B" >"$out/$t.log" 2>&1 ||
            echo "coverage.sh: $t.sh failed (see $out/$t.log)" >&2
    done
fi

lcov $lc --capture --directory "$B" --output-file "$out/run.info"
lcov $lc -a "$out/base.info" -a "$out/run.info" -o "$out/all.info"
lcov $lc --extract "$out/all.info" "$PWD/src/*" -o "$out/src.info"
genhtml --branch-coverage --quiet -o "$out/html" "$out/src.info" >/dev/null 2>&1 || true

# One row per folder: src/<dir>, and src/serve/<dir> (ingest, store, api).
# lcov's tracefile: SF:<file> ... LF/LH lines found/hit, BRF/BRH branches.
awk -v root="$PWD/" '
function pct(h, f) { return f ? sprintf("%5.1f%%", 100 * h / f) : "    -" }
/^SF:/ {
    f = substr($0, 4); sub(root, "", f)
    n = split(f, p, "/")
    d = p[1] "/" p[2]
    if (p[2] == "serve" && n > 3) d = d "/" p[3]
    if (!(d in seen)) { seen[d] = 1; order[++nd] = d }
}
/^LF:/ { lf[d] += substr($0, 4) } /^LH:/ { lh[d] += substr($0, 4) }
/^BRF:/ { bf[d] += substr($0, 5) } /^BRH:/ { bh[d] += substr($0, 5) }
END {
    for (i = 1; i <= nd; i++) for (j = i + 1; j <= nd; j++)
        if (order[j] < order[i]) { t = order[i]; order[i] = order[j]; order[j] = t }
    printf "%-18s %15s %7s %15s %7s\n", "folder", "lines hit/total", "lines", "branches", "br"
    for (i = 1; i <= nd; i++) {
        d = order[i]
        printf "%-18s %7d/%-7d %7s %7d/%-7d %7s\n", d, lh[d], lf[d], pct(lh[d], lf[d]),
            bh[d], bf[d], pct(bh[d], bf[d])
        LF += lf[d]; LH += lh[d]; BF += bf[d]; BH += bh[d]
    }
    printf "%-18s %7d/%-7d %7s %7d/%-7d %7s\n", "total", LH, LF, pct(LH, LF), BH, BF, pct(BH, BF)
}' "$out/src.info" | tee "$out/summary.txt"
echo "per-file detail: lcov --list $out/src.info; HTML: $out/html/index.html"
