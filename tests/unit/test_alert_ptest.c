/*
** test_alert_ptest.c: `agentmon rules test` and `rules check`
** (src/alert/ptest.c, rulecheck.c) -- promtool's unit-test files and its
** output, with a table of broken test files that must each fail with the
** problem named. That the verdicts equal promtool's on real files is
** tests/integration/rules_verdict.sh's job.
*/
#include <unistd.h>

#include "testutil.h"
#include "alert/alert.h"

static char g_dir[64];

static const char *put(const char *name, const char *text)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* Run the test file; its exit status, and what it printed in out/err. */
static int run(const char *path, char *out, size_t out_cap, char *err, size_t err_cap, bool check)
{
    FILE *o = tmpfile(), *e = tmpfile();
    assert_non_null(o);
    assert_non_null(e);
    int rc = check ? am_rules_check(&path, 1, o, e) : am_rules_test(&path, 1, o, e);
    rewind(o);
    rewind(e);
    size_t n = fread(out, 1, out_cap - 1, o);
    out[n] = '\0';
    n = fread(err, 1, err_cap - 1, e);
    err[n] = '\0';
    fclose(o);
    fclose(e);
    return rc;
}

static const char RULES[] = "groups:\n"
                            "  - name: g\n"
                            "    rules:\n"
                            "      - alert: High\n"
                            "        expr: x > 10\n"
                            "        for: 1m\n"
                            "        annotations: {summary: 'x is {{ $value }}'}\n"
                            "      - record: x:doubled\n"
                            "        expr: x * 2\n";

static void test_pass_and_fail(void **state)
{
    (void)state;
    put("r.yml", RULES);
    const char *ok = put("ok_test.yml", "rule_files: [r.yml]\n"
                                        "evaluation_interval: 1m\n"
                                        "tests:\n"
                                        "  - interval: 1m\n"
                                        "    input_series:\n"
                                        "      - series: 'x{a=\"1\"}'\n"
                                        "        values: '5 20x10'\n"
                                        "    alert_rule_test:\n"
                                        "      - eval_time: 1m\n"
                                        "        alertname: High\n"
                                        "        exp_alerts: []\n"
                                        "      - eval_time: 2m\n"
                                        "        alertname: High\n"
                                        "        exp_alerts:\n"
                                        "          - exp_labels: {a: '1'}\n"
                                        "            exp_annotations: {summary: x is 20}\n"
                                        "    promql_expr_test:\n"
                                        "      - expr: x:doubled\n"
                                        "        eval_time: 3m\n"
                                        "        exp_samples:\n"
                                        "          - labels: 'x:doubled{a=\"1\"}'\n"
                                        "            value: 40\n");
    char out[4096], err[4096];
    AM_ASSERT_EQ(run(ok, out, sizeof out, err, sizeof err, false), 0);
    AM_ASSERT_CONTAINS(out, "Unit Testing:  ");
    AM_ASSERT_CONTAINS(out, "  SUCCESS");
    const char *bad = put("bad_test.yml", "rule_files: [r.yml]\n"
                                          "tests:\n"
                                          "  - interval: 1m\n"
                                          "    input_series:\n"
                                          "      - series: 'x{a=\"1\"}'\n"
                                          "        values: '5 20x10'\n"
                                          "    alert_rule_test:\n"
                                          "      - eval_time: 1m30s\n"
                                          "        alertname: High\n"
                                          "        exp_alerts:\n"
                                          "          - exp_labels: {a: '1'}\n"
                                          "    promql_expr_test:\n"
                                          "      - expr: x\n"
                                          "        eval_time: 1m\n"
                                          "        exp_samples:\n"
                                          "          - labels: 'x{a=\"1\"}'\n"
                                          "            value: 21\n");
    AM_ASSERT_EQ(run(bad, out, sizeof out, err, sizeof err, false), 1);
    AM_ASSERT_CONTAINS(err, "  FAILED:");
    AM_ASSERT_CONTAINS(err, "    alertname: High, time: 1m30s, ");
    AM_ASSERT_CONTAINS(err, "got:[]");
    AM_ASSERT_CONTAINS(err, "    expr: \"x\", time: 1m,\n        exp: {__name__=\"x\", a=\"1\"} "
                            "2.1E+01\n        got: {__name__=\"x\", a=\"1\"} 2E+01");
    const char *rp = put("r2.yml", RULES);
    AM_ASSERT_EQ(run(rp, out, sizeof out, err, sizeof err, true), 0);
    AM_ASSERT_CONTAINS(out, "  SUCCESS: 2 rules found");
}

static void test_broken_files(void **state)
{
    (void)state;
    put("r.yml", RULES);
    put("broken_rules.yml",
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: rate(x)\n");
    static const struct {
        const char *text;
        const char *want;
    } BAD[] = {
        {"tests: [\n", "yaml"},
        {"rule_files: [r.yml]\ntestz: []\n", "field testz not found"},
        {"rule_files: [r.yml]\nevaluation_interval: 5\ntests: []\n", "not a valid duration"},
        {"rule_files: [broken_rules.yml]\ntests:\n  - interval: 1m\n    input_series: []\n",
         "expected type range vector"},
        {"rule_files: [r.yml]\ntests:\n  - interval: 1m\n    input_series:\n"
         "      - series: 'x{'\n        values: '1'\n",
         "parse error"},
        {"rule_files: [r.yml]\ntests:\n  - interval: 1m\n    input_series:\n"
         "      - series: 'x'\n        values: '1 banana'\n",
         "parse error"},
        {"rule_files: [r.yml]\ntests:\n  - interval: 1m\n    input_sereis: []\n",
         "field input_sereis not found"},
        {"rule_files: [r.yml]\ntests:\n  - interval: 1m\n    alert_rule_test:\n"
         "      - eval_time: 1m\n        exp_alerts: []\n",
         "misses required attribute alertname"},
        {"rule_files: [r.yml]\ngroup_eval_order: [g, g]\ntests: []\n",
         "group name repeated in evaluation order"},
        {"rule_files: [r.yml]\ntests:\n  - interval: 1m\n    promql_expr_test:\n"
         "      - expr: 'rate(x)'\n        eval_time: 1m\n",
         "err: 1:6: parse error: expected type range vector"},
        {"rule_files: [r.yml]\ntests:\n  - interval: 1m\n    promql_expr_test:\n"
         "      - expr: x\n        eval_time: 1m\n        exp_samples:\n"
         "          - labels: 'x{'\n            value: 1\n",
         "labels \"x{\""},
        {"rule_files: [r.yml]\ntests:\n  - interval: 1m\n    promql_expr_test:\n"
         "      - expr: x\n        eval_time: 1m\n        exp_samples:\n"
         "          - labels: 'x'\n            value: NaN\n",
         "cannot unmarshal !!str `NaN` into float64"},
        {"rule_files: [nosuchfile.yml]\ntests:\n  - interval: 1m\n    promql_expr_test:\n"
         "      - expr: nothing\n        eval_time: 0s\n        exp_samples:\n"
         "          - labels: 'x'\n            value: 1\n",
         "expr: \"nothing\""},
    };
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        char name[32], out[8192], err[8192];
        snprintf(name, sizeof name, "broken_%zu_test.yml", i);
        const char *p = put(name, BAD[i].text);
        int rc = run(p, out, sizeof out, err, sizeof err, false);
        if (rc != 1)
            fail_msg("case %zu: exit %d\n%s%s", i, rc, out, err);
        if (!strstr(err, BAD[i].want))
            fail_msg("case %zu: expected \"%s\" in:\n%s", i, BAD[i].want, err);
    }
    char out[256], err[256];
    const char *missing = "/nonexistent/dir/test.yml";
    AM_ASSERT_EQ(run(missing, out, sizeof out, err, sizeof err, false), 1);
    AM_ASSERT_EQ(run(missing, out, sizeof out, err, sizeof err, true), 1);
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/am_alert_ptest_XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_pass_and_fail),
                                       cmocka_unit_test(test_broken_files)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
