/*
** test_shm.c: the shared-memory registry -- attaching and refusing bad
** files, definitions shared between processes, every type encoded exactly as
** an ordinary registry encodes the same values, processes that fork and are
** killed with SIGKILL mid-count (nothing lost), slots reused by a stream of
** short-lived processes (the file never grows), gauge modes over live and
** dead processes, exemplars, a holder that dies in the middle of a fold, the
** cardinality guard and threads.
*/
#define _GNU_SOURCE
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"
#include "../../src/shm/shm.h"

static char g_dir[] = "/tmp/am-shm-test-XXXXXX";
static int g_n;

static void path_of(char *out, size_t cap)
{
    snprintf(out, cap, "%s/seg%d", g_dir, g_n++);
}

static am_shm *open_small(char *path, size_t cap, size_t procs)
{
    path_of(path, cap);
    am_shm_opts o = AM_SHM_OPTS_INIT;
    o.max_procs = procs;
    o.max_series = 1024;
    o.max_cells = 8192;
    o.arena_bytes = 1 << 16;
    o.max_exemplars = 256;
    am_shm *s;
    AM_ASSERT_OK(am_shm_open(path, &o, &s));
    return s;
}

static am_metric_opts opts(const char *name, const char *const *labels, size_t n)
{
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.name = name;
    o.help = "Help.";
    o.label_names = labels;
    o.n_labels = n;
    return o;
}

static char *encode(am_shm *s, am_format f)
{
    char *text;
    size_t len;
    AM_ASSERT_OK(am_shm_encode(s, NULL, 0, f, &text, &len));
    assert_int_equal(strlen(text), len);
    return text;
}

static void test_open_and_bad_files(void **state)
{
    (void)state;
    char path[256];
    am_shm *s = open_small(path, sizeof path, 4), *again;
    AM_ASSERT_OK(am_shm_open(path, NULL, &again));
    assert_ptr_equal(s, again); /* one segment per path per process */
    am_shm_close(again);
    am_shm_stats st;
    AM_ASSERT_OK(am_shm_stats_get(s, &st));
    AM_ASSERT_EQ(st.max_procs, 4);
    struct stat sb;
    stat(path, &sb);
    AM_ASSERT_EQ((size_t)sb.st_size, st.file_bytes);
    am_shm_close(s);

    /* Files that are not segments, or damaged ones: refused, no crash. */
    const struct {
        size_t off, len;
        const char *bytes;
        const char *why;
    } bad[] = {
        {0, 8, "NOTASHM\0", "magic"},           {8, 4, "\x07\0\0\0", "version"},
        {16, 8, "\x01\0\0\0\0\0\0\0", "match"}, /* file_bytes */
        {24, 4, "\0\0\0\0", "range"},           /* max_procs 0 */
        {80, 8, "\x40\0\0\0\0\0\0\0", "match"}, /* off_procs */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char p2[256];
        am_shm *t = open_small(p2, sizeof p2, 2);
        am_shm_close(t);
        int fd = open(p2, O_RDWR);
        assert_true(pwrite(fd, bad[i].bytes, bad[i].len, (off_t)bad[i].off) == (ssize_t)bad[i].len);
        close(fd);
        AM_ASSERT_ERR(am_shm_open(p2, NULL, &t), AM_EINVAL);
        AM_ASSERT_CONTAINS(am_errmsg(), bad[i].why);
    }
    /* A short file and a text file. */
    char p3[256];
    path_of(p3, sizeof p3);
    FILE *fp = fopen(p3, "w");
    fputs("hello", fp);
    fclose(fp);
    am_shm *t;
    AM_ASSERT_ERR(am_shm_open(p3, NULL, &t), AM_EINVAL);
    am_shm_opts o = AM_SHM_OPTS_INIT;
    o.max_procs = 5000;
    char p4[256];
    path_of(p4, sizeof p4);
    AM_ASSERT_ERR(am_shm_open(p4, &o, &t), AM_EINVAL);
    o.max_procs = 0;
    o.flags = 0x80;
    AM_ASSERT_ERR(am_shm_open(p4, &o, &t), AM_EINVAL);
    AM_ASSERT_ERR(am_shm_open(NULL, NULL, &t), AM_EINVAL);
    AM_ASSERT_ERR(am_shm_open("/nonexistent-dir/x", NULL, &t), AM_EIO);
}

static void test_definitions(void **state)
{
    (void)state;
    char path[256];
    am_shm *s = open_small(path, sizeof path, 4);
    const char *l[] = {"agent"};
    am_metric_opts o = opts("tasks_total", l, 1);
    am_shm_counter *c, *c2;
    AM_ASSERT_OK(am_shm_counter_new(s, &o, &c));
    AM_ASSERT_OK(am_shm_counter_new(s, &o, &c2));
    assert_ptr_equal(c, c2);
    am_shm_gauge *g;
    AM_ASSERT_ERR(am_shm_gauge_new(s, &o, AM_SHM_GAUGE_SUM, &g), AM_EEXIST);
    const char *l2[] = {"other"};
    am_metric_opts o2 = opts("tasks_total", l2, 1);
    AM_ASSERT_ERR(am_shm_counter_new(s, &o2, &c2), AM_EEXIST);
    am_metric_opts bad = opts("0bad", NULL, 0);
    AM_ASSERT_ERR(am_shm_counter_new(s, &bad, &c2), AM_EINVAL);
    const char *pid[] = {"pid"};
    am_metric_opts op = opts("g", pid, 1);
    AM_ASSERT_ERR(am_shm_gauge_new(s, &op, AM_SHM_GAUGE_ALL, &g), AM_EINVAL);
    AM_ASSERT_OK(am_shm_gauge_new(s, &op, AM_SHM_GAUGE_SUM, &g));
    AM_ASSERT_ERR(am_shm_gauge_new(s, &op, (am_shm_gauge_mode)42, &g), AM_EINVAL);
    /* Label values as an ordinary registry refuses them. */
    am_shm_counter *x;
    AM_ASSERT_ERR(am_shm_counter_with(c, AM_LABELS("__overflow__"), &x), AM_EINVAL);
    AM_ASSERT_ERR(am_shm_counter_with(c, AM_LABELS("\xff"), &x), AM_EINVAL);
    AM_ASSERT_ERR(am_shm_counter_with(c, AM_LABELS("a", "b"), &x), AM_EINVAL);
    am_shm_counter *a, *a2;
    AM_ASSERT_OK(am_shm_counter_with(c, AM_LABELS("planner:1"), &a));
    AM_ASSERT_OK(am_shm_counter_with(c, AM_LABELS("planner:1"), &a2));
    assert_ptr_equal(a, a2);
    AM_ASSERT_ERR(am_shm_counter_with(a, AM_LABELS("x"), &x), AM_EMISUSE);
    am_shm_close(s);
}

/* The same operations on an ordinary registry and the segment give the same
   Prometheus text (no _created there, so byte for byte). */
static void test_encodes_like_a_registry(void **state)
{
    (void)state;
    char path[256];
    am_shm *s = open_small(path, sizeof path, 4);
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    const char *l[] = {"agent", "status"};
    const double b[] = {0.1, 1, 10};
    am_metric_opts oc = opts("calls_total", l, 2), og = opts("depth", l, 1),
                   oh = opts("latency_seconds", l, 1), os = opts("size_bytes", NULL, 0);
    oh.buckets = b;
    oh.n_buckets = 3;
    os.unit = "bytes";
    am_counter *rc, *rc1;
    am_gauge *rg, *rg1;
    am_histogram *rh, *rh1;
    am_summary *rs;
    am_shm_counter *sc, *sc1;
    am_shm_gauge *sg, *sg1;
    am_shm_histogram *sh, *sh1;
    am_shm_summary *ss;
    AM_ASSERT_OK(am_counter_new(r, &oc, &rc));
    AM_ASSERT_OK(am_gauge_new(r, &og, &rg));
    AM_ASSERT_OK(am_histogram_new(r, &oh, &rh));
    AM_ASSERT_OK(am_summary_new(r, &os, &rs));
    AM_ASSERT_OK(am_shm_counter_new(s, &oc, &sc));
    AM_ASSERT_OK(am_shm_gauge_new(s, &og, AM_SHM_GAUGE_SUM, &sg));
    AM_ASSERT_OK(am_shm_histogram_new(s, &oh, &sh));
    AM_ASSERT_OK(am_shm_summary_new(s, &os, &ss));
    const char *odd = "quote \" slash \\ nl \n \xc3\xa9";
    AM_ASSERT_OK(am_counter_with(rc, AM_LABELS(odd, "ok"), &rc1));
    AM_ASSERT_OK(am_shm_counter_with(sc, AM_LABELS(odd, "ok"), &sc1));
    am_counter_inc(rc1);
    am_shm_counter_inc(sc1);
    AM_ASSERT_OK(am_counter_add(rc1, 2.5));
    AM_ASSERT_OK(am_shm_counter_add(sc1, 2.5));
    AM_ASSERT_ERR(am_shm_counter_add(sc1, -1), AM_EINVAL);
    AM_ASSERT_OK(am_gauge_with(rg, AM_LABELS("q"), &rg1));
    AM_ASSERT_OK(am_shm_gauge_with(sg, AM_LABELS("q"), &sg1));
    am_gauge_set(rg1, -4.25);
    am_shm_gauge_set(sg1, -4.25);
    AM_ASSERT_OK(am_histogram_with(rh, AM_LABELS("get"), &rh1));
    AM_ASSERT_OK(am_shm_histogram_with(sh, AM_LABELS("get"), &sh1));
    const double obs[] = {0.05, 0.1, 0.5, 5, 50, NAN};
    for (size_t i = 0; i < 6; i++) {
        am_histogram_observe(rh1, obs[i]);
        am_shm_histogram_observe(sh1, obs[i]);
    }
    am_summary_observe(rs, 512);
    am_shm_summary_observe(ss, 512);
    char *want = am_test_encode(r, AM_FORMAT_PROMETHEUS), *got = encode(s, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_STR_EQ(got, want);
    am_free(want);
    am_free(got);
    AM_ASSERT_DBL_EQ(am_shm_counter_value(sc1), 3.5);
    AM_ASSERT_DBL_EQ(am_shm_gauge_value(sg1), -4.25);
    uint64_t count, bk[4];
    double sum;
    am_shm_histogram_read(sh1, &count, &sum, bk);
    AM_ASSERT_EQ(count, 6);
    AM_ASSERT_EQ(bk[0], 2);
    AM_ASSERT_EQ(bk[3], 6);
    AM_ASSERT_EQ(am_shm_histogram_n_buckets(sh1), 3);
    am_shm_summary_read(ss, &count, &sum);
    AM_ASSERT_DBL_EQ(sum, 512);
    /* Merged with a registry: sorted together; the segment wins a name. */
    am_registry *r2;
    AM_ASSERT_OK(am_registry_new(&r2));
    am_metric_opts oa = opts("aaa", NULL, 0), od = opts("depth", NULL, 0);
    am_gauge *ga, *gd;
    AM_ASSERT_OK(am_gauge_new(r2, &oa, &ga));
    AM_ASSERT_OK(am_gauge_new(r2, &od, &gd));
    char *text;
    AM_ASSERT_OK(am_shm_encode(s, &r2, 1, AM_FORMAT_OPENMETRICS, &text, NULL));
    assert_true(strstr(text, "# TYPE aaa gauge") < strstr(text, "# TYPE calls counter"));
    AM_ASSERT_CONTAINS(text, "depth{agent=\"q\"} -4.25\n");
    AM_ASSERT_LACKS(text, "depth 0\n");
    AM_ASSERT_CONTAINS(text, "size_bytes_created");
    am_free(text);
    am_registry_free(r2);
    am_registry_free(r);
    am_shm_close(s);
}

/* ------------------------------------------------------------ processes */

static void wait_ok(pid_t pid)
{
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void *incr(void *arg)
{
    for (int i = 0; i < 50000; i++)
        am_shm_counter_inc(arg);
    return NULL;
}

static void test_forked_workers_lose_nothing(void **state)
{
    (void)state;
    char path[256];
    am_shm *s = open_small(path, sizeof path, 8);
    am_metric_opts o = opts("requests_total", NULL, 0);
    am_shm_counter *c;
    AM_ASSERT_OK(am_shm_counter_new(s, &o, &c));
    am_shm_counter_add(c, 7); /* the parent's own */
    enum { N = 6 };
    pid_t kids[N];
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    for (int k = 0; k < N; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            pthread_t t[2];
            for (int i = 0; i < 2; i++)
                pthread_create(&t[i], NULL, incr, c); /* threads share the row */
            for (int i = 0; i < 2; i++)
                pthread_join(t[i], NULL);
            char x = 1;
            if (write(ready[1], &x, 1) != 1)
                _exit(3);
            if (k % 2) /* half are killed: they wait to be */
                for (;;)
                    pause();
            _exit(0);
        }
    }
    for (int k = 0; k < N; k++) {
        char x;
        assert_int_equal(read(ready[0], &x, 1), 1);
    }
    for (int k = 0; k < N; k++) {
        if (k % 2) {
            kill(kids[k], SIGKILL);
            waitpid(kids[k], NULL, 0);
        } else {
            wait_ok(kids[k]);
        }
    }
    AM_ASSERT_DBL_EQ(am_shm_counter_value(c), 7 + N * 100000.0);
    am_shm_stats st;
    AM_ASSERT_OK(am_shm_stats_get(s, &st));
    AM_ASSERT_EQ(st.procs_live, 1); /* the parent */
    AM_ASSERT_EQ(st.procs_dead, N);
    size_t folded;
    AM_ASSERT_OK(am_shm_reclaim(s, &folded));
    AM_ASSERT_EQ(folded, N);
    AM_ASSERT_DBL_EQ(am_shm_counter_value(c), 7 + N * 100000.0);
    close(ready[0]);
    close(ready[1]);
    am_shm_close(s);
}

static void test_slots_reused_file_constant(void **state)
{
    (void)state;
    char path[256];
    am_shm *s = open_small(path, sizeof path, 3);
    am_metric_opts o = opts("jobs_total", NULL, 0);
    am_shm_counter *c;
    AM_ASSERT_OK(am_shm_counter_new(s, &o, &c));
    am_shm_stats before, after;
    AM_ASSERT_OK(am_shm_stats_get(s, &before));
    for (int k = 0; k < 40; k++) { /* a stream of workers, 13 times the slots */
        pid_t p = fork();
        if (p == 0) {
            am_shm_counter_add(c, 3);
            _exit(0);
        }
        wait_ok(p);
    }
    AM_ASSERT_DBL_EQ(am_shm_counter_value(c), 120);
    AM_ASSERT_OK(am_shm_stats_get(s, &after));
    AM_ASSERT_EQ(after.file_bytes, before.file_bytes);
    assert_true(after.folds >= 37);
    assert_true(after.procs_live + after.procs_dead <= 3);
    am_shm_close(s);
}

static void test_gauge_modes(void **state)
{
    (void)state;
    char path[256];
    am_shm *s = open_small(path, sizeof path, 8);
    static const char *names[] = {"all",     "liveall", "sum",     "livesum", "max",
                                  "livemax", "min",     "livemin", "recent",  "liverecent"};
    am_shm_gauge *g[10];
    for (int m = 0; m < 10; m++) {
        am_metric_opts o = opts(names[m], NULL, 0);
        AM_ASSERT_OK(am_shm_gauge_new(s, &o, (am_shm_gauge_mode)m, &g[m]));
    }
    /* A dead process set 100, a live one 10, the parent never sets. */
    pid_t dead = fork();
    if (dead == 0) {
        for (int m = 0; m < 10; m++)
            am_shm_gauge_set(g[m], 100);
        _exit(0);
    }
    wait_ok(dead);
    int go[2];
    assert_int_equal(pipe(go), 0);
    pid_t live = fork();
    if (live == 0) {
        for (int m = 0; m < 10; m++)
            am_shm_gauge_set(g[m], 10);
        char x = 1;
        if (write(go[1], &x, 1) != 1)
            _exit(3);
        pause();
        _exit(0);
    }
    char x;
    assert_int_equal(read(go[0], &x, 1), 1);
    AM_ASSERT_DBL_EQ(am_shm_gauge_value(g[2]), 110); /* sum */
    AM_ASSERT_DBL_EQ(am_shm_gauge_value(g[3]), 10);  /* livesum */
    AM_ASSERT_DBL_EQ(am_shm_gauge_value(g[4]), 100); /* max */
    AM_ASSERT_DBL_EQ(am_shm_gauge_value(g[5]), 10);  /* livemax */
    AM_ASSERT_DBL_EQ(am_shm_gauge_value(g[6]), 10);  /* min */
    AM_ASSERT_DBL_EQ(am_shm_gauge_value(g[8]), 10);  /* mostrecent: the live one set last */
    AM_ASSERT_DBL_EQ(am_shm_gauge_value(g[9]), 10);
    char *text = encode(s, AM_FORMAT_PROMETHEUS);
    char line[64];
    snprintf(line, sizeof line, "liveall{pid=\"%d\"} 10\n", (int)live);
    AM_ASSERT_CONTAINS(text, line);
    snprintf(line, sizeof line, "all{pid=\"%d\"} 100\n", (int)dead);
    AM_ASSERT_CONTAINS(text, line);
    snprintf(line, sizeof line, "liveall{pid=\"%d\"}", (int)dead);
    AM_ASSERT_LACKS(text, line);
    am_free(text);
    /* Folding the dead process keeps what its mode keeps. */
    AM_ASSERT_OK(am_shm_reclaim(s, NULL));
    AM_ASSERT_DBL_EQ(am_shm_gauge_value(g[2]), 110);
    AM_ASSERT_DBL_EQ(am_shm_gauge_value(g[4]), 100);
    AM_ASSERT_DBL_EQ(am_shm_gauge_value(g[3]), 10);
    kill(live, SIGKILL);
    waitpid(live, NULL, 0);
    AM_ASSERT_DBL_EQ(am_shm_gauge_value(g[3]), 0); /* nobody alive */
    AM_ASSERT_DBL_EQ(am_shm_gauge_value(g[2]), 110);
    text = encode(s, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_LACKS(text, "\nlivesum "); /* no live value: no sample */
    AM_ASSERT_CONTAINS(text, "\nsum 110\n");
    am_free(text);
    close(go[0]);
    close(go[1]);
    am_shm_close(s);
}

static void test_exemplars_across_processes(void **state)
{
    (void)state;
    char path[256];
    am_shm *s = open_small(path, sizeof path, 4);
    const double b[] = {1, 2};
    am_metric_opts oh = opts("task_seconds", NULL, 0), oc = opts("calls_total", NULL, 0);
    oh.buckets = b;
    oh.n_buckets = 2;
    am_shm_histogram *h;
    am_shm_counter *c;
    AM_ASSERT_OK(am_shm_histogram_new(s, &oh, &h));
    AM_ASSERT_OK(am_shm_counter_new(s, &oc, &c));
    pid_t p = fork();
    if (p == 0) {
        const char *n[] = {"trace_id"}, *v[] = {"abc"};
        am_labels ex = {n, v, 1};
        if (am_shm_histogram_observe_exemplar(h, 1.5, &ex) ||
            am_shm_counter_add_exemplar(c, 2, &ex))
            _exit(2);
        _exit(0);
    }
    wait_ok(p);
    char *text = encode(s, AM_FORMAT_OPENMETRICS);
    AM_ASSERT_CONTAINS(text, "task_seconds_bucket{le=\"2\"} 1 # {trace_id=\"abc\"} 1.5 ");
    AM_ASSERT_CONTAINS(text, "calls_total 2 # {trace_id=\"abc\"} 2 ");
    am_free(text);
    const char *bn[] = {"0bad"}, *bv[] = {"x"};
    am_labels bad = {bn, bv, 1};
    AM_ASSERT_ERR(am_shm_counter_add_exemplar(c, 1, &bad), AM_EINVAL);
    am_shm_close(s);
}

/* A process dies holding the mutex in the middle of a fold: the next
   holder finishes it and nothing is counted twice or lost. */
static void test_fold_survives_a_dying_holder(void **state)
{
    (void)state;
    char path[256];
    am_shm *s = open_small(path, sizeof path, 2);
    am_metric_opts o = opts("done_total", NULL, 0);
    am_shm_counter *c;
    AM_ASSERT_OK(am_shm_counter_new(s, &o, &c));
    pid_t p = fork();
    if (p == 0) {
        am_shm_counter_add(c, 5);
        _exit(0);
    }
    wait_ok(p);
    AM_ASSERT_DBL_EQ(am_shm_counter_value(c), 5);
    p = fork();
    if (p == 0) { /* start folding the dead slot, write half, die */
        am__shm_lock(s);
        shm_hdr *h = s->h;
        shm_proc *pv = am__shm_procs(s);
        uint32_t k = 0;
        while (k < h->max_procs && atomic_load(&pv[k].state) != 1)
            k++;
        h->j_slot = k;
        h->j_src = atomic_load(&h->acc);
        h->j_dst = h->j_src ^ 1;
        h->j_phase = 1;
        atomic_fetch_add(&h->fold_seq, 1);
        atomic_store(&am__shm_row(s, h->j_dst)[AM__SHM_DISCARD], 12345); /* garbage */
        _exit(0);
    }
    wait_ok(p);
    /* Readers wait out the odd sequence, then recover through the mutex. */
    AM_ASSERT_DBL_EQ(am_shm_counter_value(c), 5);
    AM_ASSERT_DBL_EQ(am_shm_counter_value(c), 5);
    am_shm_stats st;
    AM_ASSERT_OK(am_shm_stats_get(s, &st));
    AM_ASSERT_EQ(st.folds, 1);
    am_shm_counter_inc(c);
    AM_ASSERT_DBL_EQ(am_shm_counter_value(c), 6);
    am_shm_close(s);
}

static void test_cardinality_guard(void **state)
{
    (void)state;
    char path[256];
    am_shm *s = open_small(path, sizeof path, 2);
    const char *l[] = {"tenant"};
    am_metric_opts o = opts("hits_total", l, 1);
    o.max_children = 2;
    am_shm_counter *c, *a, *b, *x, *y;
    AM_ASSERT_OK(am_shm_counter_new(s, &o, &c));
    AM_ASSERT_OK(am_shm_counter_with(c, AM_LABELS("a"), &a));
    AM_ASSERT_OK(am_shm_counter_with(c, AM_LABELS("b"), &b));
    AM_ASSERT_ERR(am_shm_counter_with(c, AM_LABELS("c"), &x), AM_ELIMIT);
    AM_ASSERT_ERR(am_shm_counter_with(c, AM_LABELS("d"), &y), AM_ELIMIT);
    assert_ptr_equal(x, y);
    am_shm_counter_inc(x);
    am_shm_counter_inc(y);
    char *text = encode(s, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_CONTAINS(text, "hits_total{tenant=\"__overflow__\"} 2\n");
    am_free(text);
    am_shm_close(s);
}

static void test_full_segment(void **state)
{
    (void)state;
    char path[256];
    path_of(path, sizeof path);
    am_shm_opts so = AM_SHM_OPTS_INIT;
    so.max_families = 2;
    so.max_series = 4;
    so.arena_bytes = 4096;
    am_shm *s;
    AM_ASSERT_OK(am_shm_open(path, &so, &s));
    const char *l[] = {"k"};
    am_metric_opts o1 = opts("one_total", l, 1), o2 = opts("two_total", NULL, 0),
                   o3 = opts("three_total", NULL, 0);
    am_shm_counter *c1, *c2, *c3, *x;
    AM_ASSERT_OK(am_shm_counter_new(s, &o1, &c1));
    AM_ASSERT_OK(am_shm_counter_new(s, &o2, &c2));
    AM_ASSERT_ERR(am_shm_counter_new(s, &o3, &c3), AM_ELIMIT);
    char v[8];
    am_err rc = AM_OK;
    for (int i = 0; i < 10 && rc == AM_OK; i++) {
        snprintf(v, sizeof v, "%d", i);
        rc = am_shm_counter_with(c1, AM_LABELS(v), &x);
    }
    AM_ASSERT_EQ(rc, AM_ELIMIT); /* out of series: the overflow series, if it fits */
    am_shm_close(s);
}

static void test_fork_child_gets_its_own_slot(void **state)
{
    (void)state;
    char path[256];
    am_shm *s = open_small(path, sizeof path, 4);
    am_metric_opts o = opts("n_total", NULL, 0);
    am_shm_counter *c;
    AM_ASSERT_OK(am_shm_counter_new(s, &o, &c));
    am_shm_counter_inc(c); /* the parent claims a slot */
    pid_t p = fork();
    if (p == 0) {
        am_shm_counter_inc(c);
        am_shm_stats st;
        am_shm_stats_get(s, &st);
        _exit(st.procs_live == 2 ? 0 : 4); /* parent and child, two slots */
    }
    wait_ok(p);
    AM_ASSERT_DBL_EQ(am_shm_counter_value(c), 2);
    am_shm_close(s);
}

static int setup(void **state)
{
    (void)state;
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
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_and_bad_files),
        cmocka_unit_test(test_definitions),
        cmocka_unit_test(test_encodes_like_a_registry),
        cmocka_unit_test(test_forked_workers_lose_nothing),
        cmocka_unit_test(test_slots_reused_file_constant),
        cmocka_unit_test(test_gauge_modes),
        cmocka_unit_test(test_exemplars_across_processes),
        cmocka_unit_test(test_fold_survives_a_dying_holder),
        cmocka_unit_test(test_cardinality_guard),
        cmocka_unit_test(test_full_segment),
        cmocka_unit_test(test_fork_child_gets_its_own_slot),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
