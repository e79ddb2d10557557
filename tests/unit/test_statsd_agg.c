/*
** test_statsd_agg.c: StatsD lines into a registry -- every type, sample
** rates, gauge deltas, sets reset by a flush, tag order, the refusals
** (tag keys or type differing from a name's first line, reserved names,
** too many names), the cardinality guard, the exposition text that
** results and the samples a flush gives.
*/
#include <math.h>

#include "testutil.h"
#include "fault_alloc.h"
#include "serve/ingest/statsd_agg.h"

static am_err feed(am_statsd_agg *a, const char *line)
{
    am_statsd_line l;
    am_err rc = am__statsd_parse(line, strlen(line), &l);
    return rc ? rc : am__statsd_agg_line(a, &l);
}

static am_registry *g_r;
static am_statsd_agg *g_a;

static int setup(void **state)
{
    (void)state;
    if (am_registry_new(&g_r) || am__statsd_agg_new(g_r, NULL, &g_a))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    am__statsd_agg_free(g_a);
    am_registry_free(g_r);
    return 0;
}

/* Collected samples, one "name{labels} value" line each. */
typedef struct collected {
    char text[16384];
    size_t len;
    size_t n;
    size_t stop_after;
} collected;

static int collect(void *ud, const am_sample *s)
{
    collected *c = ud;
    assert_string_equal(s->source, "statsd");
    assert_true(s->timestamp > 1e9);
    c->len += (size_t)snprintf(c->text + c->len, sizeof c->text - c->len, "%s%s %s %.17g\n",
                               s->name, s->labels, s->type, s->value);
    c->n++;
    return c->stop_after && c->n >= c->stop_after;
}

static void test_types(void **state)
{
    (void)state;
    AM_ASSERT_OK(feed(g_a, "agent.tasks:1|c|#agent:planner"));
    AM_ASSERT_OK(feed(g_a, "agent.tasks:2:3|c|#agent:planner"));
    AM_ASSERT_OK(feed(g_a, "agent.tasks:1|c|@0.25|#agent:coder"));
    AM_ASSERT_OK(feed(g_a, "queue-depth:10|g"));
    AM_ASSERT_OK(feed(g_a, "queue-depth:+5|g"));
    AM_ASSERT_OK(feed(g_a, "queue-depth:-3|g|@0.5")); /* gauges ignore the rate */
    AM_ASSERT_OK(feed(g_a, "llm.latency:250|ms|#provider:a"));
    AM_ASSERT_OK(feed(g_a, "llm.latency:2000|ms|@0.5|#provider:a"));
    AM_ASSERT_OK(feed(g_a, "rt_seconds:100|ms"));
    AM_ASSERT_OK(feed(g_a, "tokens:300:3000|h"));
    AM_ASSERT_OK(feed(g_a, "tokens:7|d"));
    AM_ASSERT_OK(feed(g_a, "users:alice|s"));
    AM_ASSERT_OK(feed(g_a, "users:bob:alice|s"));
    AM_ASSERT_OK(feed(g_a, "1bad.name:1|c"));
    AM_ASSERT_EQ(am__statsd_agg_n_families(g_a), 7);
    AM_ASSERT_EQ(am__statsd_agg_n_series(g_a), 8);

    char *text = am_test_encode(g_r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_CONTAINS(text, "# TYPE agent_tasks_total counter\n");
    AM_ASSERT_CONTAINS(text, "agent_tasks_total{agent=\"planner\"} 6\n");
    AM_ASSERT_CONTAINS(text, "agent_tasks_total{agent=\"coder\"} 4\n");
    AM_ASSERT_CONTAINS(text, "# TYPE queue_depth gauge\nqueue_depth 12\n");
    AM_ASSERT_CONTAINS(text, "# TYPE llm_latency_seconds histogram\n");
    /* 0.25 once, 2.0 twice (rate 0.5) */
    AM_ASSERT_CONTAINS(text, "llm_latency_seconds_bucket{provider=\"a\",le=\"0.25\"} 1\n");
    AM_ASSERT_CONTAINS(text, "llm_latency_seconds_bucket{provider=\"a\",le=\"2.5\"} 3\n");
    AM_ASSERT_CONTAINS(text, "llm_latency_seconds_bucket{provider=\"a\",le=\"300\"} 3\n");
    AM_ASSERT_CONTAINS(text, "llm_latency_seconds_sum{provider=\"a\"} 4.25\n");
    AM_ASSERT_CONTAINS(text, "llm_latency_seconds_count{provider=\"a\"} 3\n");
    AM_ASSERT_CONTAINS(text, "rt_seconds_sum 0.1\n");
    AM_ASSERT_LACKS(text, "rt_seconds_seconds");
    AM_ASSERT_CONTAINS(text, "tokens_bucket{le=\"10\"} 1\n");
    AM_ASSERT_CONTAINS(text, "tokens_bucket{le=\"500\"} 2\n");
    AM_ASSERT_CONTAINS(text, "tokens_bucket{le=\"1e+06\"} 3\n");
    AM_ASSERT_CONTAINS(text, "tokens_count 3\n");
    AM_ASSERT_CONTAINS(text, "# TYPE users gauge\nusers 2\n");
    AM_ASSERT_CONTAINS(text, "_1bad_name_total 1\n");
    AM_ASSERT_CONTAINS(text, "# HELP agent_tasks_total StatsD c \"agent.tasks\".\n");
    am_free(text);

    collected c = {0};
    AM_ASSERT_OK(am__statsd_agg_flush(g_a, collect, &c));
    AM_ASSERT_CONTAINS(c.text, "agent_tasks_total{agent=\"planner\"} counter 6\n");
    AM_ASSERT_CONTAINS(c.text, "queue_depth gauge 12\n");
    AM_ASSERT_CONTAINS(c.text,
                       "llm_latency_seconds_bucket{le=\"0.005\",provider=\"a\"} histogram 0\n");
    AM_ASSERT_CONTAINS(c.text,
                       "llm_latency_seconds_bucket{le=\"+Inf\",provider=\"a\"} histogram 3\n");
    AM_ASSERT_CONTAINS(c.text, "llm_latency_seconds_count{provider=\"a\"} histogram 3\n");
    AM_ASSERT_CONTAINS(c.text, "tokens_sum histogram 3307\n");
    AM_ASSERT_CONTAINS(c.text, "users gauge 2\n");
    /* 2 counters + 1 gauge + 2 histograms of 16/23 buckets + sum + count + set + 1 */
    AM_ASSERT_EQ(c.n, 2 + 1 + (16 + 2) * 2 + (23 + 2) + 1 + 1);

    /* sets start again after a flush */
    text = am_test_encode(g_r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_CONTAINS(text, "\nusers 0\n");
    am_free(text);
    AM_ASSERT_OK(feed(g_a, "users:carol|s"));
    AM_ASSERT_OK(feed(g_a, "users:carol|s"));
    c = (collected){0};
    AM_ASSERT_OK(am__statsd_agg_flush(g_a, collect, &c));
    AM_ASSERT_CONTAINS(c.text, "users gauge 1\n");

    /* a sink that stops early stops the walk */
    c = (collected){0};
    c.stop_after = 2;
    AM_ASSERT_OK(am__statsd_agg_flush(g_a, collect, &c));
    AM_ASSERT_EQ(c.n, 2);
}

static void test_tags(void **state)
{
    (void)state;
    /* tag order does not matter: one series, keys sorted */
    AM_ASSERT_OK(feed(g_a, "req:1|c|#b.x:2,a:1"));
    AM_ASSERT_OK(feed(g_a, "req:1|c|#a:1,b.x:2"));
    AM_ASSERT_EQ(am__statsd_agg_n_series(g_a), 1);
    char *text = am_test_encode(g_r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_CONTAINS(text, "req_total{a=\"1\",b_x=\"2\"} 2\n");
    am_free(text);

    /* other keys than the first line's: taken, as statsd_exporter takes
       them (hot-shots sends global tags on some lines, not on others):
       one family, exposed once, with series of each key set */
    AM_ASSERT_OK(feed(g_a, "req:1|c|#a:1"));
    AM_ASSERT_OK(feed(g_a, "req:1|c|#a:1,b.x:2,c:3"));
    AM_ASSERT_OK(feed(g_a, "req:4|c"));
    AM_ASSERT_OK(feed(g_a, "req:1|c|#a:2")); /* a key set seen before */
    text = am_test_encode(g_r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_CONTAINS(text, "# TYPE req_total counter\nreq_total{a=\"1\",b_x=\"2\"} 2\n"
                             "req_total{a=\"1\"} 1\nreq_total{a=\"2\"} 1\n");
    AM_ASSERT_CONTAINS(text, "req_total{a=\"1\",b_x=\"2\",c=\"3\"} 1\nreq_total 4\n");
    if (strstr(strstr(text, "# TYPE req_total") + 1, "# TYPE req_total"))
        fail_msg("req_total is exposed twice:\n%s", text);
    am_free(text);
    /* and a bound on key sets per name */
    char line[64];
    for (int i = 0; i < 4; i++) {
        snprintf(line, sizeof line, "req:1|c|#k%d:1", i);
        AM_ASSERT_OK(feed(g_a, line));
    }
    AM_ASSERT_ERR(feed(g_a, "req:1|c|#k9:1"), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "has 8 tag key sets already");
    /* keys that map to the same label */
    AM_ASSERT_ERR(feed(g_a, "dup:1|c|#a.b:1,a-b:2"), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "map to label \"a_b\"");
    /* a name's type is fixed by its first line (h and d are one kind) */
    AM_ASSERT_ERR(feed(g_a, "req:1|g|#a:1,b.x:2"), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "first sent as a counter (c), not a gauge (g)");
    AM_ASSERT_OK(feed(g_a, "sz:1|h"));
    AM_ASSERT_OK(feed(g_a, "sz:1|d"));
    AM_ASSERT_ERR(feed(g_a, "sz:1|ms"), AM_EINVAL);
    /* the collector's own series cannot be forged (a fake up{job} would
       fool the alert rules that trust it) */
    AM_ASSERT_ERR(feed(g_a, "up:0|g|#instance:x,job:y"), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "\"up\" is reserved for the collector");
    AM_ASSERT_ERR(feed(g_a, "scrape_duration_seconds:1|g"), AM_EINVAL);
    AM_ASSERT_ERR(feed(g_a, "agentmon.store.queued:1|g"), AM_EINVAL);
    AM_ASSERT_OK(feed(g_a, "upstream:1|g")); /* only the exact name */
    AM_ASSERT_ERR(feed(g_a, "sz:1|s"), AM_EINVAL);
    /* a timer whose _seconds name is a histogram already */
    AM_ASSERT_OK(feed(g_a, "t_seconds:1|h"));
    AM_ASSERT_ERR(feed(g_a, "t:1|ms"), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "\"t_seconds\" was first sent as a histogram (h/d)");
    /* the registry's own rules: "le" cannot label a histogram */
    AM_ASSERT_ERR(feed(g_a, "h2:1|h|#le:1"), AM_EINVAL);
    /* the collector's own names */
    AM_ASSERT_ERR(feed(g_a, "agentmon.ingest_lines:1|c"), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "reserved for the collector");
    /* a counter value that overflows once divided by the rate */
    AM_ASSERT_ERR(feed(g_a, "big:1e308|c|@0.001"), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "not finite");
    text = am_test_encode(g_r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_CONTAINS(text, "req_total{a=\"1\",b_x=\"2\"} 2\n");
    AM_ASSERT_LACKS(text, "dup_total");
    AM_ASSERT_LACKS(text, "big_total");
    AM_ASSERT_LACKS(text, "h2");
    am_free(text);
    /* a tag value with characters to escape */
    AM_ASSERT_OK(feed(g_a, "esc:1|g|#k:a\"b\\c"));
    text = am_test_encode(g_r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_CONTAINS(text, "esc{k=\"a\\\"b\\\\c\"} 1\n");
    am_free(text);
}

static void collect_one(am_sink *s, void *ud)
{
    (void)ud;
    am_sink_put(s, NULL, 0, 1);
}

/* Names the registry has already (a pack's metrics) are fed, not refused. */
static void test_existing(void **state)
{
    (void)state;
    const char *task_labels[] = {"agent_id", "status"};
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.name = "agent_task_duration_seconds";
    o.unit = "seconds";
    o.label_names = task_labels;
    o.n_labels = 2;
    am_histogram *h;
    AM_ASSERT_OK(am_histogram_new(g_r, &o, &h)); /* the default buckets, not ours */
    const char *ba[] = {"b", "a"};
    am_metric_opts co = AM_METRIC_OPTS_INIT;
    co.name = "pairs_total";
    co.label_names = ba;
    co.n_labels = 2;
    am_counter *pc;
    AM_ASSERT_OK(am_counter_new(g_r, &co, &pc));
    am_metric_opts cb = AM_METRIC_OPTS_INIT;
    cb.name = "computed";
    am_callback *cbh;
    AM_ASSERT_OK(am_callback_new(g_r, AM_TYPE_GAUGE, &cb, collect_one, NULL, &cbh));

    AM_ASSERT_OK(feed(g_a, "agent.task.duration:1500|ms|#status:success,agent_id:coder"));
    AM_ASSERT_OK(feed(g_a, "pairs:2|c|#a:x,b:y"));
    /* a pack's family keeps its labels: other keys are refused */
    AM_ASSERT_ERR(feed(g_a, "agent.task.duration:1|ms|#agent_id:coder"), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "tag keys (agent_id) differ from the first line's");
    AM_ASSERT_ERR(feed(g_a, "pairs_total:1|c|#a:x"), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "differ from the registered metric's (b,a)");
    AM_ASSERT_ERR(feed(g_a, "computed:1|g"), AM_EINVAL);
    AM_ASSERT_ERR(feed(g_a, "pairs:1|g|#a:x,b:y"), AM_EINVAL); /* a counter there */
    char *text = am_test_encode(g_r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_CONTAINS(text, "agent_task_duration_seconds_bucket{agent_id=\"coder\","
                             "status=\"success\",le=\"2.5\"} 1\n");
    AM_ASSERT_CONTAINS(text, "agent_task_duration_seconds_bucket{agent_id=\"coder\","
                             "status=\"success\",le=\"1\"} 0\n");
    AM_ASSERT_CONTAINS(text, "pairs_total{b=\"y\",a=\"x\"} 2\n");
    am_free(text);
    collected c = {0};
    AM_ASSERT_OK(am__statsd_agg_flush(g_a, collect, &c));
    AM_ASSERT_CONTAINS(c.text, "pairs_total{a=\"x\",b=\"y\"} counter 2\n");
    AM_ASSERT_CONTAINS(c.text, "agent_task_duration_seconds_bucket{agent_id=\"coder\","
                               "le=\"10\",status=\"success\"} histogram 1\n");
    AM_ASSERT_EQ(c.n, 1 + 12 + 2); /* the family's 11 default bounds + Inf, sum, count */
}

static void test_limits(void **state)
{
    (void)state;
    am_registry *r;
    am_statsd_agg *a;
    AM_ASSERT_OK(am_registry_new(&r));
    am_statsd_agg_opts o = AM_STATSD_AGG_OPTS_INIT;
    o.max_families = 3;
    o.max_children = 4;
    o.max_cache = 5;
    AM_ASSERT_OK(am__statsd_agg_new(r, &o, &a));
    char line[64];
    for (int i = 0; i < 4; i++) {
        snprintf(line, sizeof line, "c:1|c|#id:%d", i);
        AM_ASSERT_OK(feed(a, line));
    }
    /* the fifth label set goes to the overflow series */
    AM_ASSERT_ERR(feed(a, "c:1|c|#id:4"), AM_ELIMIT);
    AM_ASSERT_ERR(feed(a, "c:2|c|#id:5"), AM_ELIMIT);
    AM_ASSERT_OK(feed(a, "c:1|c|#id:0")); /* known ones still work, cache emptied or not */
    char *text = am_test_encode(r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_CONTAINS(text, "c_total{id=\"__overflow__\"} 3\n");
    AM_ASSERT_CONTAINS(text, "c_total{id=\"0\"} 2\n");
    AM_ASSERT_CONTAINS(text, "agentmon_cardinality_overflow_total{metric=\"c\"} 2\n");
    am_free(text);
    /* too many names */
    AM_ASSERT_OK(feed(a, "n2:1|g"));
    AM_ASSERT_OK(feed(a, "n3:1|g"));
    AM_ASSERT_ERR(feed(a, "n4:1|g"), AM_ELIMIT);
    AM_ASSERT_CONTAINS(am_errmsg(), "too many metric names");
    AM_ASSERT_EQ(am__statsd_agg_n_families(a), 3);
    /* many raw spellings of one series: the cache is emptied, values exact */
    for (int i = 0; i < 50; i++) {
        snprintf(line, sizeof line, "n2:+1|g%s", i % 2 ? "|c:x" : "");
        AM_ASSERT_OK(feed(a, line));
        snprintf(line, sizeof line, "n3:+1|g|T%d", i);
        AM_ASSERT_OK(feed(a, line));
    }
    text = am_test_encode(r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_CONTAINS(text, "\nn2 51\n");
    AM_ASSERT_CONTAINS(text, "\nn3 51\n");
    am_free(text);
    am__statsd_agg_free(a);
    am_registry_free(r);
    am__statsd_agg_free(NULL);
}

/* A source's budget of series, all names together (issue 10): one UDP
   sender made 1 M series in 11 s when only names and series per name were
   bounded. Past the budget a new label set lands in its family's overflow
   series and is counted, existing series keep working, and the registry's
   own bound (all sources together) does the same. */
static void test_series_budget(void **state)
{
    (void)state;
    am_registry *r;
    am_statsd_agg *a;
    AM_ASSERT_OK(am_registry_new(&r));
    am_statsd_agg_opts o = AM_STATSD_AGG_OPTS_INIT;
    o.max_series = 5;
    AM_ASSERT_OK(am__statsd_agg_new(r, &o, &a));
    char line[64];
    for (int i = 0; i < 3; i++) {
        snprintf(line, sizeof line, "x.%d:1|c|#id:a", i);
        AM_ASSERT_OK(feed(a, line));
    }
    AM_ASSERT_OK(feed(a, "y:1|g|#id:a"));
    AM_ASSERT_OK(feed(a, "y:2|g|#id:b"));
    AM_ASSERT_EQ(am__statsd_agg_n_series(a), 5);
    /* the budget is spent: new label sets of any name overflow */
    AM_ASSERT_ERR(feed(a, "y:7|g|#id:c"), AM_ELIMIT);
    AM_ASSERT_ERR(feed(a, "x.0:1|c|#id:b"), AM_ELIMIT);
    AM_ASSERT_ERR(feed(a, "x.0:1|c|#id:c"), AM_ELIMIT);
    /* a new name without labels has no overflow series: refused */
    AM_ASSERT_ERR(feed(a, "z:1|c"), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "budget of 5 series is spent");
    /* known series still count, even spelled another way */
    AM_ASSERT_OK(feed(a, "x.0:1|c|#id:a"));
    AM_ASSERT_OK(feed(a, "y:3|g|#id:b"));
    AM_ASSERT_EQ(am__statsd_agg_n_series(a) <= 7, 1); /* + the overflow series of x.0 and y */
    char *text = am_test_encode(r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_CONTAINS(text, "x_0_total{id=\"a\"} 2\n");
    AM_ASSERT_CONTAINS(text, "x_0_total{id=\"__overflow__\"} 2\n");
    AM_ASSERT_CONTAINS(text, "y{id=\"__overflow__\"} 7\n");
    AM_ASSERT_CONTAINS(text, "y{id=\"b\"} 3\n");
    AM_ASSERT_CONTAINS(text, "agentmon_cardinality_overflow_total{metric=\"x_0\"} 2\n");
    AM_ASSERT_LACKS(text, "x_0_total{id=\"b\"}");
    am_free(text);
    am__statsd_agg_free(a);

    /* the registry's bound, across sources: a second aggregator sees it */
    am_statsd_agg *b;
    AM_ASSERT_OK(am__statsd_agg_new(r, NULL, &b));
    AM_ASSERT_OK(am_registry_set_max_series(r, am_registry_series(r)));
    AM_ASSERT_ERR(feed(b, "w:1|c|#id:a"), AM_ELIMIT);
    text = am_test_encode(r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_CONTAINS(text, "w_total{id=\"__overflow__\"} 1\n");
    am_free(text);
    am__statsd_agg_free(b);
    am_registry_free(r);
}

typedef struct invalids {
    int n;
    am_err last;
    char line[64];
} invalids;

static void on_invalid(void *ud, const char *line, size_t len, am_err rc)
{
    invalids *v = ud;
    v->n++;
    v->last = rc;
    snprintf(v->line, sizeof v->line, "%.*s", (int)len, line);
}

static void test_datagram(void **state)
{
    (void)state;
    const char *dg = "a:1|c\r\nbad line\n\nb:2|g\n_e{1,1}:x|y\na:1|g\nc:3|ms\n";
    am_statsd_counts n = {0};
    invalids v = {0};
    am__statsd_agg_datagram(g_a, dg, strlen(dg), &n, on_invalid, &v);
    AM_ASSERT_EQ(n.n_lines, 6);
    AM_ASSERT_EQ(n.n_invalid, 3);
    AM_ASSERT_EQ(v.n, 3);
    AM_ASSERT_EQ(v.last, AM_EINVAL);
    AM_ASSERT_STR_EQ(v.line, "a:1|g");
    am__statsd_agg_datagram(g_a, "a:1|c", 5, &n, NULL, NULL);
    AM_ASSERT_EQ(n.n_lines, 7);
    char *text = am_test_encode(g_r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_CONTAINS(text, "a_total 2\n");
    AM_ASSERT_CONTAINS(text, "\nb 2\n");
    AM_ASSERT_CONTAINS(text, "c_seconds_sum 0.003\n");
    am_free(text);
}

/* ------------------------------------------------------------ faults */

static int ignore(void *ud, const am_sample *s)
{
    (void)ud;
    (void)s;
    return 0;
}

/* Every kind of line, new and known, then a flush. Returns AM_OK when
   nothing failed. */
static am_err fault_scenario(void)
{
    static const char *const lines[] = {"c:1|c|#a:1,b:2",
                                        "c:1|c|#b:2,a:1",
                                        "c:1|c|#a:3,b:4",
                                        "g:5|g",
                                        "g2:+1|g|#x",
                                        "t:20|ms|#p:a",
                                        "h:1:2:3|h",
                                        "d:9|d|@0.5",
                                        "s:u1|s",
                                        "s:u2:u3:u4:u5|s",
                                        "s:u6:u7:u8:u9:u10:u11:u12:u13:u14:u15:u16:u17:u18|s",
                                        "c:1|c|#a:1,b:2"};
    am_registry *r = NULL;
    am_statsd_agg *a = NULL;
    am_err result = AM_ENOMEM;
    if (am_registry_new(&r))
        return AM_ENOMEM;
    if (am__statsd_agg_new(r, NULL, &a))
        goto out;
    result = AM_OK;
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) {
        am_err rc = feed(a, lines[i]);
        if (rc == AM_ENOMEM)
            result = AM_ENOMEM; /* carry on: the next lines retry what failed */
        else if (rc != AM_OK)
            fail_msg("\"%s\" gave %s at fail_at=%ld: %s", lines[i], am_err_name(rc), g_fail_at,
                     am_errmsg());
    }
    am_statsd_counts n = {0, 0};
    am__statsd_agg_datagram(a, "c:1|c|#a:1,b:2\nz:1|g\n", 20, &n, NULL, NULL);
    if (n.n_invalid)
        result = AM_ENOMEM;
    am_err rc = am__statsd_agg_flush(a, ignore, NULL);
    if (rc && rc != AM_ENOMEM)
        fail_msg("flush gave %s", am_err_name(rc));
    if (rc)
        result = rc;
    char *text = NULL;
    size_t len;
    if (result == AM_OK && am_registry_encode(r, AM_FORMAT_PROMETHEUS, &text, &len) == AM_OK) {
        AM_ASSERT_CONTAINS(text, "c_total{a=\"1\",b=\"2\"} 4\n");
        AM_ASSERT_CONTAINS(text, "\ns 0\n"); /* reset by the flush */
    } else {
        result = AM_ENOMEM;
    }
    am_free(text);
out:
    am__statsd_agg_free(a);
    am_registry_free(r);
    return result;
}

static void test_faults(void **state)
{
    (void)state;
    long n = fault_each(fault_scenario);
    fprintf(stderr, "fault injection: %ld allocations failed in turn, no leak\n", n);
    assert_true(n >= 30);
}

int main(void)
{
    am_allocator al = {t_malloc, t_realloc, t_free};
    am_set_allocator(&al);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_faults),
        cmocka_unit_test_setup_teardown(test_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_existing, setup, teardown),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_series_budget),
        cmocka_unit_test_setup_teardown(test_datagram, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    am_shutdown();
    am_set_allocator(NULL);
    return rc;
}
