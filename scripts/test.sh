#!/bin/sh
# test.sh: everything `make test` runs, in order; stops at the first failure.
#
#   scripts/test.sh              all stages
#   scripts/test.sh STAGE...     only these: unit minimal asan tsan integration fuzz
#
# unit         source rules (scripts/check-src.sh), then a -Wall -Wextra -Werror
#              build and every unit test under ctest
# minimal      the library alone (every AM_WITH_* OFF): it builds, its unit
#              tests pass, and libagentmon.so needs nothing beyond libc and libm
# asan         the same tests built with AddressSanitizer+UBSan (LeakSanitizer
#              included), which also checks the fault-injection test for leaks
# tsan         the unit tests under ThreadSanitizer: the lock-free hot path,
#              lookups and exemplars must be free of data races
# integration  tests/integration/*.sh against real tools (promtool, Python's
#              prometheus_client parsers, ...); then no program built here may
#              still be running (each test stops what it started)
# fuzz         each libFuzzer target, briefly, over its committed corpus
set -eu
cd "$(dirname "$0")/.."
JOBS=$(nproc 2>/dev/null || echo 2)
stages=${*:-unit minimal asan tsan integration fuzz}

T0=$(date +%s)
# each stage's heading says when it began (minutes:seconds into the run),
# so a slow stage shows in any log of `make test`
say() { _t=$(($(date +%s) - T0)); printf '\n== %s == [%d:%02d]\n' "$*" $((_t / 60)) $((_t % 60)); }

for stage in $stages; do
    case $stage in
    unit)
        say "source rules"
        scripts/check-src.sh
        say "unit tests (-Werror)"
        cmake -S . -B build -DAM_WERROR=ON >/dev/null
        cmake --build build -j"$JOBS"
        (cd build && ctest --output-on-failure -j"$JOBS" -L unit)
        ;;
    asan)
        say "unit tests under AddressSanitizer + UndefinedBehaviorSanitizer"
        cmake -S . -B build-asan -DAM_SANITIZE=address,undefined -DAM_BUILD_BENCH=OFF \
            -DAM_BUILD_EXAMPLES=OFF -DCMAKE_BUILD_TYPE=Debug >/dev/null
        cmake --build build-asan -j"$JOBS"
        (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
            UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
            ctest --output-on-failure -j"$JOBS" -L unit)
        ;;
    tsan)
        say "unit tests under ThreadSanitizer"
        cmake -S . -B build-tsan -DAM_SANITIZE=thread -DAM_BUILD_BENCH=OFF \
            -DAM_BUILD_EXAMPLES=OFF -DCMAKE_BUILD_TYPE=Debug >/dev/null
        cmake --build build-tsan -j"$JOBS"
        (cd build-tsan && TSAN_OPTIONS=halt_on_error=1 \
            ctest --output-on-failure -j"$JOBS" -L unit)
        ;;
    integration)
        say "integration tests against real tools"
        [ -x build/agentmon ] || { cmake -S . -B build >/dev/null; cmake --build build -j"$JOBS"; }
        # Those that time responses, or kill and starve servers, run alone;
        # the others (each starts its own servers on free ports) one per core.
        alone="http_attack serve_hostile coord_conservation coord_hung_redis store_hung_pg
            store_disk_full"
        # A failure does not stop the stage: every script runs, and the
        # failed ones' output is shown again at its end (integration_one.sh).
        rm -rf build/integration-failed
        for t in $alone; do
            if [ -f "tests/integration/$t.sh" ]; then scripts/integration_one.sh "$t" || true; fi
        done
        ls tests/integration/*.sh | sed 's|.*/||; s|\.sh$||' | grep -vxF "$(echo $alone | tr ' ' '\n')" |
            xargs -P "$JOBS" -n 1 scripts/integration_one.sh || true
        # every test stops what it started: nothing built here may still run
        # (a few seconds' grace for processes still exiting)
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            left=$(for p in /proc/[0-9]*; do
                e=$(readlink "$p/exe" 2>/dev/null) || continue
                case $e in "$PWD"/build/*) echo "  ${p#/proc/} $(tr '\0' ' ' <"$p/cmdline")" ;; esac
            done)
            [ -n "$left" ] || break
            sleep 1
        done
        if [ -n "$left" ]; then
            echo "integration tests left these running:"
            echo "$left"
        fi
        if [ -d build/integration-failed ]; then
            say "integration: the output of each script that failed"
            for f in build/integration-failed/*.log; do
                head -1 "$f"
                tail -n +2 "$f" | tail -150
            done
            exit 1
        fi
        [ -z "$left" ] || exit 1
        ;;
    minimal)
        say "the library without optional dependencies (AM_WITH_*=OFF)"
        cmake -S . -B build-min -DAM_WERROR=ON -DAM_BUILD_BENCH=OFF -DAM_WITH_HTTP=OFF \
            -DAM_WITH_PUSH=OFF -DAM_WITH_REDIS=OFF -DAM_WITH_POSTGRES=OFF >/dev/null
        cmake --build build-min -j"$JOBS"
        (cd build-min && ctest -j"$JOBS" --output-on-failure)
        needed=$(readelf -d build-min/libagentmon.so | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
        for lib in $needed; do
            case $lib in
            libc.so.* | libm.so.* | ld-linux*) ;;
            *)
                echo "build-min/libagentmon.so needs $lib although every AM_WITH_* is OFF" >&2
                exit 1
                ;;
            esac
        done
        echo "libagentmon.so needs only:" $needed
        ;;
    fuzz)
        say "fuzz targets (libFuzzer, short run)"
        CC=clang cmake -S . -B build-fuzz -DAM_BUILD_FUZZ=ON -DAM_BUILD_TESTS=OFF \
            -DAM_BUILD_BENCH=OFF -DAM_BUILD_EXAMPLES=OFF -DAM_SANITIZE=address,undefined \
            -DCMAKE_BUILD_TYPE=Debug >/dev/null
        cmake --build build-fuzz -j"$JOBS"
        # one target per core at a time; xargs fails (123) if any did. The
        # stage has a budget (AM_FUZZ_BUDGET seconds, 240 by default) shared
        # by the targets, at least 10 s each, so a new target does not make
        # `make test` longer; scripts/fuzz_long.sh is for fuzzing in depth.
        targets=$(ls build-fuzz/fuzz | grep '^fuzz_')
        n=$(echo "$targets" | wc -l)
        per=$((${AM_FUZZ_BUDGET:-240} * JOBS / n))
        [ "$per" -ge 10 ] || per=10
        echo "$n targets, ${AM_FUZZ_SECONDS:-$per} s each"
        echo "$targets" | AM_FUZZ_SECONDS=${AM_FUZZ_SECONDS:-$per} xargs -P "$JOBS" -n 1 scripts/fuzz_short.sh
        ;;
    *)
        echo "test.sh: unknown stage $stage" >&2
        exit 2
        ;;
    esac
done
say "all stages passed: $stages"
