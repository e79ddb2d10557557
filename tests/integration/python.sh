#!/bin/sh
# python.sh: the Python binding (bindings/python) -- its pytest suite with
# Debian's /usr/bin/python3 and python3-pytest against the build tree
# (PYTHONPATH=build/python), which includes a real pip install into a venv,
# a real gunicorn whose workers are killed mid-load, redis-server,
# prometheus-pushgateway and Prometheus scraping the example agent.
#
#   sh tests/integration/python.sh [BUILD_DIR]
#
# Skips (exit 0) when python3-dev was missing at configure time (no module).
set -eu
BUILD=${1:-build}
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
if ! grep -q '^AM_BUILD_PYTHON:BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null; then
    echo "python.sh: skipped (the build has no Python module: install python3-dev)"
    exit 0
fi
if ! $PY -c 'import pytest' 2>/dev/null; then
    echo "python.sh: python3-pytest is missing (scripts/deps.sh test)" >&2
    exit 1
fi
cmake --build "$BUILD" -j"$(nproc 2>/dev/null || echo 2)" --target agentmon_python agentmon >/dev/null
PYTHONPATH="$BUILD/python" AGENTMON_BUILD="$(cd "$BUILD" && pwd)" \
    exec $PY -m pytest -q -p no:cacheprovider bindings/python/tests
