#!/bin/sh
# rules_verdict.sh: `agentmon rules check|test` give promtool's verdict.
#
#   sh tests/integration/rules_verdict.sh [BUILDDIR]        (from the repo root)
#
# - every unit-test file of tests/integration/rules/ (passing and failing
#   ones, broken ones) and deploy/prometheus/alerts_test.yml: the same exit
#   status from `promtool test rules` and `agentmon rules test`, and for a
#   failing file the same failures (the "expr:", "alertname:" and "rule:"
#   lines, compared as sets);
# - every rule file of tests/integration/rules/check/: the same exit status
#   from `promtool check rules` and `agentmon rules check`, and both say
#   FAILED or neither;
# - rules/refused/: PromQL Prometheus accepts but agentmon's subset does not
#   (a subquery, holt_winters): agentmon refuses the file, naming the line.
# Then promql_oracle.py: a thousand-odd expressions evaluated by both, and
# template_oracle.py: sixty-odd Go templates expanded by both.
#
# Skips (exit 0, saying so) when promtool is missing.
set -u
B=${1:-build}
A=$B/agentmon
[ -x "$A" ] || { echo "rules_verdict: build $A first" >&2; exit 1; }
command -v promtool >/dev/null || { echo "rules_verdict: SKIP (no promtool)"; exit 0; }
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
fail=0

failures() { grep -E '^    (expr|alertname|rule|name):' "$1" | sort; }

for f in tests/integration/rules/*_test.yml deploy/prometheus/alerts_test.yml; do
    promtool test rules "$f" >"$D/p.out" 2>"$D/p.err"; p=$?
    "$A" rules test "$f" >"$D/a.out" 2>"$D/a.err"; a=$?
    if [ "$p" != "$a" ]; then
        echo "FAIL $f: promtool exit $p, agentmon exit $a"; cat "$D/p.err" "$D/a.err"; fail=1; continue
    fi
    failures "$D/p.err" >"$D/p.f"; failures "$D/a.err" >"$D/a.f"
    if ! cmp -s "$D/p.f" "$D/a.f"; then
        echo "FAIL $f: different failures"; diff "$D/p.f" "$D/a.f"; fail=1; continue
    fi
    echo "ok   $f: exit $p ($(wc -l <"$D/p.f") failures, the same)"
done

for f in tests/integration/rules/check/*.yml; do
    promtool check rules "$f" >"$D/p.out" 2>"$D/p.err"; p=$?
    "$A" rules check "$f" >"$D/a.out" 2>"$D/a.err"; a=$?
    pf=$(grep -c FAILED "$D/p.err"); af=$(grep -c FAILED "$D/a.err")
    if [ "$p" != "$a" ] || [ "$pf" != "$af" ]; then
        echo "FAIL $f: promtool exit $p ($pf FAILED), agentmon exit $a ($af FAILED)"
        cat "$D/p.err" "$D/a.err"; fail=1; continue
    fi
    echo "ok   $f: exit $p"
done

for f in tests/integration/rules/refused/*.yml; do
    promtool check rules "$f" >/dev/null 2>&1 || { echo "FAIL $f: promtool refuses it too"; fail=1; }
    if "$A" rules check "$f" >"$D/a.out" 2>"$D/a.err"; then
        echo "FAIL $f: agentmon accepted it"; fail=1; continue
    fi
    grep -q "not supported by agentmon" "$D/a.err" || { echo "FAIL $f: no reason"; cat "$D/a.err"; fail=1; continue; }
    echo "ok   $f: refused: $(grep -o '[0-9]*:[0-9]*: group.*' "$D/a.err" | head -1)"
done

if python3 tests/integration/promql_oracle.py "$A" "$D" >"$D/oracle.out"; then
    tail -1 "$D/oracle.out"
else
    grep -E '^(MISMATCH|  )' "$D/oracle.out" | head -40; tail -1 "$D/oracle.out"; fail=1
fi
if python3 tests/integration/template_oracle.py "$A" "$D" >"$D/tmpl.out"; then
    tail -1 "$D/tmpl.out"
else
    cat "$D/tmpl.out"; fail=1
fi
[ $fail = 0 ] && echo "rules_verdict: ok"
exit $fail
