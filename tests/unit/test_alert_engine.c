/*
** test_alert_engine.c: the rule engine (src/alert/engine.c, rules.c,
** alerts.c) -- the alert lifecycle as Prometheus runs it, ALERTS and
** ALERTS_FOR_STATE, staleness of rule outputs, the notifier's alert shape
** and resends, keep_firing_for, the persister and restoring `for` state
** after a restart, reloads that keep state, a failed reload that keeps
** the running rules, and the group schedule.
*/
#include <math.h>
#include <unistd.h>

#include "testutil.h"
#include "alert/promql.h"
#include "alert/rules.h"
#include "util/alloc.h"

static char g_dir[64];

static const char *write_rules(const char *name, const char *text)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* ------------------------------------------------------------ notifier */

typedef struct sent {
    char name[64];
    char job[64];
    char summary[128];
    am_alert_state state;
    int64_t starts, ends;
    char url[256];
} sent;

static sent g_sent[256];
static size_t g_n_sent;

static void notify(void *ud, const am_alert_out *a, size_t n)
{
    (void)ud;
    for (size_t i = 0; i < n && g_n_sent < 256; i++) {
        sent *s = &g_sent[g_n_sent++];
        memset(s, 0, sizeof *s);
        for (size_t k = 0; k < a[i].n_labels; k++) {
            if (!strcmp(a[i].labels[k].name, "alertname"))
                snprintf(s->name, sizeof s->name, "%s", a[i].labels[k].value);
            if (!strcmp(a[i].labels[k].name, "job"))
                snprintf(s->job, sizeof s->job, "%s", a[i].labels[k].value);
        }
        for (size_t k = 0; k < a[i].n_annotations; k++)
            if (!strcmp(a[i].annotations[k].name, "summary"))
                snprintf(s->summary, sizeof s->summary, "%s", a[i].annotations[k].value);
        s->state = a[i].state;
        s->starts = a[i].starts_at_ms;
        s->ends = a[i].ends_at_ms;
        snprintf(s->url, sizeof s->url, "%s", a[i].generator_url);
    }
}

/* ------------------------------------------------------------ persister */

typedef struct prec {
    char rule[64];
    am_label labels[8];
    char strs[8][2][64];
    size_t n_labels;
    am_alert_state state;
    int64_t active_at, fired_at, last_sent;
} prec;

static prec g_saved[32];
static size_t g_n_saved;
static int64_t g_saved_at;

static am_err p_save(void *ud, const char *file, const char *group, const am_alert_record *r,
                     size_t n, int64_t eval_ms)
{
    (void)ud, (void)file, (void)group;
    g_n_saved = 0;
    for (size_t i = 0; i < n && i < 32; i++) {
        prec *p = &g_saved[g_n_saved++];
        snprintf(p->rule, sizeof p->rule, "%s", r[i].rule);
        p->n_labels = r[i].n_labels < 8 ? r[i].n_labels : 8;
        for (size_t k = 0; k < p->n_labels; k++) {
            snprintf(p->strs[k][0], 64, "%s", r[i].labels[k].name);
            snprintf(p->strs[k][1], 64, "%s", r[i].labels[k].value);
            p->labels[k].name = p->strs[k][0];
            p->labels[k].value = p->strs[k][1];
        }
        p->state = r[i].state;
        p->active_at = r[i].active_at_ms;
        p->fired_at = r[i].fired_at_ms;
        p->last_sent = r[i].last_sent_at_ms;
    }
    g_saved_at = eval_ms;
    return AM_OK;
}

static am_err p_load(void *ud, const char *file, const char *group,
                     void (*fn)(void *ctx, const am_alert_record *r, int64_t saved_ms), void *ctx)
{
    (void)ud, (void)file, (void)group;
    for (size_t i = 0; i < g_n_saved; i++) {
        am_alert_record r = {0};
        r.rule = g_saved[i].rule;
        r.labels = g_saved[i].labels;
        r.n_labels = g_saved[i].n_labels;
        r.state = g_saved[i].state;
        r.active_at_ms = g_saved[i].active_at;
        r.fired_at_ms = g_saved[i].fired_at;
        r.last_sent_at_ms = g_saved[i].last_sent;
        fn(ctx, &r, g_saved_at);
    }
    return AM_OK;
}

static const am_alert_persister g_persister = {1, NULL, p_save, p_load};

/* ------------------------------------------------------------ helpers */

static void put(am_tsdb *db, am_tsdb_src *src, const char *job, int64_t t, double v)
{
    am_label p[] = {{"__name__", "up"}, {"job", job}};
    AM_ASSERT_OK(am_tsdb_append(db, src, p, 2, t, v));
}

static double query1(am_tsdb *db, const char *expr, int64_t t, size_t *n)
{
    am_promql *q;
    char err[256];
    AM_ASSERT_OK(am_promql_parse(expr, &q, err, sizeof err));
    am_promql_result *r;
    AM_ASSERT_OK(am_promql_eval(db, q, t, NULL, &r, err, sizeof err));
    const am_value *v = am__promql_result_value(r);
    double x = NAN;
    *n = v->type == AM_PQL_VECTOR ? v->vec.n : 1;
    if (v->type == AM_PQL_VECTOR && v->vec.n)
        x = v->vec.s[0].v;
    if (v->type == AM_PQL_SCALAR)
        x = v->scalar;
    am_promql_result_free(r);
    am_promql_free(q);
    return x;
}

typedef struct counts {
    size_t pending, firing, inactive, rules;
} counts;

static void count_rule(void *ud, const am_rule_info *r)
{
    counts *c = ud;
    c->rules++;
    for (size_t i = 0; i < r->n_alerts; i++) {
        if (r->alerts[i].state == AM_ALERT_PENDING)
            c->pending++;
        else if (r->alerts[i].state == AM_ALERT_FIRING)
            c->firing++;
        else
            c->inactive++;
    }
}

static counts states(am_alert_engine *e)
{
    counts c = {0};
    am_alert_engine_rules(e, count_rule, &c);
    return c;
}

static const char RULES[] = "groups:\n"
                            "  - name: g\n"
                            "    interval: 15s\n"
                            "    rules:\n"
                            "      - alert: Down\n"
                            "        expr: up == 0\n"
                            "        for: 1m\n"
                            "        labels: {severity: page}\n"
                            "        annotations:\n"
                            "          summary: '{{ $labels.job }} down ({{ $value }})'\n";

/* ------------------------------------------------------------ tests */

static void test_lifecycle(void **state)
{
    (void)state;
    am_tsdb *db;
    am_tsdb_src *src;
    AM_ASSERT_OK(am_tsdb_new(NULL, &db));
    AM_ASSERT_OK(am_tsdb_src_new(db, true, &src));
    am_alert_engine_opts o = AM_ALERT_ENGINE_OPTS_INIT;
    o.db = db;
    o.notify = notify;
    o.external_url = "http://am.example";
    am_alert_engine *e;
    AM_ASSERT_OK(am_alert_engine_new(&o, &e));
    const char *path = write_rules("life.yml", RULES);
    AM_ASSERT_OK(am_alert_engine_load(e, &path, 1, NULL));
    g_n_sent = 0;
    size_t n;
    /* up=1 for a minute, 0 for three, then 1 again */
    for (int64_t t = 0; t <= 20 * 60000; t += 15000) {
        am_tsdb_begin(db, src);
        put(db, src, "api", t, t >= 60000 && t < 240000 ? 0 : 1);
        am_tsdb_commit(db, src, t);
        AM_ASSERT_OK(am_alert_engine_eval_group(e, 0, t));
        counts c = states(e);
        if (t < 60000) {
            AM_ASSERT_EQ(c.pending + c.firing, 0);
        } else if (t < 120000) {
            AM_ASSERT_EQ(c.pending, 1); /* pending for the `for` minute */
        } else if (t < 240000) {
            AM_ASSERT_EQ(c.firing, 1);
        } else if (t <= 240000 + 15 * 60000) {
            AM_ASSERT_EQ(c.inactive, 1); /* resolved, kept 15 minutes */
        } else {
            AM_ASSERT_EQ(c.inactive + c.pending + c.firing, 0);
        }
        /* ALERTS only once restored (after the second evaluation) */
        double v = query1(db, "ALERTS{alertname=\"Down\"}", t, &n);
        if (t == 75000)
            AM_ASSERT_EQ(n, 1); /* pending */
        if (t >= 240000)
            AM_ASSERT_EQ(n, 0); /* gone at once: stale */
        (void)v;
        if (t == 150000) {
            double fs = query1(db, "ALERTS_FOR_STATE", t, &n);
            AM_ASSERT_EQ(n, 1);
            AM_ASSERT_DBL_EQ(fs, 60); /* active since 60 s */
            query1(db, "ALERTS{alertstate=\"firing\",severity=\"page\",job=\"api\"}", t, &n);
            AM_ASSERT_EQ(n, 1);
        }
    }
    /* sent: firing at 120 s, again after each resend delay (1m) while
       firing, then resolved at 240 s and resent every minute for 15 min */
    assert_true(g_n_sent >= 3);
    AM_ASSERT_STR_EQ(g_sent[0].name, "Down");
    AM_ASSERT_STR_EQ(g_sent[0].job, "api");
    AM_ASSERT_STR_EQ(g_sent[0].summary, "api down (0)");
    AM_ASSERT_EQ(g_sent[0].state, AM_ALERT_FIRING);
    AM_ASSERT_EQ(g_sent[0].starts, 120000);
    AM_ASSERT_EQ(g_sent[0].ends, 120000 + 4 * 60000);
    AM_ASSERT_STR_EQ(g_sent[0].url, "http://am.example/graph?g0.expr=up+%3D%3D+0&g0.tab=1");
    size_t resolved = 0;
    for (size_t i = 0; i < g_n_sent; i++)
        if (g_sent[i].state == AM_ALERT_INACTIVE) {
            AM_ASSERT_EQ(g_sent[i].ends, 240000);
            resolved++;
        }
    assert_true(resolved >= 2);
    am_alert_engine_free(e);
    am_tsdb_src_free(db, src);
    am_tsdb_free(db);
}

static void test_keep_firing_and_recording(void **state)
{
    (void)state;
    am_tsdb *db;
    am_tsdb_src *src;
    AM_ASSERT_OK(am_tsdb_new(NULL, &db));
    AM_ASSERT_OK(am_tsdb_src_new(db, true, &src));
    am_alert_engine_opts o = AM_ALERT_ENGINE_OPTS_INIT;
    o.db = db;
    am_alert_engine *e;
    AM_ASSERT_OK(am_alert_engine_new(&o, &e));
    const char *path = write_rules("keep.yml", "groups:\n"
                                               "  - name: k\n"
                                               "    interval: 10s\n"
                                               "    rules:\n"
                                               "      - record: job:up:sum\n"
                                               "        expr: sum by (job) (up)\n"
                                               "      - alert: Flappy\n"
                                               "        expr: job:up:sum == 0\n"
                                               "        keep_firing_for: 30s\n");
    AM_ASSERT_OK(am_alert_engine_load(e, &path, 1, NULL));
    size_t n;
    for (int64_t t = 0; t <= 120000; t += 10000) {
        am_tsdb_begin(db, src);
        put(db, src, "a", t, t >= 20000 && t < 40000 ? 0 : 1);
        am_tsdb_commit(db, src, t);
        AM_ASSERT_OK(am_alert_engine_eval_group(e, 0, t));
        /* the recording rule's output is visible to the next rule at once */
        double v = query1(db, "job:up:sum", t, &n);
        AM_ASSERT_EQ(n, 1);
        AM_ASSERT_DBL_EQ(v, t >= 20000 && t < 40000 ? 0 : 1);
        counts c = states(e);
        if (t >= 20000 && t < 40000 + 30000)
            AM_ASSERT_EQ(c.firing, 1); /* for 0: fires at once; kept 30 s */
        if (t >= 70000)
            AM_ASSERT_EQ(c.firing, 0);
    }
    am_alert_engine_free(e);
    am_tsdb_src_free(db, src);
    am_tsdb_free(db);
}

static void test_restore_after_restart(void **state)
{
    (void)state;
    const char *path = write_rules("restore.yml", "groups:\n"
                                                  "  - name: r\n"
                                                  "    interval: 1m\n"
                                                  "    rules:\n"
                                                  "      - alert: Slow\n"
                                                  "        expr: up == 0\n"
                                                  "        for: 30m\n");
    am_alert_engine_opts o = AM_ALERT_ENGINE_OPTS_INIT;
    o.persister = &g_persister;
    g_n_saved = 0;
    /* first life: pending for 10 minutes, then down for 5 */
    am_tsdb *db;
    am_tsdb_src *src;
    AM_ASSERT_OK(am_tsdb_new(NULL, &db));
    AM_ASSERT_OK(am_tsdb_src_new(db, true, &src));
    o.db = db;
    am_alert_engine *e;
    AM_ASSERT_OK(am_alert_engine_new(&o, &e));
    AM_ASSERT_OK(am_alert_engine_load(e, &path, 1, NULL));
    for (int64_t t = 0; t <= 10 * 60000; t += 60000) {
        am_tsdb_begin(db, src);
        put(db, src, "a", t, 0);
        am_tsdb_commit(db, src, t);
        AM_ASSERT_OK(am_alert_engine_eval_group(e, 0, t));
    }
    AM_ASSERT_EQ(g_n_saved, 1);
    AM_ASSERT_EQ(g_saved[0].active_at, 0);
    AM_ASSERT_EQ(g_saved_at, 10 * 60000);
    am_alert_engine_free(e);
    am_tsdb_src_free(db, src);
    am_tsdb_free(db);

    /* second life, from 15 minutes: the restore runs after the group's
       second evaluation (16 min) and shifts "active since" by the time
       from the last saved evaluation (10 min) to then: 0 + 6 min, so the
       alert fires at 36 min -- not 30 minutes after the restart, and the
       10 minutes it was pending before are not lost */
    AM_ASSERT_OK(am_tsdb_new(NULL, &db));
    AM_ASSERT_OK(am_tsdb_src_new(db, true, &src));
    o.db = db;
    AM_ASSERT_OK(am_alert_engine_new(&o, &e));
    AM_ASSERT_OK(am_alert_engine_load(e, &path, 1, NULL));
    int64_t fired = -1;
    for (int64_t t = 15 * 60000; t <= 60 * 60000; t += 60000) {
        am_tsdb_begin(db, src);
        put(db, src, "a", t, 0);
        am_tsdb_commit(db, src, t);
        AM_ASSERT_OK(am_alert_engine_eval_group(e, 0, t));
        if (fired < 0 && states(e).firing)
            fired = t;
    }
    AM_ASSERT_EQ(fired, 36 * 60000);
    am_alert_engine_free(e);
    am_tsdb_src_free(db, src);
    am_tsdb_free(db);

    /* the restore arithmetic itself (Prometheus' three cases) */
    int64_t m = 60000;
    AM_ASSERT_EQ(am__restore_active_at(0, 40 * m, 50 * m, 30 * m, 10 * m), 0);      /* firing */
    AM_ASSERT_EQ(am__restore_active_at(0, 25 * m, 50 * m, 30 * m, 10 * m), 30 * m); /* grace */
    AM_ASSERT_EQ(am__restore_active_at(0, 10 * m, 50 * m, 30 * m, 10 * m), 40 * m); /* shift */
}

static void test_reload(void **state)
{
    (void)state;
    am_tsdb *db;
    am_tsdb_src *src;
    AM_ASSERT_OK(am_tsdb_new(NULL, &db));
    AM_ASSERT_OK(am_tsdb_src_new(db, true, &src));
    am_alert_engine_opts o = AM_ALERT_ENGINE_OPTS_INIT;
    o.db = db;
    am_alert_engine *e;
    AM_ASSERT_OK(am_alert_engine_new(&o, &e));
    const char *path = write_rules("reload.yml", RULES);
    AM_ASSERT_OK(am_alert_engine_load(e, &path, 1, NULL));
    for (int64_t t = 0; t <= 90000; t += 15000) {
        am_tsdb_begin(db, src);
        put(db, src, "api", t, 0);
        am_tsdb_commit(db, src, t);
        AM_ASSERT_OK(am_alert_engine_eval_group(e, 0, t));
    }
    AM_ASSERT_EQ(states(e).firing, 1);
    /* a bad reload: refused, the rules keep running with their state */
    const char *bad = write_rules("bad.yml", "groups:\n  - name: x\n    rules:\n"
                                             "      - alert: A\n        expr: rate(up)\n");
    am_buf errs;
    am_buf_init(&errs, 0);
    AM_ASSERT_ERR(am_alert_engine_load(e, &bad, 1, &errs), AM_EINVAL);
    AM_ASSERT_CONTAINS(errs.p, "bad.yml: 5:15: group \"x\", rule 1, \"A\": could not parse");
    AM_ASSERT_CONTAINS(errs.p, "expected type range vector");
    am_buf_free(&errs);
    AM_ASSERT_EQ(states(e).firing, 1);
    /* a good reload of the same rule (other annotations): state carried */
    path = write_rules("reload.yml", "groups:\n"
                                     "  - name: g\n"
                                     "    interval: 15s\n"
                                     "    rules:\n"
                                     "      - alert: Down\n"
                                     "        expr: up == 0\n"
                                     "        for: 1m\n"
                                     "        labels: {severity: page}\n"
                                     "        annotations: {summary: changed}\n"
                                     "      - record: job:up:max\n"
                                     "        expr: max by (job) (up)\n");
    AM_ASSERT_OK(am_alert_engine_load(e, &path, 1, NULL));
    AM_ASSERT_EQ(states(e).firing, 1);
    AM_ASSERT_EQ(states(e).rules, 2);
    am_alert_engine_free(e);
    am_tsdb_src_free(db, src);
    am_tsdb_free(db);
}

static void test_schedule(void **state)
{
    (void)state;
    am_tsdb *db;
    AM_ASSERT_OK(am_tsdb_new(NULL, &db));
    am_alert_engine_opts o = AM_ALERT_ENGINE_OPTS_INIT;
    o.db = db;
    am_alert_engine *e;
    AM_ASSERT_OK(am_alert_engine_new(&o, &e));
    const char *path = write_rules("sched.yml", RULES);
    AM_ASSERT_OK(am_alert_engine_load(e, &path, 1, NULL));
    int64_t now = 1700000000000;
    int64_t next = am_alert_engine_tick(e, now); /* nothing due yet */
    assert_true(next > now && next <= now + 15000);
    int64_t next2 = am_alert_engine_tick(e, next);
    AM_ASSERT_EQ(next2, next + 15000); /* evaluated at its slot */
    int64_t late = am_alert_engine_tick(e, next2 + 47000);
    AM_ASSERT_EQ(late, next2 + 60000); /* missed slots skipped */
    counts c = states(e);
    AM_ASSERT_EQ(c.rules, 1);
    am_alert_engine_free(e);
    am_tsdb_free(db);
}

static void test_bad_rule_files(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *want;
    } BAD[] = {
        {"groups:\n  - name: g\n    rules:\n    - alert: A\n      expr: up\n     for: 1m\n",
         "yaml"},
        {"groups:\n  - name: g\n    rules:\n      - alert: A\n        expresion: up\n",
         "5:9: yaml: unmarshal errors: field expresion not found"},
        {"groups:\n  - name: g\n    rules:\n      - record: a\n        expr: up\n"
         "  - name: g\n    rules: []\n",
         "groupname: \"g\" is repeated in the same file"},
        {"groups:\n  - name: ''\n    rules: []\n", "Groupname must not be empty"},
        {"groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n"
         "        annotations: {s: '{{ nope }}'}\n",
         "function \"nope\" not defined"},
        {"groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n"
         "        annotations: {s: '{{ if .Value }}x'}\n",
         "unexpected EOF"},
        {"groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up[5m:1m]\n",
         "subqueries are not supported"},
        {"groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: "
         "holt_winters(up[5m],1,1)\n",
         "not supported by agentmon"},
        {"groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: nosuch(up)\n",
         "unknown function with name \"nosuch\""},
        {"groups:\n  - name: g\n    rules:\n      - record: a\n        expr: up\n        for: 1m\n",
         "invalid field 'for' in recording rule"},
        {"groups:\n  - name: g\n    interval: 30\n    rules: []\n",
         "not a valid duration string: \"30\""},
        {"groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n"
         "        labels: {__name__: x}\n",
         "invalid label name: __name__"},
        {"groups:\n  - name: g\n    rules:\n      - expr: up\n",
         "one of 'record' or 'alert' must be set"},
        {"- a\n- b\n", "cannot unmarshal !!seq into rulefmt.RuleGroups"},
        {"groups: {a: 1}\n", "cannot unmarshal !!map into []rulefmt.RuleGroup"},
        {"groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: |\n          sum(up)\n"
         "            by (job\n",
         "parse error"},
        {"a: &a [*a, *a]\n", "yaml"},
        /* a refused pair, then another key: found by fuzz_rulefile (compared an unset slot) */
        {"groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n"
         "        labels: {a: [1], b: x}\n",
         "labels must map strings to strings"},
    };
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        am_ruleset *rs = am__calloc(1, sizeof *rs);
        am_buf errs;
        am_buf_init(&errs, 0);
        am_err rc = am__rulefile_parse("f.yml", BAD[i].text, strlen(BAD[i].text), rs, &errs);
        if (rc != AM_EINVAL)
            fail_msg("case %zu: accepted", i);
        AM_ASSERT_EQ(rs->n, 0); /* nothing added */
        if (!strstr(errs.p ? errs.p : "", BAD[i].want))
            fail_msg("case %zu: expected \"%s\" in:\n%s", i, BAD[i].want, errs.p);
        AM_ASSERT_CONTAINS(errs.p, "f.yml: ");
        am_buf_free(&errs);
        am_ruleset_free(rs);
    }
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/am_alert_engine_XXXXXX");
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
        cmocka_unit_test(test_lifecycle),
        cmocka_unit_test(test_keep_firing_and_recording),
        cmocka_unit_test(test_restore_after_restart),
        cmocka_unit_test(test_reload),
        cmocka_unit_test(test_schedule),
        cmocka_unit_test(test_bad_rule_files),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
