#!/bin/sh
# interop.sh: our encoders' output, read by tools nobody here wrote.
#
#   sh tests/integration/interop.sh [BUILDDIR]        (from the repo root)
#
# For seeds 1..N (N = $AM_INTEROP_SEEDS, default 25) gen_exposition builds a
# randomized registry and writes out.prom, out.om, out.json and truth.json;
# then
#   - promtool check metrics < out.prom must exit 0 with no output: a parse
#     error (exit 1) and a lint warning (exit 3) both fail the seed;
#   - check_parsers.py reads the three files with prometheus_client's
#     Prometheus-text and OpenMetrics parsers and Python's json, and compares
#     every family, sample, label set, value and exemplar with truth.json.
# Then fixed cases: the example program in its three formats, the process_*
# metrics in three formats, and the golden files under tests/unit/golden/
# (*.prom through promtool and the Python parser, *.om through the
# OpenMetrics parser, *.json through strict JSON), when there are any.
#
# One line per seed; the first failure stops the run with the seed, the
# reason and the command that reproduces it (seeds are deterministic).
#
# Environment:
#   AM_INTEROP_SEEDS=N       how many seeds (default 25)
#   AM_INTEROP_FIRST=K       first seed (default 1)
#   AM_INTEROP_KEEP=1        keep the temporary directory and say where
#
# Skips (exit 0, saying so) when promtool or Debian's python3 with
# prometheus_client is missing; scripts/deps.sh installs both.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${1:-build}
case $B in
/*) ;;
*) B=$ROOT/$B ;;
esac
N=${AM_INTEROP_SEEDS:-25}
FIRST=${AM_INTEROP_FIRST:-1}
PY=/usr/bin/python3
CHECK=$ROOT/tests/integration/check_parsers.py
GEN=$B/tests/gen_exposition
EXAMPLE=$B/examples/example_agent

say() { printf 'interop: %s\n' "$*"; }

if ! command -v promtool >/dev/null 2>&1; then
    say "SKIP: promtool is not installed (apt-get install prometheus)"
    exit 0
fi
if ! "$PY" -c 'import prometheus_client' >/dev/null 2>&1; then
    say "SKIP: $PY has no prometheus_client (apt-get install python3-prometheus-client)"
    exit 0
fi

# Bring the two programs up to date when BUILDDIR is a CMake build tree.
if [ -f "$B/CMakeCache.txt" ]; then
    log=${TMPDIR:-/tmp}/am-interop-build.$$
    if ! cmake --build "$B" --target gen_exposition example_agent >"$log" 2>&1; then
        tail -30 "$log"
        rm -f "$log"
        say "FAIL: building gen_exposition and example_agent in $B failed"
        exit 1
    fi
    rm -f "$log"
fi
for prog in "$GEN" "$EXAMPLE"; do
    if [ ! -x "$prog" ]; then
        say "FAIL: $prog is missing; build first (cmake -S . -B build && cmake --build build)"
        exit 1
    fi
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/am-interop.XXXXXX") || exit 1
cleanup() {
    if [ "${AM_INTEROP_KEEP:-0}" = 1 ]; then
        say "kept $TMP"
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# fail SEED-OR-CASE REASON FILE REPRO: print the reason, FILE's head, how to
# reproduce, and stop.
fail() {
    say "FAIL $1: $2"
    if [ -n "$3" ] && [ -s "$3" ]; then
        head -c 4000 "$3" | sed 's/^/    /'
        echo
    fi
    [ -n "$4" ] && say "reproduce: $4"
    exit 1
}

# promtool_clean CASE FILE REPRO: promtool must accept FILE with no warning.
promtool_clean() {
    promtool check metrics <"$2" >"$TMP/promtool.out" 2>&1
    rc=$?
    if [ "$rc" -ne 0 ]; then
        case $rc in
        1) why="promtool check metrics exited 1 (parse error)" ;;
        3) why="promtool check metrics exited 3 (lint warnings)" ;;
        *) why="promtool check metrics exited $rc" ;;
        esac
        fail "$1" "$why" "$TMP/promtool.out" "$3"
    fi
    if [ -s "$TMP/promtool.out" ]; then
        fail "$1" "promtool check metrics exited 0 but printed something" "$TMP/promtool.out" "$3"
    fi
}

# ---------------------------------------------------------------- seeds
s=$FIRST
last=$((FIRST + N - 1))
while [ "$s" -le "$last" ]; do
    d=$TMP/seed$s
    mkdir -p "$d"
    repro="mkdir -p /tmp/s$s && $GEN $s /tmp/s$s"
    repro="$repro && promtool check metrics < /tmp/s$s/out.prom && $PY $CHECK /tmp/s$s"
    if ! "$GEN" "$s" "$d" >"$d/gen.out" 2>&1; then
        fail "seed $s" "gen_exposition failed" "$d/gen.out" "$repro"
    fi
    promtool_clean "seed $s" "$d/out.prom" "$repro"
    if ! "$PY" "$CHECK" "$d" >"$d/check.out" 2>&1; then
        fail "seed $s" "the parsers disagree with the truth" "$d/check.out" "$repro"
    fi
    say "seed $s $(cat "$d/check.out"), promtool clean"
    [ "${AM_INTEROP_KEEP:-0}" = 1 ] || rm -rf "$d"
    s=$((s + 1))
done

# ---------------------------------------------------------------- fixed cases
ex=$TMP/example
mkdir -p "$ex"
"$EXAMPLE" >"$ex/out.prom" 2>"$ex/err" || fail "example" "example_agent failed" "$ex/err" "$EXAMPLE"
"$EXAMPLE" --openmetrics >"$ex/out.om" 2>"$ex/err" ||
    fail "example --openmetrics" "example_agent failed" "$ex/err" "$EXAMPLE --openmetrics"
"$EXAMPLE" --json >"$ex/out.json" 2>"$ex/err" ||
    fail "example --json" "example_agent failed" "$ex/err" "$EXAMPLE --json"
promtool_clean "example" "$ex/out.prom" "$EXAMPLE | promtool check metrics"
for f in prom om json; do
    if ! "$PY" "$CHECK" --parse-only "--$f" "$ex/out.$f" >"$ex/check.out" 2>&1; then
        fail "example ($f)" "a parser rejected the example's output" "$ex/check.out" \
            "$EXAMPLE | $PY $CHECK --parse-only --$f /dev/stdin"
    fi
done
say "example_agent: Prometheus text, OpenMetrics and JSON accepted, promtool clean"

pm=$TMP/process
mkdir -p "$pm"
"$GEN" --process "$pm" >"$pm/err" 2>&1 ||
    fail "process metrics" "gen_exposition --process failed" "$pm/err" "$GEN --process /tmp/pm"
promtool_clean "process metrics" "$pm/process.prom" "$GEN --process /tmp/pm"
if ! "$PY" "$CHECK" --parse-only --prom "$pm/process.prom" --om "$pm/process.om" \
    --json "$pm/process.json" >"$pm/check.out" 2>&1; then
    fail "process metrics" "a parser rejected them" "$pm/check.out" "$GEN --process /tmp/pm"
fi
say "process_* metrics: Prometheus text, OpenMetrics and JSON accepted, promtool clean"

n_golden=0
for g in "$ROOT"/tests/unit/golden/*.prom; do
    [ -f "$g" ] || continue
    promtool_clean "golden $(basename "$g")" "$g" "promtool check metrics < $g"
    "$PY" "$CHECK" --parse-only --prom "$g" >"$TMP/golden.out" 2>&1 ||
        fail "golden $(basename "$g")" "prometheus_client rejected it" "$TMP/golden.out" ""
    n_golden=$((n_golden + 1))
done
for g in "$ROOT"/tests/unit/golden/*.om; do
    [ -f "$g" ] || continue
    "$PY" "$CHECK" --parse-only --om "$g" >"$TMP/golden.out" 2>&1 ||
        fail "golden $(basename "$g")" "the OpenMetrics parser rejected it" "$TMP/golden.out" ""
    n_golden=$((n_golden + 1))
done
for g in "$ROOT"/tests/unit/golden/*.json; do
    [ -f "$g" ] || continue
    "$PY" "$CHECK" --parse-only --json "$g" >"$TMP/golden.out" 2>&1 ||
        fail "golden $(basename "$g")" "not strict JSON" "$TMP/golden.out" ""
    n_golden=$((n_golden + 1))
done
say "golden files checked: $n_golden"
say "PASS: seeds $FIRST..$last, example_agent, process metrics, $n_golden golden file(s)"
