/*
** test_alert_template.c: the Go text/template subset of alert templates
** (src/alert/template.c).
**
** Expansions are compared with Prometheus' own by
** tests/integration/template_oracle.py; here: a table of expansions that
** need no query engine, a table of templates that must be refused at
** parse time (Go's message, the line), and run-time errors that are
** reported without crashing.
*/
#include <math.h>

#include "testutil.h"
#include "alert/template.h"
#include "util/alloc.h"

static char *expand(const char *text, double value, char *err, size_t cap, am_err *rc)
{
    am_tmpl *t;
    *rc = am__tmpl_parse("__alert_X", text, &t, err, cap);
    if (*rc)
        return NULL;
    am_label p[] = {{"job", "api"}, {"instance", "h:9090"}};
    am_arena a;
    am__arena_init(&a, NULL);
    am_lset *l = am__labels_new(&a, p, 2);
    am_label e[] = {{"cluster", "prod"}};
    am_lset *ext = am__labels_new(&a, e, 1);
    am_tmpl_data d = {l, ext, "http://x", value, 0, NULL, NULL};
    am_buf b;
    am_buf_init(&b, 0);
    *rc = am__tmpl_expand(t, &d, &b, err, cap);
    char *out = am__strdup(b.p ? b.p : "");
    am_buf_free(&b);
    am__tmpl_free(t);
    am__arena_free(&a);
    return out;
}

static void test_expand(void **state)
{
    (void)state;
    static const struct {
        const char *t;
        double v;
        const char *want;
    } OK[] = {
        {"{{ $labels.job }} on {{ .Labels.instance }}", 1, "api on h:9090"},
        {"{{ $value }}", 117, "117"},
        {"{{ $value }}", 0.1, "0.1"},
        {"{{ $value }}", 1e6, "1e+06"},
        {"{{ $value }}", NAN, "NaN"},
        {"{{ $externalLabels.cluster }} {{ $externalURL }}", 0, "prod http://x"},
        {"{{ humanize $value }}", 1234567, "1.235M"},
        {"{{ $value | humanizeDuration }}", 3725, "1h 2m 5s"},
        /* out of int64's range: Go (amd64) converts to INT64_MIN; found by fuzz_alert_rules */
        {"{{ $value | humanizeDuration }}", 1e30, "-106751991167300d -15h -30m -8s"},
        {"{{ humanizePercentage $value }}", 0.5, "50%"},
        {"{{ printf \"%.2f\" $value }}", 3.14159, "3.14"},
        {"{{ if gt $value 10.0 }}high{{ else }}low{{ end }}", 11, "high"},
        {"{{ if gt $value 10.0 }}high{{ else if gt $value 5.0 }}mid{{ else }}low{{ end }}", 6,
         "mid"},
        {"{{ with $labels.nope }}x{{ else }}none{{ end }}", 0, "none"},
        {"{{ range $k, $v := $labels }}{{ $k }}={{ $v }} {{ end }}", 0, "instance=h:9090 job=api "},
        {"a {{- \" b \" -}} c", 0, "a b c"},
        {"{{/* note */}}x", 0, "x"},
        {"{{ $labels.missing }}|", 0, "|"},
        {"{{ title \"hello world\" | toUpper }}", 0, "HELLO WORLD"},
        {"{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}", 0, "2"},
        {"{{ and 1 0 }} {{ or 0 \"\" 3 }} {{ not 0 }}", 0, "0 3 true"},
        {"{{ eq \"a\" \"b\" \"a\" }}", 0, "true"},
        {"{{ len \"abc\" }} {{ index $labels \"job\" }}", 0, "3 api"},
        {"{{ 'a' }} {{ 0x10 }} {{ 1e2 }} {{ eq 1 1 }}", 0, "97 16 100 true"},
        {"{{ stripPort \"h:1\" }} {{ reReplaceAll \"a(b)\" \"$1$1\" \"xabab\" }}", 0, "h xbbbb"},
        {"{{ $labels }}", 0, "map[instance:h:9090 job:api]"},
    };
    for (size_t i = 0; i < sizeof OK / sizeof OK[0]; i++) {
        char err[600];
        am_err rc;
        char *out = expand(OK[i].t, OK[i].v, err, sizeof err, &rc);
        if (rc)
            fail_msg("\"%s\": %s", OK[i].t, err);
        if (strcmp(out, OK[i].want))
            fail_msg("\"%s\": got \"%s\", want \"%s\"", OK[i].t, out, OK[i].want);
        am__free(out);
    }
}

static void test_parse_bad(void **state)
{
    (void)state;
    static const struct {
        const char *t;
        const char *want;
    } BAD[] = {
        {"{{ nosuch }}", "template: __alert_X:1: function \"nosuch\" not defined"},
        {"{{ call $x }}", "not supported by agentmon"},
        {"{{ if 1 }}", "unexpected EOF"},
        {"{{ end }}", "unexpected {{end}}"},
        {"{{ else }}", "unexpected {{else}}"},
        {"{{ }}", "missing value for command"},
        {"{{ if }}x{{ end }}", "missing value for if"},
        {"{{ $labels.job", "unclosed action"},
        {"{{ \"abc }}", "unclosed action"},
        {"{{ /* open", "unclosed"},
        {"{{ template \"x\" }}", "not supported by agentmon"},
        {"{{ define \"x\" }}{{ end }}", "not supported by agentmon"},
        {"{{ (1 }}", "unclosed left paren"},
        {"{{ 1 | }}", "missing value for command"},
        {"{{ 0x }}", "bad number syntax"},
        {"{{ if 1 }}{{ else if }}{{ end }}", "missing value"},
        {"{{ with 1 }}{{ else if 2 }}{{ end }}", "unexpected if in else"},
        {"line1\nline2 {{ nosuch }}", "__alert_X:2:"},
        {"{{ '' }}", "malformed character constant"},
        {"{{ nil }}", "nil is not a command"},
    };
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        am_tmpl *t = NULL;
        char err[600] = "";
        am_err rc = am__tmpl_parse("__alert_X", BAD[i].t, &t, err, sizeof err);
        if (rc != AM_EINVAL) {
            am__tmpl_free(t);
            fail_msg("case %zu \"%s\" accepted", i, BAD[i].t);
        }
        if (!strstr(err, BAD[i].want))
            fail_msg("case %zu \"%s\": expected \"%s\" in \"%s\"", i, BAD[i].t, BAD[i].want, err);
    }
}

static void test_runtime_errors(void **state)
{
    (void)state;
    static const struct {
        const char *t;
        const char *want;
    } RT[] = {
        {"{{ gt $value 1 }}", "incompatible types for comparison"},
        {"{{ .Nope }}", "can't evaluate field Nope"},
        {"{{ humanize \"x\" }}", "invalid syntax"},
        {"{{ $undefined }}", "undefined variable"},
        {"{{ query \"up\" }}", "no query engine"},
        {"{{ first 1 }}", "wrong type"},
        {"{{ 1 | 2 }}", "can't give argument to non-function"},
        {"{{ range 1 }}{{ end }}", "range can't iterate over int"},
        {"{{ 1 2 }}", "can't give argument to non-function"},
    };
    for (size_t i = 0; i < sizeof RT / sizeof RT[0]; i++) {
        char err[600] = "";
        am_err rc;
        char *out = expand(RT[i].t, 1.5, err, sizeof err, &rc);
        if (rc != AM_EINVAL)
            fail_msg("case %zu \"%s\": no error", i, RT[i].t);
        if (!strstr(err, RT[i].want))
            fail_msg("case %zu \"%s\": expected \"%s\" in \"%s\"", i, RT[i].t, RT[i].want, err);
        am__free(out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_expand),
                                       cmocka_unit_test(test_parse_bad),
                                       cmocka_unit_test(test_runtime_errors)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
