/*
** test_expo_parse.c: the exposition text parser -- a table of good inputs
** with the samples each must give, a table of bad ones that must be refused
** with the right code and a message naming the line, libagentmon's own
** output in both formats read back exactly (exemplars included), chunked
** feeding, stopping early, and the limits.
*/
#include "fixture.h"
#include "fault_alloc.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/fmt.h"
#include "util/render.h"
#include "serve/ingest/expo_parse.h"

/* ---------------------------------------------------------------- helpers */

static void put_labels(am_buf *b, const char *const *n, const char *const *v, size_t k)
{
    am_buf_putc(b, '{');
    for (size_t i = 0; i < k; i++) {
        if (i)
            am_buf_putc(b, ',');
        am_buf_puts(b, n[i]);
        am_buf_puts(b, "=\"");
        am__buf_label_value(b, v[i], strlen(v[i]));
        am_buf_putc(b, '"');
    }
    am_buf_putc(b, '}');
}

/* One line per sample: "type family name{labels} value [@ts] [# {ex} v [@ts]] [help] [unit]" */
static int describe(void *ud, const am_expo_sample *s)
{
    am_buf *b = ud;
    am_buf_printf(b, "%s %s %s", s->type, s->family, s->name);
    if (s->n_labels)
        put_labels(b, s->label_names, s->label_values, s->n_labels);
    am_buf_putc(b, ' ');
    am__buf_double(b, s->value);
    if (s->has_timestamp) {
        am_buf_puts(b, " @");
        am__buf_double(b, s->timestamp);
    }
    if (s->has_exemplar) {
        am_buf_puts(b, " # ");
        put_labels(b, s->ex_label_names, s->ex_label_values, s->ex_n_labels);
        am_buf_putc(b, ' ');
        am__buf_double(b, s->ex_value);
        if (s->ex_has_timestamp) {
            am_buf_puts(b, " @");
            am__buf_double(b, s->ex_timestamp);
        }
    }
    if (*s->help) {
        am_buf_puts(b, " [");
        am__buf_help(b, s->help, true);
        am_buf_putc(b, ']');
    }
    if (*s->unit)
        am_buf_printf(b, " (%s)", s->unit);
    am_buf_putc(b, '\n');
    return 0;
}

static char *parse_desc(const char *text, am_expo_format f)
{
    am_buf b;
    am_buf_init(&b, 0);
    am_buf_puts(&b, "");
    size_t n = 0;
    AM_ASSERT_OK(am__expo_parse(text, strlen(text), f, NULL, describe, &b, &n));
    return b.p;
}

/* ---------------------------------------------------------------- good inputs */

#define P AM_EXPO_PROMETHEUS
#define OM AM_EXPO_OPENMETRICS
#define AUTO AM_EXPO_AUTO

static const struct {
    am_expo_format f;
    const char *in;
    const char *want;
} good[] = {
    {P, "", ""},
    {P, "\n\n  \n# just a comment\n#\n", ""},
    {P, "a 1\n", "untyped a a 1\n"},
    {P, "a 1", "untyped a a 1\n"},
    {P, "a{} 1\n", "untyped a a 1\n"},
    {P, "a{b=\"c\",} 2 1700000000123\n", "untyped a a{b=\"c\"} 2 @1.700000000123e+09\n"},
    {P, "  a\t{ b = \"c\" , d=\"\" }\t-1.5e+06   -5 \r\n",
     "untyped a a{b=\"c\",d=\"\"} -1.5e+06 @-0.005\n"},
    {P, "a NaN\nb +Inf\nc -Inf\nd Inf\ne nan\nf 1e-07\ng .5\nh 5.\n",
     "untyped a a NaN\nuntyped b b +Inf\nuntyped c c -Inf\nuntyped d d +Inf\n"
     "untyped e e NaN\nuntyped f f 1e-07\nuntyped g g 0.5\nuntyped h h 5\n"},
    {P, "a{v=\"q\\\"\\\\\\n\xc3\xa9\"} 1\n", "untyped a a{v=\"q\\\"\\\\\\n\xc3\xa9\"} 1\n"},
    {P, "# TYPE x counter\n# HELP x Hi \\\\ \\n \\q \"y\"\nx 3\nx_total 4\n",
     "counter x x 3 [Hi \\\\ \\n \\\\q \\\"y\\\"]\ncounter x x_total 4 [Hi \\\\ \\n \\\\q "
     "\\\"y\\\"]\n"},
    {P, "# HELP x_total later\nx_total 1\n# HELP y\n# TYPE y gauge\ny 2\n",
     "untyped x_total x_total 1 [later]\ngauge y y 2\n"},
    {P, "x_total 1\n# HELP x_total after\nx_total 2\n",
     "untyped x_total x_total 1\nuntyped x_total x_total 2 [after]\n"},
    {P, "# TYPE h histogram\nh_bucket{le=\"0.5\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n",
     "histogram h h_bucket{le=\"0.5\"} 1\nhistogram h h_bucket{le=\"+Inf\"} 2\n"
     "histogram h h_sum 3\nhistogram h h_count 2\n"},
    {P, "# TYPE s summary\ns{quantile=\"0.99\"} 1\ns_sum 2\ns_count 3\n",
     "summary s s{quantile=\"0.99\"} 1\nsummary s s_sum 2\nsummary s s_count 3\n"},
    {P, "# TYPE g gauge\ng 1\ng_created 2\n", "gauge g g 1\nuntyped g_created g_created 2\n"},
    {P, "# TYPE u untyped\nu 1\n# HELPER not metadata\n# TYPEX\n", "untyped u u 1\n"},
    {P, "# EOF\na 1\n", "untyped a a 1\n"},
    {P, "a 1\nb 1\na 2\n", "untyped a a 1\nuntyped b b 1\nuntyped a a 2\n"},
    {OM, "# EOF\n", ""},
    {OM, "# EOF", ""},
    {OM, "a 1\n# EOF\n", "unknown a a 1\n"},
    {OM,
     "# TYPE a counter\n# HELP a Say \\\"hi\\\"\n# UNIT a \na_total 1 # {t=\"x\"} 0.5 1.25\n"
     "a_created 1.7e+09\n# EOF\n",
     "counter a a_total 1 # {t=\"x\"} 0.5 @1.25 [Say \\\"hi\\\"]\n"
     "counter a a_created 1.7e+09 [Say \\\"hi\\\"]\n"},
    {OM,
     "# TYPE t_seconds histogram\n# UNIT t_seconds seconds\n"
     "t_seconds_bucket{le=\"1\"} 0 # {} 0.5\nt_seconds_bucket{le=\"+Inf\"} 1\n"
     "t_seconds_count 1\nt_seconds_sum 0.5\nt_seconds_created 1.5 2\n# EOF\n",
     "histogram t_seconds t_seconds_bucket{le=\"1\"} 0 # {} 0.5 (seconds)\n"
     "histogram t_seconds t_seconds_bucket{le=\"+Inf\"} 1 (seconds)\n"
     "histogram t_seconds t_seconds_count 1 (seconds)\n"
     "histogram t_seconds t_seconds_sum 0.5 (seconds)\n"
     "histogram t_seconds t_seconds_created 1.5 @2 (seconds)\n"},
    {OM, "# TYPE g gaugehistogram\ng_bucket{le=\"+Inf\"} 3\ng_gcount 3\ng_gsum -1\n# EOF\n",
     "gaugehistogram g g_bucket{le=\"+Inf\"} 3\ngaugehistogram g g_gcount 3\n"
     "gaugehistogram g g_gsum -1\n"},
    {OM, "# TYPE s stateset\ns{s=\"a\"} 1\ns{s=\"b\"} 0\n# TYPE i info\ni_info{v=\"1\"} 1\n# EOF\n",
     "stateset s s{s=\"a\"} 1\nstateset s s{s=\"b\"} 0\ninfo i i_info{v=\"1\"} 1\n"},
    {OM,
     "# TYPE s summary\ns{quantile=\"0.5\"} NaN\ns_count 0\ns_sum 0\ns_created 1\n"
     "# TYPE u unknown\nu -Inf 1.5\n# EOF\n",
     "summary s s{quantile=\"0.5\"} NaN\nsummary s s_count 0\nsummary s s_sum 0\n"
     "summary s s_created 1\nunknown u u -Inf @1.5\n"},
    {OM, "a 1  \r\n\n# EOF \r\n", "unknown a a 1\n"},
    {AUTO, "a 1\n# EOF\n", "unknown a a 1\n"},
    {AUTO, "a 1\n# EOF \r\n", "unknown a a 1\n"},
    {AUTO, "a 1\n# EOF\n\n", "untyped a a 1\n"},
    {AUTO, "# TYPE a counter\na 1\n", "counter a a 1\n"},
};

static void test_good(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char *got = parse_desc(good[i].in, good[i].f);
        if (strcmp(got, good[i].want))
            fail_msg("good[%zu] gave:\n%s\nwant:\n%s", i, got, good[i].want);
        am__free(got);
    }
}

/* ---------------------------------------------------------------- bad inputs */

static const struct {
    am_expo_format f;
    const char *in;
    am_err code;
    size_t line;      /* the line the message must name */
    const char *says; /* and a word of the problem */
} bad[] = {
    {P, "a\n", AM_EPROTO, 1, "no value"},
    {P, "a 1\nb\n", AM_EPROTO, 2, "no value"},
    {P, "1a 1\n", AM_EPROTO, 1, "metric name"},
    {P, "a-b 1\n", AM_EPROTO, 1, "invalid character"},
    {P, "a{ 1\n", AM_EPROTO, 1, "label name"},
    {P, "a{b} 1\n", AM_EPROTO, 1, "'='"},
    {P, "a{b=c} 1\n", AM_EPROTO, 1, "'\"'"},
    {P, "a{b=\"c} 1\n", AM_EPROTO, 1, "unterminated"},
    {P, "a{b=\"c\" d=\"e\"} 1\n", AM_EPROTO, 1, "','"},
    {P, "a{b=\"\\x\"} 1\n", AM_EPROTO, 1, "escape"},
    {P, "a{b=\"\xff\"} 1\n", AM_EPROTO, 1, "UTF-8"},
    {P, "a{b=\"1\",b=\"2\"} 1\n", AM_EPROTO, 1, "twice"},
    {P, "a{1b=\"1\"} 1\n", AM_EPROTO, 1, "label name"},
    {P, "a x\n", AM_EPROTO, 1, "invalid value"},
    {P, "a 0x10\n", AM_EPROTO, 1, "invalid value"},
    {P, "a 1e\n", AM_EPROTO, 1, "invalid value"},
    {P, "a -nan\n", AM_EPROTO, 1, "invalid value"},
    {P, "a 1 1.5\n", AM_EPROTO, 1, "timestamp"},
    {P, "a 1 2 3\n", AM_EPROTO, 1, "after the timestamp"},
    {P, "a 1 # {t=\"1\"} 1\n", AM_EPROTO, 1, "OpenMetrics only"},
    {P, "# TYPE a\n", AM_EPROTO, 1, "unknown type"},
    {P, "# TYPE a info\n", AM_EPROTO, 1, "unknown type"},
    {P, "# TYPE a counter\n# TYPE a counter\n", AM_EPROTO, 2, "second"},
    {P, "# HELP a x\n# HELP a y\n", AM_EPROTO, 2, "second"},
    {P, "a 1\n# TYPE a gauge\n", AM_EPROTO, 2, "after its samples"},
    {P, "# HELP 9a x\n", AM_EPROTO, 1, "metric name"},
    {P, "# TYPE h histogram\nh_bucket 1\n", AM_EPROTO, 2, "\"le\""},
    {P, "# TYPE h histogram\nh_bucket{le=\"x\"} 1\n", AM_EPROTO, 2, "not a number"},
    {P, "# TYPE h histogram\nh 1\n", AM_EPROTO, 2, "suffix"},
    {P, "# TYPE s summary\ns 1\n", AM_EPROTO, 2, "\"quantile\""},
    {P, "a 1\nb\0 1\n", AM_EPROTO, 2, "NUL"},
    {OM, "", AM_EPROTO, 1, "EOF"},
    {OM, "a 1\n", AM_EPROTO, 2, "EOF"},
    {OM, "# EOF\na 1\n", AM_EPROTO, 2, "after # EOF"},
    {OM, "# EOF\n\n", AM_EPROTO, 2, "after # EOF"},
    {OM, "# some comment\n# EOF\n", AM_EPROTO, 1, "comment"},
    {OM, "#HELP a x\n# EOF\n", AM_EPROTO, 1, "comment"},
    {OM, "# TYPE a untyped\n# EOF\n", AM_EPROTO, 1, "unknown type"},
    {OM, "# HELP a \\q\n# EOF\n", AM_EPROTO, 1, "escape"},
    {OM, "# TYPE a counter\na 1\n# EOF\n", AM_EPROTO, 2, "suffix"},
    {OM, "# TYPE a counter\na_total -1\n# EOF\n", AM_EPROTO, 2, "negative"},
    {OM, "# TYPE a counter\na_total NaN\n# EOF\n", AM_EPROTO, 2, "negative"},
    {OM, "a_total 1\n# TYPE a_total counter\n# EOF\n", AM_EPROTO, 2, "after its samples"},
    {OM, "# UNIT a_bytes seconds\n# EOF\n", AM_EPROTO, 1, "unit"},
    {OM, "# TYPE a gauge\na 1 # {t=\"1\"} 1\n# EOF\n", AM_EPROTO, 2, "exemplar"},
    {OM, "# TYPE a counter\na_total 1 # t 1\n# EOF\n", AM_EPROTO, 2, "exemplar"},
    {OM, "# TYPE a counter\na_total 1 # {t=\"1\"}\n# EOF\n", AM_EPROTO, 2, "exemplar value"},
    {OM, "# TYPE a counter\na_total 1 # {t=\"1\"} 1 x\n# EOF\n", AM_EPROTO, 2,
     "exemplar timestamp"},
    {OM, "a  1\n# EOF\n", AM_EPROTO, 1, "space"},
    {OM, " a 1\n# EOF\n", AM_EPROTO, 1, "metric name"},
    {OM, "a{b=\"1\",} 1\n# EOF\n", AM_EPROTO, 1, "comma"},
    {OM, "a 1 NaN\n# EOF\n", AM_EPROTO, 1, "timestamp"},
    {OM, "# TYPE s stateset\ns{x=\"a\"} 1\n# EOF\n", AM_EPROTO, 2, "stateset"},
    {OM, "# TYPE s stateset\ns{s=\"a\"} 2\n# EOF\n", AM_EPROTO, 2, "0 or 1"},
    {OM, "# TYPE i info\ni_info 2\n# EOF\n", AM_EPROTO, 2, "not 1"},
    {OM, "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na 2\n# EOF\n", AM_EPROTO, 5, "twice"},
    {OM, "# HELP a x\n# HELP b y\n# HELP a z\n# EOF\n", AM_EPROTO, 3, "twice"},
    {OM, "# TYPE a counter\na_total 1\n# HELP a late\n# EOF\n", AM_EPROTO, 3, "after its samples"},
    {OM, "# TYPE h histogram\nh_bucket{le=\"1\"} -1\n# EOF\n", AM_EPROTO, 2, "negative"},
};

static void test_bad(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t len = strlen(bad[i].in);
        if (strstr(bad[i].says, "NUL"))
            len = 9; /* "a 1\nb\0 1\n" */
        int calls = 0;
        am_err rc = am__expo_parse(bad[i].in, len, bad[i].f, NULL, NULL, &calls, NULL);
        if (rc != bad[i].code)
            fail_msg("bad[%zu] \"%s\" gave %s (%s)", i, bad[i].in, am_err_name(rc), am_errmsg());
        char where[32];
        snprintf(where, sizeof where, "line %zu:", bad[i].line);
        if (!strstr(am_errmsg(), where) || !strstr(am_errmsg(), bad[i].says))
            fail_msg("bad[%zu]: message \"%s\" lacks \"%s\" or \"%s\"", i, am_errmsg(), where,
                     bad[i].says);
    }
}

/* A name that fits no suffix of the current family starts an unknown one. */
static void test_new_family_rule(void **state)
{
    (void)state;
    char *got = parse_desc("# TYPE g gaugehistogram\ng_gsum 1\ng_sum 1\n# EOF\n", OM);
    AM_ASSERT_STR_EQ(got, "gaugehistogram g g_gsum 1\nunknown g_sum g_sum 1\n");
    am__free(got);
}

/* ---------------------------------------------------------------- limits */

static void test_limits(void **state)
{
    (void)state;
    am_expo_opts o = AM_EXPO_OPTS_INIT;
    o.max_labels = 2;
    o.max_label_value_bytes = 4;
    o.max_line_bytes = 40;
    const char *three = "a{x=\"1\",y=\"2\",z=\"3\"} 1\n";
    AM_ASSERT_ERR(am__expo_parse(three, strlen(three), P, &o, NULL, NULL, NULL), AM_ELIMIT);
    AM_ASSERT_CONTAINS(am_errmsg(), "more than 2 labels");
    const char *longv = "a 1\na{x=\"12345\"} 1\n";
    AM_ASSERT_ERR(am__expo_parse(longv, strlen(longv), P, &o, NULL, NULL, NULL), AM_ELIMIT);
    AM_ASSERT_CONTAINS(am_errmsg(), "line 2:");
    AM_ASSERT_CONTAINS(am_errmsg(), "longer than 4 bytes");
    const char *escaped = "a{x=\"\\\\\\\\\"} 1\n"; /* 4 bytes as sent, 2 unescaped */
    AM_ASSERT_OK(am__expo_parse(escaped, strlen(escaped), P, &o, NULL, NULL, NULL));
    char line[100];
    memset(line, 'a', sizeof line);
    line[98] = '\n';
    line[99] = 'x';
    AM_ASSERT_ERR(am__expo_parse(line, 99, P, &o, NULL, NULL, NULL), AM_ELIMIT);
    AM_ASSERT_CONTAINS(am_errmsg(), "line 1: longer than 40 bytes");
    /* also when the long line never ends */
    AM_ASSERT_ERR(am__expo_parse(line, 98, P, &o, NULL, NULL, NULL), AM_ELIMIT);
    o.max_labels = 0;
    am_expo_parser *p;
    AM_ASSERT_ERR(am__expo_parser_new(P, &o, &p), AM_EINVAL);
    AM_ASSERT_ERR(am__expo_parser_new(AM_EXPO_AUTO, NULL, &p), AM_EINVAL);
    assert_null(p);
}

/* ---------------------------------------------------------------- out of memory */

/* Every allocation of a parse fails in turn: AM_ENOMEM or AM_OK, nothing leaked. */
static void test_out_of_memory(void **state)
{
    (void)state;
    am_buf text;
    am_buf_init(&text, 0);
    for (int f = 0; f < 80; f++) /* family names and help grow their buffers */
        am_buf_printf(
            &text, "# HELP fam%d_total h%*sx\n# TYPE fam%d counter\nfam%d_total{l=\"v%*sv\"} %d\n",
            f, f * 10, "", f, f, f * 8, "", f);
    am_buf_puts(&text, "# EOF\n");
    assert_int_equal(am_buf_err(&text), AM_OK);
    am_allocator a = {t_malloc, t_realloc, t_free};
    AM_ASSERT_OK(am_set_allocator(&a));
    bool done = false;
    for (g_fail_at = 1; !done && g_fail_at < 10000; g_fail_at++) {
        g_count = 0;
        g_live = 0;
        size_t n = 0;
        am_err rc = am__expo_parse(text.p, text.len, OM, NULL, NULL, NULL, &n);
        if (rc == AM_OK) {
            done = g_count < g_fail_at;
            AM_ASSERT_EQ(n, 80);
        } else if (rc != AM_ENOMEM) {
            fail_msg("fail_at=%ld gave %s: %s", g_fail_at, am_err_name(rc), am_errmsg());
        }
        if (g_live != 0)
            fail_msg("fail_at=%ld leaked %ld allocations", g_fail_at, g_live);
    }
    am_set_allocator(NULL);
    assert_true(done);
    am_buf_free(&text);
}

/* ---------------------------------------------------------------- chunks, stop */

static int stop_after_two(void *ud, const am_expo_sample *s)
{
    (void)s;
    return ++*(int *)ud == 2;
}

static void test_chunks_and_stop(void **state)
{
    (void)state;
    const char *text = "# TYPE a counter\n# HELP a h\na_total{x=\"y\"} 1 # {t=\"1\"} 2 3\r\n"
                       "a_created 5\n# TYPE b gauge\nb 2\nc 3\n# EOF\n";
    char *whole = parse_desc(text, OM);
    size_t len = strlen(text);
    /* every split point, and one byte at a time, give the same samples */
    for (size_t step = 1; step <= len; step++) {
        am_expo_parser *p;
        AM_ASSERT_OK(am__expo_parser_new(OM, NULL, &p));
        am_buf b;
        am_buf_init(&b, 0);
        am_buf_puts(&b, "");
        for (size_t i = 0; i < len; i += step)
            AM_ASSERT_OK(am__expo_feed(p, text + i, i + step > len ? len - i : step, describe, &b));
        AM_ASSERT_OK(am__expo_finish(p, describe, &b));
        AM_ASSERT_EQ(am__expo_n_samples(p), 4);
        AM_ASSERT_STR_EQ(b.p, whole);
        am_buf_free(&b);
        am__expo_parser_free(p);
    }
    am__free(whole);
    int calls = 0;
    size_t n;
    AM_ASSERT_OK(am__expo_parse(text, len, OM, NULL, stop_after_two, &calls, &n));
    AM_ASSERT_EQ(calls, 2);
    AM_ASSERT_EQ(n, 2);
    /* an error is sticky, and its message stays */
    am_expo_parser *p;
    AM_ASSERT_OK(am__expo_parser_new(P, NULL, &p));
    AM_ASSERT_ERR(am__expo_feed(p, "a 1\nb x\n", 8, NULL, NULL), AM_EPROTO);
    AM_ASSERT_ERR(am__expo_feed(p, "c 1\n", 4, NULL, NULL), AM_EPROTO);
    AM_ASSERT_CONTAINS(am_errmsg(), "line 2: invalid value \"x\"");
    AM_ASSERT_ERR(am__expo_finish(p, NULL, NULL), AM_EPROTO);
    am__expo_parser_free(p);
    am__expo_parser_free(NULL);
}

static void test_format_of(void **state)
{
    (void)state;
    AM_ASSERT_EQ(am__expo_format_of("application/openmetrics-text; version=1.0.0; charset=utf-8"),
                 OM);
    AM_ASSERT_EQ(am__expo_format_of(" Application/OpenMetrics-Text"), OM);
    AM_ASSERT_EQ(am__expo_format_of("text/plain; version=0.0.4"), P);
    AM_ASSERT_EQ(am__expo_format_of(NULL), P);
}

/* ---------------------------------------------------------------- round trip */

/*
** Write the samples back as exposition text, metadata when the family
** changes, numbers as the encoders write them; the result must be the
** encoder's own text minus families without samples.
*/
typedef struct {
    am_buf b;
    bool om;
    char family[128];
} rewrite;

static int rewrite_sample(void *ud, const am_expo_sample *s)
{
    rewrite *w = ud;
    am_buf *b = &w->b;
    if (strcmp(w->family, s->family)) {
        snprintf(w->family, sizeof w->family, "%s", s->family);
        am_buf_printf(b, "# HELP %s ", s->family);
        am__buf_help(b, s->help, w->om);
        am_buf_printf(b, "\n# TYPE %s %s\n", s->family, s->type);
        if (*s->unit)
            am_buf_printf(b, "# UNIT %s %s\n", s->family, s->unit);
    }
    am_buf_puts(b, s->name);
    if (s->n_labels)
        put_labels(b, s->label_names, s->label_values, s->n_labels);
    am_buf_putc(b, ' ');
    size_t nl = strlen(s->name);
    if (nl > 8 && !strcmp(s->name + nl - 8, "_created"))
        am__buf_millis(b, s->value);
    else
        am__buf_double(b, s->value);
    if (s->has_exemplar) {
        am_buf_puts(b, " # ");
        put_labels(b, s->ex_label_names, s->ex_label_values, s->ex_n_labels);
        am_buf_putc(b, ' ');
        am__buf_double(b, s->ex_value);
        if (s->ex_has_timestamp) {
            am_buf_putc(b, ' ');
            am__buf_millis(b, s->ex_timestamp);
        }
    }
    am_buf_putc(b, '\n');
    return 0;
}

static void round_trip(am_format f)
{
    am_registry *r = fixture_registry();
    char *text = am_test_encode(r, f);
    bool om = f == AM_FORMAT_OPENMETRICS;
    rewrite w = {.om = om};
    am_buf_init(&w.b, 0);
    size_t n = 0;
    AM_ASSERT_OK(am__expo_parse(text, strlen(text), om ? OM : P, NULL, rewrite_sample, &w, &n));
    AM_ASSERT_OK(am__expo_parse(text, strlen(text), AUTO, NULL, NULL, NULL, NULL));
    assert_true(n > 20);
    if (om)
        am_buf_puts(&w.b, "# EOF\n");
    /* the original without the family that has no samples */
    am_buf want;
    am_buf_init(&want, 0);
    for (const char *l = text; *l;) {
        const char *e = strchr(l, '\n');
        size_t len = e ? (size_t)(e - l + 1) : strlen(l);
        if (!strstr(l, "empty_family") || (e && strstr(l, "empty_family") > e))
            am_buf_append(&want, l, len);
        l += len;
    }
    AM_ASSERT_STR_EQ(w.b.p, want.p);
    am_buf_free(&want);
    am_buf_free(&w.b);
    am_free(text);
    fixture_free(r);
}

static void test_round_trip_openmetrics(void **state)
{
    (void)state;
    round_trip(AM_FORMAT_OPENMETRICS);
}

static void test_round_trip_prometheus(void **state)
{
    (void)state;
    round_trip(AM_FORMAT_PROMETHEUS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_new_family_rule),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_chunks_and_stop),
        cmocka_unit_test(test_format_of),
        cmocka_unit_test(test_round_trip_openmetrics),
        cmocka_unit_test(test_round_trip_prometheus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
