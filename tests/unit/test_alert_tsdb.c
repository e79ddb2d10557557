/*
** test_alert_tsdb.c: the alerting window -- Gorilla chunks (src/alert/chunk.c),
** the series store and its index (src/alert/tsdb.c), label sets
** (src/alert/labels.c) and the registry feeder (src/alert/feed.c).
**
** Chunks must give back exactly what went in, whatever the timestamps and
** values (NaN payloads, infinities, -0, huge jumps); the store must select
** what Prometheus' querier selects, see what its lookback sees, and mark
** vanished series stale; bad appends are refused and counted without
** changing anything else.
*/
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>

#include "testutil.h"
#include "alert/promql.h"
#include "alert/chunk.h"
#include "alert/labels.h"
#include "alert/tsdb.h"
#include "util/alloc.h"
#include "util/fmt.h"

static uint64_t rng = 88172645463325252ULL;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void roundtrip(const int64_t *ts, const double *vs, size_t n)
{
    am_chunk *c = am__chunk_new();
    am_chunk_app st;
    assert_non_null(c);
    for (size_t i = 0; i < n; i++)
        assert_true(am__chunk_append(&c, &st, ts[i], vs[i]));
    am__chunk_shrink(&c);
    am_chunk_it it;
    am__chunk_it_init(&it, c);
    int64_t t;
    double v;
    for (size_t i = 0; i < n; i++) {
        assert_true(am__chunk_it_next(&it, &t, &v));
        AM_ASSERT_EQ(t, ts[i]);
        assert_memory_equal(&v, &vs[i], sizeof v);
    }
    assert_false(am__chunk_it_next(&it, &t, &v));
    AM_ASSERT_EQ(c->mint, ts[0]);
    AM_ASSERT_EQ(c->maxt, ts[n - 1]);
    am__chunk_free(c);
}

static void test_chunk_roundtrip(void **state)
{
    (void)state;
    int64_t ts[AM_CHUNK_SAMPLES];
    double vs[AM_CHUNK_SAMPLES];
    /* every delta-of-delta class, at its edges, and strange values */
    static const int64_t dods[] = {0,       1,      -1,      8192,    -8191,     8193,
                                   -8192,   65536,  -65535,  65537,   -65536,    524288,
                                   -524287, 524289, -524288, 1 << 30, -(1 << 29)};
    const double odd[] = {0.0,   -0.0,   1.5, NAN, INFINITY, -INFINITY, am__stale_nan(),
                          1e308, 5e-324, 42};
    for (int round = 0; round < 200; round++) {
        int64_t t = (int64_t)(next_rand() % 2000000000000ULL) - 1000000000;
        int64_t d = (int64_t)(next_rand() % 100000) + 1;
        double v = (double)(next_rand() % 1000);
        for (size_t i = 0; i < AM_CHUNK_SAMPLES; i++) {
            ts[i] = t;
            vs[i] = v;
            int64_t dod = dods[next_rand() % (sizeof dods / sizeof dods[0])];
            if (d + dod > 0)
                d += dod;
            t += d;
            switch (next_rand() % 4) {
            case 0:
                break;
            case 1:
                v += 1;
                break;
            case 2:
                v = odd[next_rand() % (sizeof odd / sizeof odd[0])];
                break;
            default: {
                uint64_t bits = next_rand();
                memcpy(&v, &bits, sizeof v);
            }
            }
        }
        roundtrip(ts, vs, 1 + next_rand() % AM_CHUNK_SAMPLES);
    }
}

static void test_chunk_compression(void **state)
{
    (void)state;
    /* a counter fed every 15 s that moves at one tick in three: about
       what Prometheus' ~1.3 bytes/sample is measured on */
    am_chunk *c = am__chunk_new();
    am_chunk_app st;
    int64_t t = 1700000000000;
    double v = 1000;
    for (int i = 0; i < AM_CHUNK_SAMPLES; i++) {
        assert_true(am__chunk_append(&c, &st, t, v));
        t += 15000;
        if (next_rand() % 3 == 0)
            v += (double)(next_rand() % 5);
    }
    double bps = (double)((c->nbits + 7) / 8) / AM_CHUNK_SAMPLES;
    if (bps > 1.5)
        fail_msg("%.2f bytes per sample", bps);
    am__chunk_free(c);
}

static void append(am_tsdb *db, am_tsdb_src *src, const char *name, const char *k, const char *val,
                   int64_t t, double v)
{
    am_label p[2] = {{"__name__", name}, {k, val}};
    AM_ASSERT_OK(am_tsdb_append(db, src, p, k ? 2 : 1, t, v));
}

static size_t sel(am_tsdb *db, am_arena *a, const am_matcher *m, size_t n, am_tseries ***out)
{
    am__tsdb_rdlock(db);
    size_t k = am__tsdb_select(db, m, n, a, out);
    am__tsdb_unlock(db);
    return k;
}

static void test_select(void **state)
{
    (void)state;
    am_tsdb *db;
    AM_ASSERT_OK(am_tsdb_new(NULL, &db));
    am_tsdb_begin(db, NULL);
    append(db, NULL, "up", "job", "a", 1000, 1);
    append(db, NULL, "up", "job", "b", 1000, 0);
    append(db, NULL, "up", "job", "ab", 1000, 1);
    append(db, NULL, "up", NULL, NULL, 1000, 1);
    append(db, NULL, "down", "job", "a", 1000, 1);
    am_tsdb_commit(db, NULL, 0);

    am_arena a;
    am__arena_init(&a, NULL);
    am_tseries **res;
    char err[200];
    am_regex *re_a, *re_ab_empty, *re_any;
    AM_ASSERT_OK(am__regex_new("a.*", &re_a, err, sizeof err));
    AM_ASSERT_OK(am__regex_new("ab|", &re_ab_empty, err, sizeof err));
    AM_ASSERT_OK(am__regex_new(".+", &re_any, err, sizeof err));
    am_matcher up = {"__name__", "up", AM_MATCH_EQ, NULL};
    am_matcher m1[] = {up, {"job", "a", AM_MATCH_EQ, NULL}};
    AM_ASSERT_EQ(sel(db, &a, m1, 2, &res), 1);
    am_matcher m2[] = {up, {"job", "a", AM_MATCH_NEQ, NULL}};
    AM_ASSERT_EQ(sel(db, &a, m2, 2, &res), 3); /* b, ab, and the one without job */
    am_matcher m3[] = {up, {"job", "", AM_MATCH_RE, re_a}};
    AM_ASSERT_EQ(sel(db, &a, m3, 2, &res), 2); /* anchored: a, ab */
    am_matcher m4[] = {up, {"job", "", AM_MATCH_RE, re_ab_empty}};
    AM_ASSERT_EQ(sel(db, &a, m4, 2, &res), 2); /* ab, and no job at all */
    am_matcher m5[] = {up, {"job", "", AM_MATCH_NRE, re_a}};
    AM_ASSERT_EQ(sel(db, &a, m5, 2, &res), 2); /* b, none */
    am_matcher m6[] = {{"__name__", "", AM_MATCH_RE, re_any}, {"job", "a", AM_MATCH_EQ, NULL}};
    AM_ASSERT_EQ(sel(db, &a, m6, 2, &res), 2);
    AM_ASSERT_STR_EQ(am__labels_val(res[0]->labels, "__name__"), "up"); /* creation order */
    am_matcher m7[] = {{"__name__", "nope", AM_MATCH_EQ, NULL}};
    AM_ASSERT_EQ(sel(db, &a, m7, 1, &res), 0);
    am__regex_free(re_a);
    am__regex_free(re_ab_empty);
    am__regex_free(re_any);
    am__arena_free(&a);
    am_tsdb_free(db);
}

static void test_lookback_and_range(void **state)
{
    (void)state;
    am_tsdb *db;
    am_tsdb_opts o = AM_TSDB_OPTS_INIT;
    o.retention_ms = 3600000;
    AM_ASSERT_OK(am_tsdb_new(&o, &db));
    am_tsdb_begin(db, NULL);
    for (int i = 0; i < 300; i++) /* 300 samples, every 10 s: several chunks */
        append(db, NULL, "x", NULL, NULL, i * 10000, i);
    am_tsdb_commit(db, NULL, 0);
    am_arena a;
    am__arena_init(&a, NULL);
    am_tseries **res;
    am_matcher m = {"__name__", "x", AM_MATCH_EQ, NULL};
    am__tsdb_rdlock(db);
    AM_ASSERT_EQ(am__tsdb_select(db, &m, 1, &a, &res), 1);
    int64_t t;
    double v;
    assert_true(am__series_at(res[0], 55000, 300000, &t, &v)); /* inside, from a chunk */
    AM_ASSERT_EQ(t, 50000);
    AM_ASSERT_DBL_EQ(v, 5);
    assert_true(am__series_at(res[0], 2990000 + 300000, 300000, &t, &v)); /* edge: inclusive */
    AM_ASSERT_EQ(t, 2990000);
    assert_false(am__series_at(res[0], 2990000 + 300001, 300000, &t, &v));
    assert_false(am__series_at(res[0], -1, 300000, &t, &v));
    am_point *pts = NULL;
    size_t n = 0, cap = 0;
    am__series_range(db, res[0], 1190000, 1500000, &a, &pts, &n, &cap); /* crosses a chunk */
    AM_ASSERT_EQ(n, 32);
    AM_ASSERT_EQ(pts[0].t, 1190000);
    AM_ASSERT_EQ(pts[31].t, 1500000);
    am__tsdb_unlock(db);
    am__arena_free(&a);
    am_tsdb_free(db);
}

static void test_staleness(void **state)
{
    (void)state;
    am_tsdb *db;
    am_tsdb_src *src;
    AM_ASSERT_OK(am_tsdb_new(NULL, &db));
    AM_ASSERT_OK(am_tsdb_src_new(db, true, &src));
    am_tsdb_begin(db, src);
    append(db, src, "g", "k", "1", 1000, 1);
    append(db, src, "g", "k", "2", 1000, 2);
    am_tsdb_commit(db, src, 1000);
    am_tsdb_begin(db, src);
    append(db, src, "g", "k", "1", 2000, 1); /* k=2 vanished */
    am_tsdb_commit(db, src, 2000);

    am_arena a;
    am__arena_init(&a, NULL);
    am_tseries **res;
    am_matcher m = {"__name__", "g", AM_MATCH_EQ, NULL};
    am__tsdb_rdlock(db);
    AM_ASSERT_EQ(am__tsdb_select(db, &m, 1, &a, &res), 2);
    int64_t t;
    double v;
    assert_true(am__series_at(res[0], 2500, 300000, &t, &v));
    assert_false(am__series_at(res[1], 2500, 300000, &t, &v)); /* stale at once */
    assert_true(am__series_at(res[1], 1500, 300000, &t, &v));  /* but not before */
    assert_true(am__is_stale_nan(res[1]->last_v));
    AM_ASSERT_EQ(res[1]->last_t, 2000);
    am_point *pts = NULL;
    size_t n = 0, cap = 0;
    am__series_range(db, res[1], 0, 3000, &a, &pts, &n, &cap);
    AM_ASSERT_EQ(n, 1); /* the marker is not a sample to ranges */
    am__tsdb_unlock(db);
    /* a third batch does not mark it again */
    am_tsdb_begin(db, src);
    append(db, src, "g", "k", "1", 3000, 1);
    am_tsdb_commit(db, src, 3000);
    am_tsdb_stats st;
    am_tsdb_stats_get(db, &st);
    AM_ASSERT_EQ(st.n_samples, 5);
    am__arena_free(&a);
    am_tsdb_src_free(db, src);
    am_tsdb_free(db);
}

static void test_retention(void **state)
{
    (void)state;
    am_tsdb_opts o = AM_TSDB_OPTS_INIT;
    o.retention_ms = 600000;
    am_tsdb *db;
    am_tsdb_src *src;
    AM_ASSERT_OK(am_tsdb_new(&o, &db));
    AM_ASSERT_OK(am_tsdb_src_new(db, true, &src));
    for (int i = 0; i < 1000; i++) {
        am_tsdb_begin(db, src);
        append(db, src, "kept", NULL, NULL, i * 1000, i);
        if (i < 100)
            append(db, src, "gone", NULL, NULL, i * 1000, i);
        am_tsdb_commit(db, src, i * 1000);
    }
    am_tsdb_stats st;
    am_tsdb_stats_get(db, &st);
    AM_ASSERT_EQ(st.n_series, 1); /* "gone" went stale, then out of the window */
    assert_true(st.n_samples <= 600 + AM_CHUNK_SAMPLES * 2);
    assert_true(st.n_samples >= 600);
    am_tsdb_src_free(db, src);
    am_tsdb_free(db);
}

static void count_cb(const char *s, void *ud)
{
    (void)s;
    (*(size_t *)ud)++;
}

static void test_bad_appends(void **state)
{
    (void)state;
    am_tsdb_opts o = AM_TSDB_OPTS_INIT;
    o.max_series = 2;
    am_tsdb *db;
    AM_ASSERT_OK(am_tsdb_new(&o, &db));
    am_tsdb_begin(db, NULL);
    append(db, NULL, "x", NULL, NULL, 1000, 1);
    struct {
        am_label p[3];
        size_t n;
        int64_t t;
        double v;
        am_err want;
    } bad[] = {
        {{{"__name__", "x"}}, 1, 999, 1, AM_EINVAL},  /* out of order */
        {{{"__name__", "x"}}, 1, 1000, 2, AM_EINVAL}, /* other value, same t */
        {{{"__name__", "x"}, {"a", "1"}, {"a", "2"}}, 3, 2000, 1, AM_EINVAL}, /* a twice */
        {{{"__name__", "y"}}, 1, 1000, 1, AM_OK},                             /* second series */
        {{{"__name__", "z"}}, 1, 1000, 1, AM_ELIMIT},                         /* third: over */
        {{{"__name__", "x"}}, 1, 1000, 1, AM_OK},                             /* same: ignored */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        AM_ASSERT_ERR(am_tsdb_append(db, NULL, bad[i].p, bad[i].n, bad[i].t, bad[i].v),
                      bad[i].want);
    am_tsdb_commit(db, NULL, 0);
    am_tsdb_stats st;
    am_tsdb_stats_get(db, &st);
    AM_ASSERT_EQ(st.n_series, 2);
    AM_ASSERT_EQ(st.n_samples, 2);
    AM_ASSERT_EQ(st.n_rejected, 4);
    size_t n = 0;
    am_tsdb_label_names(db, count_cb, &n);
    AM_ASSERT_EQ(n, 1); /* __name__ only */
    n = 0;
    am_tsdb_label_values(db, "__name__", count_cb, &n);
    AM_ASSERT_EQ(n, 2);
    am_tsdb_free(db);
}

static void test_labels(void **state)
{
    (void)state;
    am_arena a;
    am__arena_init(&a, NULL);
    am_label p[] = {{"b", "2"}, {"a", "1"}, {"c", ""}, {"a", "3"}};
    am_lset *l = am__labels_new(&a, p, 4);
    AM_ASSERT_EQ(l->n, 2); /* empty dropped, the later a wins */
    AM_ASSERT_STR_EQ(am__labels_val(l, "a"), "3");
    am_buf b;
    am_buf_init(&b, 0);
    am_label q[] = {{"__name__", "m"}, {"v", "q\"\\\n\x01\xff\xc3\xa9"}};
    am__labels_fmt(&b, am__labels_new(&a, q, 2));
    AM_ASSERT_STR_EQ(b.p, "{__name__=\"m\", v=\"q\\\"\\\\\\n\\x01\\xff\xc3\xa9\"}");
    am_buf_free(&b);
    am_lbuild lb;
    am__lb_init(&lb, &a, l);
    am__lb_set(&lb, "z", "9");
    am__lb_set(&lb, "a", "");
    am_lset *m = am__lb_labels(&lb);
    AM_ASSERT_EQ(m->n, 2);
    AM_ASSERT_STR_EQ(m->l[0].name, "b");
    AM_ASSERT_STR_EQ(m->l[1].name, "z");
    am_lmap map;
    am__lmap_init(&map, &a, 0);
    bool found;
    for (int i = 0; i < 1000; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", i % 500);
        am_label r[] = {{"k", v}};
        void **slot = am__lmap_put(&map, am__labels_new(&a, r, 1), &found);
        AM_ASSERT_EQ(found, i >= 500);
        *slot = (void *)(intptr_t)(i % 500 + 1);
    }
    AM_ASSERT_EQ(map.n, 500);
    am__arena_free(&a);
}

static void test_feed(void **state)
{
    (void)state;
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.name = "tasks";
    o.label_names = (const char *const[]){"agent"};
    o.n_labels = 1;
    am_counter *c, *cc;
    AM_ASSERT_OK(am_counter_new(r, &o, &c));
    AM_ASSERT_OK(am_counter_with(c, AM_LABELS("coder"), &cc));
    am_counter_add(cc, 3);
    am_histogram *h, *hc;
    o.name = "dur_seconds";
    o.buckets = (const double[]){0.5, 1};
    o.n_buckets = 2;
    AM_ASSERT_OK(am_histogram_new(r, &o, &h));
    AM_ASSERT_OK(am_histogram_with(h, AM_LABELS("coder"), &hc));
    am_histogram_observe(hc, 0.7);
    am_gauge *g;
    am_metric_opts go = AM_METRIC_OPTS_INIT;
    go.name = "depth";
    AM_ASSERT_OK(am_gauge_new(r, &go, &g));
    am_gauge_set(g, 7);

    am_tsdb *db;
    am_tsdb_src *src;
    AM_ASSERT_OK(am_tsdb_new(NULL, &db));
    AM_ASSERT_OK(am_tsdb_src_new(db, true, &src));
    AM_ASSERT_OK(am_alert_feed(db, src, &r, 1, 5000));
    am_arena a;
    am__arena_init(&a, NULL);
    am_tseries **res;
    am_matcher m = {"__name__", "dur_seconds_bucket", AM_MATCH_EQ, NULL};
    AM_ASSERT_EQ(sel(db, &a, &m, 1, &res), 3);
    am_buf b;
    am_buf_init(&b, 0);
    for (int i = 0; i < 3; i++) {
        am__labels_fmt(&b, res[i]->labels);
        am__buf_double(&b, res[i]->last_v);
        am_buf_putc(&b, '\n');
    }
    AM_ASSERT_STR_EQ(b.p, "{__name__=\"dur_seconds_bucket\", agent=\"coder\", le=\"0.5\"}0\n"
                          "{__name__=\"dur_seconds_bucket\", agent=\"coder\", le=\"1\"}1\n"
                          "{__name__=\"dur_seconds_bucket\", agent=\"coder\", le=\"+Inf\"}1\n");
    am_matcher m2 = {"__name__", "tasks_total", AM_MATCH_EQ, NULL};
    AM_ASSERT_EQ(sel(db, &a, &m2, 1, &res), 1);
    AM_ASSERT_DBL_EQ(res[0]->last_v, 3);
    /* the child goes away: its series is stale at the next feed */
    AM_ASSERT_OK(am_counter_remove(c, AM_LABELS("coder")));
    AM_ASSERT_OK(am_alert_feed(db, src, &r, 1, 6000));
    AM_ASSERT_EQ(sel(db, &a, &m2, 1, &res), 1);
    assert_true(am__is_stale_nan(res[0]->last_v));
    am_buf_free(&b);
    am__arena_free(&a);
    am_tsdb_src_free(db, src);
    am_tsdb_free(db);
    am_registry_free(r);
}

/* One thread appends (with staleness), two query: ranges that share the
   series' read cursors, instant selectors, label listings. Run under TSan
   by scripts/test.sh tsan. The appender goes on past its 600 rounds until
   each querier has been through its loop once: on a busy machine the
   queriers may not get a core before 600 rounds are done. */
typedef struct conc {
    am_tsdb *db;
    _Atomic int64_t now;
    _Atomic bool stop;
    atomic_int queriers_ran; /* those that went through their loop once */
} conc;

static void *appender(void *arg)
{
    conc *c = arg;
    am_tsdb_src *src;
    if (am_tsdb_src_new(c->db, true, &src))
        return NULL;
    for (int i = 0; i < 600 || atomic_load(&c->queriers_ran) < 2; i++) {
        int64_t t = (int64_t)i * 1000;
        am_tsdb_begin(c->db, src);
        for (int k = 0; k < 20; k++) {
            char v[8];
            snprintf(v, sizeof v, "%d", k);
            am_label p[] = {{"__name__", "c_total"}, {"k", v}};
            if (k != i % 20) /* one series missing per round: stale markers */
                (void)am_tsdb_append(c->db, src, p, 2, t, i * (k + 1.0));
        }
        am_tsdb_commit(c->db, src, t);
        atomic_store(&c->now, t);
    }
    am_tsdb_src_free(c->db, src);
    atomic_store(&c->stop, true);
    return NULL;
}

static void count_name(const char *s, void *ud)
{
    (void)s;
    (*(int *)ud)++;
}

static void *querier(void *arg)
{
    conc *c = arg;
    am_promql *q1, *q2;
    char err[200];
    if (am_promql_parse("sum(rate(c_total[30s]))", &q1, err, sizeof err) ||
        am_promql_parse("max_over_time(c_total[10s]) or c_total", &q2, err, sizeof err)) {
        atomic_fetch_add(&c->queriers_ran, 1); /* n = 0 fails the test */
        return NULL;
    }
    long n = 0;
    while (!atomic_load(&c->stop)) {
        int64_t t = atomic_load(&c->now);
        am_promql_result *r;
        if (am_promql_eval(c->db, n % 2 ? q1 : q2, t, NULL, &r, err, sizeof err) == AM_OK)
            am_promql_result_free(r);
        int names = 0;
        am_tsdb_label_names(c->db, count_name, &names);
        if (++n == 1)
            atomic_fetch_add(&c->queriers_ran, 1);
    }
    am_promql_free(q1);
    am_promql_free(q2);
    return (void *)n;
}

static void test_concurrent_readers(void **state)
{
    (void)state;
    conc c;
    AM_ASSERT_OK(am_tsdb_new(NULL, &c.db));
    atomic_store(&c.now, 0);
    atomic_store(&c.stop, false);
    atomic_store(&c.queriers_ran, 0);
    pthread_t w, r1, r2;
    pthread_create(&r1, NULL, querier, &c);
    pthread_create(&r2, NULL, querier, &c);
    pthread_create(&w, NULL, appender, &c);
    void *n1, *n2;
    pthread_join(w, NULL);
    pthread_join(r1, &n1);
    pthread_join(r2, &n2);
    assert_true((long)n1 > 0 && (long)n2 > 0);
    am_tsdb_stats st;
    am_tsdb_stats_get(c.db, &st);
    AM_ASSERT_EQ(st.n_series, 20);
    am_tsdb_free(c.db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunk_roundtrip),
        cmocka_unit_test(test_chunk_compression),
        cmocka_unit_test(test_select),
        cmocka_unit_test(test_lookback_and_range),
        cmocka_unit_test(test_staleness),
        cmocka_unit_test(test_retention),
        cmocka_unit_test(test_bad_appends),
        cmocka_unit_test(test_labels),
        cmocka_unit_test(test_feed),
        cmocka_unit_test(test_concurrent_readers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
