/*
** test_alert_promql.c: PromQL's lexer, parser and evaluator
** (src/alert/promql_*.c), Go's number formats (promql_fmt.c), regexes
** (regex.c) and promtool's series notation (seriesdesc.c).
**
** The evaluator's arithmetic is checked against Prometheus itself by
** tests/integration/promql_oracle.py; here: the parse tree's types and
** reach, a table of inputs that must be refused (with the construct
** named), one of inputs that must parse, the formats of numbers, the
** RE2-only regex checks, the sample limit and the JSON of results.
*/
#include <math.h>

#include "testutil.h"
#include "alert/promql.h"
#include "alert/promql_fmt.h"
#include "alert/seriesdesc.h"
#include "util/alloc.h"

static void test_parse_ok(void **state)
{
    (void)state;
    static const struct {
        const char *q;
        am_pql_type type;
        int64_t reach;
    } OK[] = {
        {"up", AM_PQL_VECTOR, 0},
        {"up offset 5m", AM_PQL_VECTOR, 300000},
        {"rate(x[5m])", AM_PQL_VECTOR, 300000},
        {"rate(x[1h30m] offset 1d)", AM_PQL_VECTOR, 5400000 + 86400000},
        {"sum by (job) (rate(x_total{a=~\"b|c\"}[5m])) / on(job) group_left sum(y) by (job)",
         AM_PQL_VECTOR, 300000},
        {"1 + 2 * 3", AM_PQL_SCALAR, 0},
        {"-1 ^ 2", AM_PQL_SCALAR, 0},
        {"time()", AM_PQL_SCALAR, 0},
        {"scalar(up)", AM_PQL_SCALAR, 0},
        {"\"a string\"", AM_PQL_STRING, 0},
        {"x[5m]", AM_PQL_MATRIX, 300000},
        {"x @ 100", AM_PQL_VECTOR, 0},
        {"x @ start()", AM_PQL_VECTOR, 0},
        {"rate(x[5m] @ end() offset -1m)", AM_PQL_VECTOR, 300000},
        {"sum without (a, b) (x)", AM_PQL_VECTOR, 0},
        {"topk(3, x) by (job)", AM_PQL_VECTOR, 0},
        {"count_values(\"v\", x)", AM_PQL_VECTOR, 0},
        {"x > bool 1", AM_PQL_VECTOR, 0},
        {"x and on(a) y or z unless ignoring(b) w", AM_PQL_VECTOR, 0},
        {"label_replace(x, \"dst\", \"$1\", \"src\", \"(.*)\")", AM_PQL_VECTOR, 0},
        {"label_join(x, \"d\", \",\", \"a\", \"b\", \"c\")", AM_PQL_VECTOR, 0},
        {"histogram_quantile(0.9, sum by (le) (rate(b_bucket[5m])))", AM_PQL_VECTOR, 300000},
        {"round(x)", AM_PQL_VECTOR, 0},
        {"round(x, 0.1)", AM_PQL_VECTOR, 0},
        {"{__name__=~\"a.*\", job!=\"\"}", AM_PQL_VECTOR, 0},
        {"sum(x) # a comment\n + 1", AM_PQL_VECTOR, 0},
        {"x{on=\"1\", by=\"2\", sum=\"3\"}", AM_PQL_VECTOR, 0},
        {"sum by (sum, on) (x)", AM_PQL_VECTOR, 0},
        {"0x1F + 1e3 + .5 + Inf - NaN", AM_PQL_SCALAR, 0},
        {"a:b:c + x", AM_PQL_VECTOR, 0},
        {"`raw \\ string`", AM_PQL_STRING, 0},
        {"'single \\'q\\''", AM_PQL_STRING, 0},
        {"absent_over_time(x[5m])", AM_PQL_VECTOR, 300000},
        {"year()", AM_PQL_VECTOR, 0},
    };
    for (size_t i = 0; i < sizeof OK / sizeof OK[0]; i++) {
        am_promql *q;
        char err[300];
        if (am_promql_parse(OK[i].q, &q, err, sizeof err))
            fail_msg("\"%s\" refused: %s", OK[i].q, err);
        if (q->root->type != OK[i].type)
            fail_msg("\"%s\": type %s", OK[i].q, am__pql_type_name(q->root->type));
        AM_ASSERT_EQ(am_promql_reach_ms(q), OK[i].reach);
        am_promql_free(q);
    }
}

static void test_parse_bad(void **state)
{
    (void)state;
    static const struct {
        const char *q;
        const char *want;
    } BAD[] = {
        {"", "no expression found"},
        {"   ", "no expression found"},
        {"up{", "unexpected end of input"},
        {"up{job=\"a\"", "unexpected end of input"},
        {"up{job}", "expected label matching operator"},
        {"up{job=a}", "expected string"},
        {"{}", "at least one non-empty matcher"},
        {"{job=~\".*\"}", "at least one non-empty matcher"},
        {"up{__name__=\"x\"}", "metric name must not be set twice"},
        {"rate(up)", "expected type range vector in call to function \"rate\", got instant vector"},
        {"abs(up[5m])", "expected type instant vector"},
        {"rate(up[5m], 1)", "expected 1 argument(s)"},
        {"round()", "expected at least 1 argument(s)"},
        {"round(up, 1, 2)", "expected at most 2 argument(s)"},
        {"label_join(up)", "expected at least 3 argument(s)"},
        {"rate(up[5m],)", "trailing commas not allowed"},
        {"sum(up[5m])", "expected type instant vector in aggregation expression"},
        {"topk(up)", "wrong number of arguments for aggregate expression"},
        {"topk(\"a\", up)", "expected type scalar in aggregation parameter"},
        {"count_values(1, up)", "expected type string in aggregation parameter"},
        {"count_values(\"1bad\", up)", "invalid label name"},
        {"sum(up) by (job) by (x)", "unexpected"},
        {"sum by (job (up)", "unexpected"},
        {"1 > 2", "comparisons between scalars must use BOOL modifier"},
        {"up + bool up", "bool modifier can only be used on comparison operators"},
        {"up and 1", "set operator \"and\" not allowed in binary scalar expression"},
        {"up and on(a) group_left up", "no grouping allowed for \"and\" operation"},
        {"up * on(a) group_left(a) up", "must not occur in ON and GROUP clause at once"},
        {"1 + on(a) up", "vector matching only allowed between instant vectors"},
        {"up[5m] + 1", "binary expression must contain only scalar and instant vector types"},
        {"-up[5m]", "unary expression only allowed on expressions of type scalar or instant"},
        {"sum(up) offset 5m", "offset modifier must be preceded by an instant vector selector"},
        {"up offset 5m offset 1m", "offset may not be set multiple times"},
        {"up @ 1 @ 2", "may not be set multiple times"},
        {"up offset 5m [1m]", "no offset modifiers allowed before range"},
        {"(up)[5m]", "ranges only allowed for vector selectors"},
        {"up[5m][1m]", "subqueries are not supported"},
        {"up[5m:1m]", "subqueries are not supported"},
        {"rate(up[5m])[10m:]", "subqueries are not supported"},
        {"up[0s]", "range must be greater than 0"},
        {"up[5x]", "bad number or duration syntax"},
        {"up[5]", "expected duration"},
        {"holt_winters(up[5m], 0.5, 0.5)", "not supported by agentmon"},
        {"nosuchfunction(up)", "unknown function with name \"nosuchfunction\""},
        {"up{a=~\"(\"}", "missing closing parenthesis"},
        {"up{a=~\"(a)\\\\1\"}", "back-reference"},
        {"up{a=~\"(?=a)\"}", "look-ahead"},
        {"up{a=~\"(?<=a)b\"}", "look-behind"},
        {"up{a=~\"a++\"}", "possessive"},
        {"up{a=~\"(?>a)\"}", "atomic group"},
        {"up{a=\"\\q\"}", "invalid syntax in string"},
        {"\"unterminated", "unterminated quoted string"},
        {"up ! up", "unexpected character after '!'"},
        {"up $ 1", "unexpected character"},
        {"up }", "unexpected right brace"},
        {"up ]", "unexpected right bracket"},
        {"5m", "unexpected duration"},
        {"1.2.3", "bad number or duration syntax"},
        {"up @ foo", "expected timestamp"},
        {"up @ Inf", "timestamp out of bounds"},
        {"sum", "unexpected end of input"},
        {"by", "unexpected <by>"},
        {"up up", "unexpected identifier"},
        {"(up", "unexpected end of input"},
        {"up\n+\n)", "3:1: parse error"},
        {"x @ start", "unexpected end of input"},
    };
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        am_promql *q = NULL;
        char err[400] = "";
        am_err rc = am_promql_parse(BAD[i].q, &q, err, sizeof err);
        if (rc != AM_EINVAL) {
            am_promql_free(q);
            fail_msg("case %zu \"%s\" accepted", i, BAD[i].q);
        }
        if (!strstr(err, BAD[i].want))
            fail_msg("case %zu \"%s\": expected \"%s\" in \"%s\"", i, BAD[i].q, BAD[i].want, err);
        assert_true(strstr(err, "parse error") != NULL);
    }
}

static void test_eval(void **state)
{
    (void)state;
    am_tsdb *db;
    AM_ASSERT_OK(am_tsdb_new(NULL, &db));
    am_tsdb_begin(db, NULL);
    for (int i = 0; i <= 10; i++) {
        char v[8];
        for (int k = 0; k < 3; k++) {
            snprintf(v, sizeof v, "%d", k);
            am_label p[] = {{"__name__", "c_total"}, {"k", v}};
            AM_ASSERT_OK(am_tsdb_append(db, NULL, p, 2, i * 15000, i * 10.0 * (k + 1)));
        }
    }
    am_tsdb_commit(db, NULL, 0);
    struct {
        const char *q;
        const char *json;
    } CASES[] = {
        {"sum(c_total)", "{\"resultType\":\"vector\",\"result\":[{\"metric\":{},\"value\":[150,"
                         "\"600\"]}]}"},
        {"rate(c_total{k=\"0\"}[1m])",
         "{\"resultType\":\"vector\",\"result\":[{\"metric\":{\"k\":\"0\"},\"value\":[150,"
         "\"0.6666666666666666\"]}]}"},
        {"1 / 3", "{\"resultType\":\"scalar\",\"result\":[150,\"0.3333333333333333\"]}"},
        {"\"s\"", "{\"resultType\":\"string\",\"result\":[150,\"s\"]}"},
        {"c_total{k=\"2\"}[20s]",
         "{\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"__name__\":\"c_total\","
         "\"k\":\"2\"},\"values\":[[135,\"270\"],[150,\"300\"]]}]}"},
        {"vector(1e21) + vector(NaN)",
         "{\"resultType\":\"vector\",\"result\":[{\"metric\":{},\"value\":[150,\"NaN\"]}]}"},
        {"vector(1e21)", "{\"resultType\":\"vector\",\"result\":[{\"metric\":{},\"value\":[150,"
                         "\"1000000000000000000000\"]}]}"},
        /* or: the right side only where the left has no such labels (the
           dashboard's "sum(...) or vector(0)") */
        {"sum(c_total) or vector(0)", "{\"resultType\":\"vector\",\"result\":[{\"metric\":{},"
                                      "\"value\":[150,\"600\"]}]}"},
        /* or matches without the metric name, as Prometheus' VectorOr: d{k}
           is dropped beside c_total{k}, so abs() meets no duplicate (this was
           listed as a runtime error while or kept every right-hand sample) */
        {"count(abs({__name__=~\"c_.*\"} or label_replace(c_total, \"__name__\", \"d\", \"k\", "
         "\".*\")))",
         "{\"resultType\":\"vector\",\"result\":[{\"metric\":{},\"value\":[150,\"3\"]}]}"},
        {"sum(nothing_total) or vector(0)",
         "{\"resultType\":\"vector\",\"result\":[{\"metric\":{},\"value\":[150,\"0\"]}]}"},
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        am_promql *q;
        am_promql_result *r;
        char err[256];
        AM_ASSERT_OK(am_promql_parse(CASES[i].q, &q, err, sizeof err));
        AM_ASSERT_OK(am_promql_eval(db, q, 150000, NULL, &r, err, sizeof err));
        am_buf b;
        am_buf_init(&b, 0);
        am_promql_result_json(r, &b);
        if (strcmp(b.p, CASES[i].json))
            fail_msg("%s:\n got %s\nwant %s", CASES[i].q, b.p, CASES[i].json);
        am_buf_free(&b);
        am_promql_result_free(r);
        am_promql_free(q);
    }
    /* the sample limit: a distinct error */
    am_promql *q;
    am_promql_result *r = NULL;
    char err[256];
    am_promql_opts o = AM_PROMQL_OPTS_INIT;
    o.max_samples = 20;
    AM_ASSERT_OK(am_promql_parse("sum_over_time(c_total[5m])", &q, err, sizeof err));
    AM_ASSERT_ERR(am_promql_eval(db, q, 150000, &o, &r, err, sizeof err), AM_ELIMIT);
    AM_ASSERT_CONTAINS(err, "too many samples");
    o.max_samples = 33;
    AM_ASSERT_OK(am_promql_eval(db, q, 150000, &o, &r, err, sizeof err));
    am_promql_result_free(r);
    /* a range query */
    AM_ASSERT_OK(am_promql_eval_range(db, q, 0, 150000, 50000, NULL, &r, err, sizeof err));
    am_buf b;
    am_buf_init(&b, 0);
    am_promql_result_json(r, &b);
    AM_ASSERT_CONTAINS(b.p, "\"resultType\":\"matrix\"");
    AM_ASSERT_CONTAINS(b.p, "\"values\":[[0,\"0\"],[50,\"60\"],[100,\"210\"],[150,\"550\"]]");
    am_buf_free(&b);
    am_promql_result_free(r);
    AM_ASSERT_ERR(am_promql_eval_range(db, q, 0, 150000, 0, NULL, &r, err, sizeof err), AM_EINVAL);
    am_promql_free(q);
    /* runtime errors Prometheus also raises */
    static const char *const RT[] = {
        "c_total + on() c_total",
        "label_replace(c_total, \"k\", \"x\", \"k\", \".*\")",
    };
    for (size_t i = 0; i < sizeof RT / sizeof RT[0]; i++) {
        AM_ASSERT_OK(am_promql_parse(RT[i], &q, err, sizeof err));
        if (am_promql_eval(db, q, 150000, NULL, &r, err, sizeof err) != AM_EINVAL)
            fail_msg("%s: no error", RT[i]);
        am_promql_free(q);
    }
    am_tsdb_free(db);
}

static void test_formats(void **state)
{
    (void)state;
    static const struct {
        double v;
        const char *f, *e;
    } F[] = {
        {0, "0", "0E+00"},
        {1, "1", "1E+00"},
        {0.1, "0.1", "1E-01"},
        {0.30000000000000004, "0.30000000000000004", "3.0000000000000004E-01"},
        {1e21, "1000000000000000000000", "1E+21"},
        {123456.789, "123456.789", "1.23456789E+05"},
        {1.5e-7, "0.00000015", "1.5E-07"},
        {-2.5, "-2.5", "-2.5E+00"},
        {INFINITY, "+Inf", "+Inf"},
        {-INFINITY, "-Inf", "-Inf"},
        {NAN, "NaN", "NaN"},
    };
    for (size_t i = 0; i < sizeof F / sizeof F[0]; i++) {
        char out[AM_GOFMT_MAX];
        am__fmt_go_f(out, F[i].v);
        AM_ASSERT_STR_EQ(out, F[i].f);
        am__fmt_go_E(out, F[i].v);
        AM_ASSERT_STR_EQ(out, F[i].e);
    }
    static const struct {
        const char *s;
        bool ok;
        double v;
    } P[] = {{"1", true, 1},        {"+Inf", true, INFINITY}, {"-inf", true, -INFINITY},
             {"1e3", true, 1000},   {".5", true, 0.5},        {"0x1p-2", true, 0.25},
             {"1_000", true, 1000}, {"0x10", false, 0},       {"1e", false, 0},
             {"", false, 0},        {" 1", false, 0},         {"1 ", false, 0},
             {"_1", false, 0},      {"1__0", false, 0},       {"nan", true, NAN}};
    for (size_t i = 0; i < sizeof P / sizeof P[0]; i++) {
        double v = 0;
        bool ok = am__go_parse_float(P[i].s, strlen(P[i].s), &v);
        if (ok != P[i].ok)
            fail_msg("\"%s\": %s", P[i].s, ok ? "accepted" : "refused");
        if (ok && !(isnan(P[i].v) ? isnan(v) : v == P[i].v))
            fail_msg("\"%s\": %g", P[i].s, v);
    }
    static const struct {
        const char *s;
        int64_t ms;
    } D[] = {{"5m", 300000}, {"1h30m", 5400000},  {"1d", 86400000},   {"100ms", 100},
             {"0", 0},       {"1y", 31536000000}, {"2w", 1209600000}, {"-1m", -1},
             {"1m1h", -1},   {"5", -1},           {"1.5h", -1},       {"", -1}};
    for (size_t i = 0; i < sizeof D / sizeof D[0]; i++) {
        int64_t ms = -1;
        bool ok = am__go_parse_duration(D[i].s, strlen(D[i].s), &ms);
        if (D[i].ms < 0)
            assert_false(ok);
        else
            AM_ASSERT_EQ(ms, D[i].ms);
    }
    am_buf b;
    am_buf_init(&b, 0);
    am__fmt_go_duration(&b, 5400000);
    am_buf_putc(&b, ' ');
    am__fmt_go_duration(&b, 90 * 86400000LL);
    am_buf_putc(&b, ' ');
    am__fmt_go_duration(&b, 1500);
    AM_ASSERT_STR_EQ(b.p, "1h30m 90d 1s500ms");
    am_buf_free(&b);
}

static void test_regex(void **state)
{
    (void)state;
    am_regex *re;
    char err[300];
    AM_ASSERT_OK(am__regex_new("a|b", &re, err, sizeof err));
    assert_true(am__regex_match(re, "a", 1));
    assert_false(am__regex_match(re, "ab", 2));  /* anchored: ^(?:a|b)$ */
    assert_false(am__regex_match(re, "a\n", 2)); /* $ is the end, not before \n */
    am__regex_free(re);
    AM_ASSERT_OK(am__regex_new("(?i)é.+", &re, err, sizeof err));
    assert_true(am__regex_match(re, "\xc3\x89x", 3));
    assert_false(am__regex_match(re, "\xff\xfe", 2)); /* invalid UTF-8: no error, no match */
    am__regex_free(re);
    AM_ASSERT_OK(am__regex_new("(?P<host>[^:]+):(\\d+)", &re, err, sizeof err));
    am_buf b;
    am_buf_init(&b, 0);
    assert_true(am__regex_expand(re, "db:5432", 7, "${host}-$2-$1x-$$-$", &b));
    AM_ASSERT_STR_EQ(b.p, "db-5432--$-$");
    am_buf_free(&b);
    am__regex_free(re);
    /* catastrophic backtracking is bounded, never hangs */
    AM_ASSERT_OK(am__regex_new("(a*)*b", &re, err, sizeof err));
    char s[64];
    memset(s, 'a', sizeof s - 1);
    s[63] = '\0';
    assert_false(am__regex_match(re, s, 63));
    am__regex_free(re);
}

static void test_series_notation(void **state)
{
    (void)state;
    am_arena a;
    am__arena_init(&a, NULL);
    am_seqval *v;
    size_t n;
    char err[300];
    AM_ASSERT_OK(am__parse_values("0+10x3 _ 5 _x2 stale -1-1x2 1x1 +Inf NaN 1e3", &a, 1000, &v, &n,
                                  err, sizeof err));
    AM_ASSERT_EQ(n, 4 + 1 + 1 + 2 + 1 + 3 + 2 + 3);
    AM_ASSERT_DBL_EQ(v[3].v, 30);
    assert_true(v[4].is_omitted);
    assert_true(am__is_stale_nan(v[8].v));
    AM_ASSERT_DBL_EQ(v[11].v, -3);
    static const char *const BAD[] = {"x",      "1+x3",      "1x",  "1xx3",  "_x",
                                      "stalex", "1 2 3 abc", "1+1", "1e3e4", "--1"};
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++)
        if (am__parse_values(BAD[i], &a, 1000, &v, &n, err, sizeof err) != AM_EINVAL)
            fail_msg("values \"%s\" accepted", BAD[i]);
    AM_ASSERT_ERR(am__parse_values("0+1x5000", &a, 1000, &v, &n, err, sizeof err), AM_ELIMIT);
    am_lset *l;
    AM_ASSERT_OK(am__parse_metric("m{a=\"1\", b='2'}", &a, &l, err, sizeof err));
    AM_ASSERT_EQ(l->n, 3);
    AM_ASSERT_OK(am__parse_metric("{__name__=\"m\"}", &a, &l, err, sizeof err));
    static const char *const BADM[] = {
        "", "{", "m{a}", "m{a=1}", "m{a=\"1\",a=\"2\"}", "m x", "m{a=\"1\"", "{1a=\"x\"}"};
    for (size_t i = 0; i < sizeof BADM / sizeof BADM[0]; i++)
        if (am__parse_metric(BADM[i], &a, &l, err, sizeof err) != AM_EINVAL)
            fail_msg("metric \"%s\" accepted", BADM[i]);
    am__arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_ok), cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_eval),     cmocka_unit_test(test_formats),
        cmocka_unit_test(test_regex),    cmocka_unit_test(test_series_notation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
