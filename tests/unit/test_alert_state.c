/*
** test_alert_state.c: alert state and history in the store
** (src/serve/alert_state.c), on SQLite and PostgreSQL: what save() writes
** load() gives back, also after the store is closed and opened again (a
** restart); a pending alert that goes away is written as gone and not
** restored; every change of state is one history row; rows not written
** for 120 h are pruned at open (am_store_prune); events and the
** notification log survive a restart too.
*/
#include <math.h>

#include "store_fixture.h"
#include "alert/labels.h"
#include "serve/alert_state.h"

#include "agentmon/timer.h"

static int64_t NOW_MS; /* an hour ago: set by the test */

typedef struct got {
    am_alert_record r[8];
    char rule[8][32], lv[8][32];
    am_label l[8][4];
    int64_t saved[8];
    size_t n;
} got;

static void on_load(void *ctx, const am_alert_record *r, int64_t saved_ms)
{
    got *g = ctx;
    assert_true(g->n < 8);
    size_t i = g->n++;
    g->r[i] = *r;
    snprintf(g->rule[i], sizeof g->rule[i], "%s", r->rule);
    g->r[i].rule = g->rule[i];
    /* the labels here are {a="..."} or {} */
    g->r[i].labels = g->l[i];
    for (size_t k = 0; k < r->n_labels && k < 1; k++) {
        snprintf(g->lv[i], sizeof g->lv[i], "%s", r->labels[k].value);
        g->l[i][k] = (am_label){"a", g->lv[i]};
    }
    g->saved[i] = saved_ms;
}

static am_alert_record rec(const char *rule, const am_label *l, size_t n, am_alert_state st,
                           int64_t active, int64_t fired, int64_t resolved)
{
    am_alert_record r = {
        "f.yml", "g", rule, l, n, NULL, 0, st, 3.5, active, fired, resolved, fired ? fired : 0, 0};
    return r;
}

typedef struct hist {
    char state[8][16], fp[8][20];
    double ts[8];
    size_t n;
} hist;

static int on_hist(void *ud, const am_table *t, const am_value *v)
{
    (void)t;
    hist *h = ud;
    if (h->n < 8) {
        snprintf(h->state[h->n], sizeof h->state[0], "%s", v[AM_AHIST_STATE].v.s);
        snprintf(h->fp[h->n], sizeof h->fp[0], "%s", v[AM_AHIST_FINGERPRINT].v.s);
        h->ts[h->n] = v[AM_AHIST_TIMESTAMP].v.d;
    }
    h->n++;
    return 0;
}

static hist history(am_store *s)
{
    hist h = {0};
    am_store_query q = {.table = AM_T_ALERT_HISTORY, .start = NAN, .end = NAN, .limit = 100};
    size_t n;
    char next[AM_STORE_CURSOR_MAX];
    AM_ASSERT_OK(am_store_select(s, &q, on_hist, &h, &n, next));
    return h;
}

static void test_save_load_restart(void **state)
{
    (void)state;
    char uri[256];
    sf_fresh_uri(uri, sizeof uri);
    NOW_MS = (int64_t)(am_unix_time() * 1000) - 3600000;
    am_store *s;
    AM_ASSERT_OK(am_store_open(uri, NULL, &s));
    am_alert_state_store *as;
    AM_ASSERT_OK(am__alert_state_open(s, NULL, &as));
    const am_alert_persister *ps = am__alert_state_persister(as);
    got g = {0};
    AM_ASSERT_EQ(ps->load(ps->ud, "f.yml", "g", on_load, &g), AM_ENOTFOUND);

    am_label la[] = {{"a", "1"}}, lb[] = {{"a", "2"}};
    am_alert_record two[] = {rec("P", la, 1, AM_ALERT_PENDING, NOW_MS - 30000, 0, 0),
                             rec("F", lb, 1, AM_ALERT_FIRING, NOW_MS - 90000, NOW_MS - 60000, 0)};
    AM_ASSERT_OK(ps->save(ps->ud, "f.yml", "g", two, 2, NOW_MS));
    AM_ASSERT_OK(ps->save(ps->ud, "f.yml", "g", two, 2, NOW_MS + 15000));
    /* a group last written six days ago */
    am_alert_record old = rec("P", la, 1, AM_ALERT_PENDING, NOW_MS - 6 * 86400000LL - 30000, 0, 0);
    AM_ASSERT_OK(ps->save(ps->ud, "f.yml", "old", &old, 1, NOW_MS - 6 * 86400000LL));
    g.n = 0;
    AM_ASSERT_OK(ps->load(ps->ud, "f.yml", "g", on_load, &g));
    AM_ASSERT_EQ(g.n, 2);
    /* another group's name or file: nothing */
    got other = {0};
    AM_ASSERT_EQ(ps->load(ps->ud, "f.yml", "h", on_load, &other), AM_ENOTFOUND);
    AM_ASSERT_EQ(ps->load(ps->ud, "e.yml", "g", on_load, &other), AM_ENOTFOUND);

    /* the pending one goes away: written as gone, not restored */
    AM_ASSERT_OK(ps->save(ps->ud, "f.yml", "g", two + 1, 1, NOW_MS + 30000));
    am__alert_state_log_put(as, "hook/abc", "{\"firing\":[\"x\"]}", NOW_MS + 30000);
    am_label ev[] = {{"agent", "coder:1"}, {"alertname", "DLQGrowth"}};
    am__alert_state_event(as, ev, 2, NULL, 0, "firing", NOW_MS + 31000);
    am__alert_state_free(as);
    am_store_close(s); /* commits what is queued */

    /* a restart */
    AM_ASSERT_OK(am_store_open(uri, NULL, &s));
    AM_ASSERT_OK(am__alert_state_open(s, NULL, &as));
    ps = am__alert_state_persister(as);
    g.n = 0;
    /* the old group was pruned at open: 6 days > 120 h */
    AM_ASSERT_EQ(ps->load(ps->ud, "f.yml", "old", on_load, &g), AM_ENOTFOUND);
    AM_ASSERT_OK(ps->load(ps->ud, "f.yml", "g", on_load, &g));
    AM_ASSERT_EQ(g.n, 1);
    AM_ASSERT_STR_EQ(g.rule[0], "F");
    AM_ASSERT_EQ(g.r[0].state, AM_ALERT_FIRING);
    AM_ASSERT_EQ(g.r[0].active_at_ms, NOW_MS - 90000);
    AM_ASSERT_EQ(g.r[0].fired_at_ms, NOW_MS - 60000);
    AM_ASSERT_EQ(g.r[0].last_sent_at_ms, NOW_MS - 60000);
    AM_ASSERT_EQ(g.saved[0], NOW_MS + 30000);
    AM_ASSERT_STR_EQ(g.lv[0], "2");
    char text[64];
    AM_ASSERT_EQ(am__alert_state_log_get(as, "hook/abc", text, sizeof text), NOW_MS + 30000);
    AM_ASSERT_STR_EQ(text, "{\"firing\":[\"x\"]}");
    AM_ASSERT_EQ(am__alert_state_log_get(as, "hook/none", text, sizeof text), 0);

    /* history: the old group's P, F firing and P pending (at their own
       times), P gone, the event */
    hist h = history(s);
    AM_ASSERT_EQ(h.n, 5);
    AM_ASSERT_STR_EQ(h.state[1], "firing"); /* F fired first, at NOW - 60 s */
    AM_ASSERT_DBL_EQ(h.ts[1], (double)(NOW_MS - 60000) / 1000.0);
    AM_ASSERT_STR_EQ(h.state[2], "pending");
    AM_ASSERT_DBL_EQ(h.ts[2], (double)(NOW_MS - 30000) / 1000.0);
    AM_ASSERT_STR_EQ(h.state[3], "inactive");
    AM_ASSERT_STR_EQ(h.state[4], "firing");
    char fp[17];
    am_alert_fingerprint_hex(ev, 2, fp);
    AM_ASSERT_STR_EQ(h.fp[4], fp);

    /* resolved: one more history row; then nothing new while it stays so */
    am_alert_record res =
        rec("F", lb, 1, AM_ALERT_INACTIVE, NOW_MS - 90000, NOW_MS - 60000, NOW_MS + 45000);
    AM_ASSERT_OK(ps->save(ps->ud, "f.yml", "g", &res, 1, NOW_MS + 45000));
    AM_ASSERT_OK(ps->save(ps->ud, "f.yml", "g", &res, 1, NOW_MS + 60000));
    am__alert_state_free(as);
    am_store_close(s);

    AM_ASSERT_OK(am_store_open(uri, NULL, &s));
    h = history(s);
    AM_ASSERT_EQ(h.n, 6); /* the old group's pending, five days back */
    AM_ASSERT_STR_EQ(h.state[0], "pending");
    AM_ASSERT_STR_EQ(h.state[5], "resolved");
    AM_ASSERT_OK(am__alert_state_open(s, NULL, &as));
    ps = am__alert_state_persister(as);
    AM_ASSERT_EQ(am__alert_state_log_get(as, "hook/abc", text, sizeof text), NOW_MS + 30000);
    g.n = 0;
    AM_ASSERT_EQ(ps->load(ps->ud, "f.yml", "g", on_load, &g), AM_ENOTFOUND); /* resolved */
    am__alert_state_free(as);
    am_store_close(s);
}

static void test_prune_only_state_tables(void **state)
{
    (void)state;
    char uri[256];
    sf_fresh_uri(uri, sizeof uri);
    am_store *s;
    AM_ASSERT_OK(am_store_open(uri, NULL, &s));
    uint64_t n = 99;
    AM_ASSERT_ERR(am_store_prune(s, AM_T_TASK, 1e12, &n), AM_EINVAL);
    AM_ASSERT_OK(am_store_prune(s, AM_T_SILENCE, 1e12, &n));
    AM_ASSERT_EQ(n, 0);
    am_store_close(s);
}

int main(void)
{
    const struct CMUnitTest suite[] = {
        cmocka_unit_test(test_save_load_restart),
        cmocka_unit_test(test_prune_only_state_tables),
    };
    return sf_run_both("alertst", suite, sizeof suite / sizeof suite[0]);
}
