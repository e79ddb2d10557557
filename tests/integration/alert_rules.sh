#!/bin/sh
# alert_rules.sh: deploy/prometheus's rules against agentmon's real series.
#
# alerts_test.yml's input series are made by alert_inputs (the real packs,
# breakers and coordinator on a simulated clock): this splices its output
# between each "# BEGIN generated: NAME" / "# END generated" pair and fails
# when the committed file differs -- a change to a metric, a label or a
# bucket must show in the rules' tests. AM_UPDATE_ALERT_INPUTS=1 rewrites
# the file instead. Then promtool checks the rules and runs the tests.
#
#   sh tests/integration/alert_rules.sh [BUILDDIR]      (from the repo root)
set -u
BUILD=${1:-build}
command -v promtool >/dev/null 2>&1 || { echo "alert_rules: SKIP: promtool not installed"; exit 0; }
if [ -f "$BUILD/CMakeCache.txt" ]; then
    cmake --build "$BUILD" --target alert_inputs >/dev/null || { echo "alert_rules: FAIL: build"; exit 1; }
fi
GEN=$BUILD/tests/alert_inputs
FILE=deploy/prometheus/alerts_test.yml
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM

out=$TMP/alerts_test.yml
skip=0
while IFS= read -r line; do
    case "$line" in
    *"# BEGIN generated: "*)
        printf '%s\n' "$line" >>"$out"
        name=${line##*# BEGIN generated: }
        "$GEN" "$name" >>"$out" || { echo "alert_rules: FAIL: alert_inputs $name"; exit 1; }
        skip=1
        continue
        ;;
    *"# END generated"*)
        skip=0
        ;;
    esac
    [ $skip -eq 1 ] || printf '%s\n' "$line" >>"$out"
done <"$FILE"

if ! cmp -s "$out" "$FILE"; then
    if [ "${AM_UPDATE_ALERT_INPUTS:-0}" = 1 ]; then
        cp "$out" "$FILE"
        echo "alert_rules: $FILE rewritten"
    else
        diff -u "$FILE" "$out" | head -40
        echo "alert_rules: FAIL: $FILE's generated series are stale" \
            "(AM_UPDATE_ALERT_INPUTS=1 sh $0 rewrites them)"
        exit 1
    fi
fi
promtool check rules deploy/prometheus/alerts.yml >/dev/null ||
    { promtool check rules deploy/prometheus/alerts.yml; echo "alert_rules: FAIL: check rules"; exit 1; }
cp deploy/prometheus/alerts.yml "$TMP/"
promtool test rules "$out" || { echo "alert_rules: FAIL: promtool test rules"; exit 1; }
echo "alert_rules: ok"
