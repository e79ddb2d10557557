#!/bin/sh
# metrics_doc.sh: docs/METRICS.md is exactly what the code's catalogue says.
#
#   sh tests/integration/metrics_doc.sh [BUILDDIR]      (from the repo root)
#
# The catalogue is printed from the metric definition tables the code
# registers from, so a metric added, renamed or relabelled in the code
# without `make metrics-doc` fails here, with the difference shown.
set -u
BUILD=${1:-build}
if [ -f "$BUILD/CMakeCache.txt" ]; then
    cmake --build "$BUILD" --target agentmon >/dev/null || { echo "metrics_doc: FAIL: build"; exit 1; }
fi
TMP=$(mktemp)
trap 'rm -f "$TMP"' EXIT
"$BUILD/agentmon" metrics list --format markdown >"$TMP" || { echo "metrics_doc: FAIL: agentmon metrics list"; exit 1; }
if ! diff -u docs/METRICS.md "$TMP"; then
    echo "metrics_doc: FAIL: docs/METRICS.md is stale; run: make metrics-doc"
    exit 1
fi
echo "metrics_doc: PASS: docs/METRICS.md matches the catalogue ($(grep -c '^| `' docs/METRICS.md) metrics)"
