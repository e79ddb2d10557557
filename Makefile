# agentmon: the commands people type.
#
#   make          build everything into build/
#   make test     unit tests, then again under ASan+UBSan, integration
#                 tests against real tools, and a short fuzz run
#   make bench    build optimised and run am-bench (JSON, one figure a line)
#   make coverage gcov build in build-cov: unit tests (+ the coordinator and
#                 store integration scripts), lines and branches per folder
#   make demo     run `agentmon demo`: a live multi-agent workload, served
#                 on 127.0.0.1:9470 with a terminal view
#   make screenshots  the README's dashboard pictures, from the browser test
#   make soak     serve + demo under hostile load for 40 minutes (not in CI)
#
# Each target first runs scripts/deps.sh, which installs missing Debian
# packages (as root, with apt-get) and does nothing when all are present.

BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all build deps test unit asan integration fuzz bench coverage demo soak metrics-doc clean screenshots

all: build

deps:
	@scripts/deps.sh build

build: deps
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

test:
	@scripts/deps.sh all
	@scripts/test.sh

unit: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS) -L unit

asan: deps
	@scripts/test.sh asan

integration: build
	@scripts/test.sh integration

fuzz: deps
	@scripts/test.sh fuzz

bench: deps
	@scripts/deps.sh test
	@cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DAM_BUILD_TESTS=OFF >/dev/null
	@cmake --build build-bench -j$(JOBS) --target am-bench agentmon slowloris
	@if grep -q '^AM_BUILD_PYTHON:BOOL=ON' build-bench/CMakeCache.txt; then \
		cmake --build build-bench -j$(JOBS) --target agentmon_python; fi
	@build-bench/am-bench
	@if command -v chromium >/dev/null && command -v node >/dev/null; then \
		NODE_MODULES=$$(scripts/npm-deps.sh) node bench/dashboard.js build-bench/agentmon; fi

# The README's screenshots (docs/img/dashboard-*.png), taken by the
# dashboard's browser test against a fresh demo.
screenshots: build
	@scripts/deps.sh test
	@AM_SCREENSHOTS_TO=docs/img sh tests/integration/dashboard.sh $(BUILD)

# Line and branch coverage per folder (gcc --coverage, lcov); the summary
# is printed and kept in build-cov/coverage/summary.txt, HTML beside it.
coverage: deps
	@scripts/deps.sh test
	@scripts/coverage.sh build-cov

# Not in `make test`: serve and the demo under a mixed hostile load for
# SOAK_SECONDS (default 40 minutes); memory, descriptors and threads must
# stay flat. Prints the figures as one JSON line.
soak: build
	@scripts/deps.sh test
	@cmake --build $(BUILD) -j$(JOBS) --target slowloris >/dev/null
	@/usr/bin/python3 scripts/soak.py $(BUILD) $${SOAK_SECONDS:-2400}

# Ctrl-C stops it; DEMO_ARGS adds options (e.g. DEMO_ARGS="--duration 60").
demo: build
	@$(BUILD)/agentmon demo $(DEMO_ARGS)

# docs/METRICS.md is generated from the definition tables in the code.
metrics-doc: build
	@$(BUILD)/agentmon metrics list --format markdown > docs/METRICS.md
	@echo "docs/METRICS.md regenerated"

clean:
	rm -rf build build-min build-asan build-tsan build-fuzz build-bench build-cov
