/*
** engine.c: the alerting engine (alert.h): rule groups on their
** schedule over a window, notifications, persisted state, and the
** listing the API shows.
**
** DESIGN
** Groups run at interval-aligned slots with a per-group offset (a hash of
** file and name modulo the interval), as Prometheus staggers them: the
** first evaluation is at the first slot after the rules are loaded; a
** late tick evaluates the latest slot due and skips the missed ones (as
** Prometheus counts them missed). tick() returns the next slot due, so a
** driver sleeps until then.
**
** Restarts: as Prometheus, the rules of the first load start
** "unrestored" -- they evaluate but write no ALERTS series -- and after a
** group's second evaluation its `for` state is restored (from the
** persister, see alert.h) and every rule writes ALERTS from then on.
** Rules loaded by a later reload are restored from the start. A reload
** carries each alerting rule's alerts (and each rule's series, for
** staleness) over to the rule of the same group, name and labels in the
** new files, as Prometheus' CopyState does; series of rules that are gone
** are marked stale at once.
**
** THREADING
** One thread drives the engine (load, tick, eval_group). A mutex guards
** the ruleset: held while a group evaluates and while
** am_alert_engine_rules() lists it from another thread.
*/
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "../util/alloc.h"
#include "../util/error.h"
#include "rules.h"

struct am_alert_engine {
    am_alert_engine_opts o;
    am_promql_opts qopts;
    am_lset *ext;
    char *ext_url;
    am_ruleset *rs;
    pthread_mutex_t lock;
    bool has_loaded;
    am_rule_ctx rc;
};

am_err am_alert_engine_new(const am_alert_engine_opts *o, am_alert_engine **out)
{
    if (!o || !o->db)
        return am__err(AM_EINVAL, "am_alert_engine_new: no window");
    am_alert_engine *e = am__calloc(1, sizeof *e);
    if (!e)
        return am__err(AM_ENOMEM, "out of memory");
    e->o = *o;
    e->qopts = o->query;
    e->ext_url = am__strdup(o->external_url ? o->external_url : "");
    am_label *p = am__calloc(o->n_external_labels + 1, sizeof *p);
    if (p)
        if (o->n_external_labels)
            memcpy(p, o->external_labels, o->n_external_labels * sizeof *p);
    e->ext = p ? am__labels_new(NULL, p, o->n_external_labels) : NULL;
    am__free(p);
    e->rs = am__calloc(1, sizeof *e->rs);
    if (!e->ext_url || !e->ext || !e->rs) {
        am__free(e->ext_url);
        am__labels_free(e->ext);
        am__free(e->rs);
        am__free(e);
        return am__err(AM_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&e->lock, NULL);
    if (e->o.default_interval_ms <= 0)
        e->o.default_interval_ms = 60000;
    if (e->o.resend_delay_ms <= 0)
        e->o.resend_delay_ms = 60000;
    e->rc.db = o->db;
    e->rc.qopts = &e->qopts;
    e->rc.external_labels = e->ext;
    e->rc.external_url = e->ext_url;
    e->rc.default_interval_ms = e->o.default_interval_ms;
    e->rc.resend_delay_ms = e->o.resend_delay_ms;
    e->rc.notify = o->notify;
    e->rc.notify_ud = o->notify_ud;
    *out = e;
    return AM_OK;
}

void am_alert_engine_free(am_alert_engine *e)
{
    if (!e)
        return;
    am_ruleset_free(e->rs);
    am__labels_free(e->ext);
    am__free(e->ext_url);
    pthread_mutex_destroy(&e->lock);
    am__free(e);
}

size_t am_alert_engine_n_groups(const am_alert_engine *e)
{
    return e->rs->n;
}

const char *am_alert_engine_group_name(const am_alert_engine *e, size_t i)
{
    return i < e->rs->n ? e->rs->groups[i]->name : NULL;
}

static int64_t interval_of(const am_alert_engine *e, const am_rgroup *g)
{
    return g->interval_ms > 0 ? g->interval_ms : e->o.default_interval_ms;
}

static int64_t group_offset(const am_rgroup *g, int64_t interval)
{
    am_label p[2] = {{"file", g->file}, {"name", g->name}};
    return (int64_t)(am__labels_hash_pairs(p, 2) % (uint64_t)interval);
}

/* The slot at or before t. */
static int64_t slot_at(const am_rgroup *g, int64_t t, int64_t interval)
{
    int64_t off = group_offset(g, interval), adj = t - off;
    int64_t base = adj - ((adj % interval) + interval) % interval;
    return base + off;
}

/* ------------------------------------------------------------ reload */

static bool same_rule(const am_rule *a, const am_rule *b)
{
    return a->is_alert == b->is_alert && strcmp(a->name, b->name) == 0 &&
           am__labels_equal(a->labels, b->labels);
}

static void carry_state(am_rgroup *ng, am_rgroup *og)
{
    ng->last_eval = og->last_eval;
    ng->n_evals = og->n_evals;
    bool *used = am__calloc(og->n + 1, sizeof *used);
    for (size_t i = 0; used && i < ng->n; i++) {
        am_rule *nr = ng->rules[i];
        for (size_t k = 0; k < og->n; k++) {
            am_rule * or = og->rules[k];
            if (used[k] || !same_rule(nr, or))
                continue;
            used[k] = true;
            /* alerts and output series move to the new rule */
            am_alert **a = nr->alerts;
            nr->alerts = or->alerts;
            nr->n_alerts = or->n_alerts;
            nr->cap_alerts = or->cap_alerts;
            or->alerts = a;
            or->n_alerts = 0;
            or->cap_alerts = 0;
            nr->src = or->src;
            nr->src_db = or->src_db;
            or->src = NULL;
            nr->health = or->health;
            memcpy(nr->last_error, or->last_error, sizeof nr->last_error);
            nr->last_eval = or->last_eval;
            break;
        }
    }
    am__free(used);
}

/* Series of rules that are gone: stale now. */
static void retire(am_alert_engine *e, am_ruleset *old, int64_t now)
{
    for (size_t g = 0; g < old->n; g++)
        for (size_t i = 0; i < old->groups[g]->n; i++) {
            am_rule *r = old->groups[g]->rules[i];
            if (!r->src)
                continue;
            am_tsdb_begin(e->o.db, r->src);
            am_tsdb_commit(e->o.db, r->src, now);
        }
}

am_err am_alert_engine_set_rules(am_alert_engine *e, am_ruleset *rs)
{
    if (!rs)
        return am__err(AM_EINVAL, "no rules");
    int64_t reach = 0, max_iv = 0;
    for (size_t g = 0; g < rs->n; g++) {
        am_rgroup *ng = rs->groups[g];
        int64_t iv = interval_of(e, ng);
        if (iv > max_iv)
            max_iv = iv;
        for (size_t i = 0; i < ng->n; i++) {
            int64_t r = am_promql_reach_ms(ng->rules[i]->expr);
            if (r > reach)
                reach = r;
            ng->rules[i]->is_restored = e->has_loaded;
        }
    }
    pthread_mutex_lock(&e->lock);
    am_ruleset *old = e->rs;
    int64_t now = 0;
    for (size_t g = 0; g < rs->n; g++) {
        am_rgroup *ng = rs->groups[g];
        for (size_t k = 0; k < old->n; k++) {
            am_rgroup *og = old->groups[k];
            if (strcmp(og->file, ng->file) == 0 && strcmp(og->name, ng->name) == 0) {
                carry_state(ng, og);
                if (og->last_eval > now)
                    now = og->last_eval;
            }
        }
        if (e->has_loaded)
            ng->n_evals = ng->n_evals < 2 ? 2 : ng->n_evals; /* no restore after a reload */
    }
    for (size_t k = 0; k < old->n; k++)
        if (old->groups[k]->last_eval > now)
            now = old->groups[k]->last_eval;
    retire(e, old, now);
    e->rs = rs;
    e->has_loaded = true;
    pthread_mutex_unlock(&e->lock);
    am_ruleset_free(old);
    /* the window keeps what the rules read: ranges, lookback, a slot */
    int64_t lookback = e->qopts.lookback_ms > 0 ? e->qopts.lookback_ms : 300000;
    int64_t want = reach + lookback + max_iv;
    if (want > am_tsdb_retention(e->o.db))
        am_tsdb_set_retention(e->o.db, want);
    return AM_OK;
}

am_err am_alert_engine_load(am_alert_engine *e, const char *const *paths, size_t n,
                            struct am_buf *errs)
{
    am_ruleset *rs;
    am_err rc = am_ruleset_load(paths, n, &rs, errs);
    if (rc)
        return rc;
    return am_alert_engine_set_rules(e, rs);
}

/* ------------------------------------------------------------ restore & persist */

typedef struct restore_ctx {
    am_alert_engine *e;
    am_rgroup *g;
    int64_t now;
} restore_ctx;

static void restore_one(void *ud, const am_alert_record *rec, int64_t saved)
{
    restore_ctx *c = ud;
    if (!rec || !rec->rule || saved < c->now - c->e->o.outage_tolerance_ms)
        return;
    am_label *p = am__calloc(rec->n_labels + 1, sizeof *p);
    if (!p)
        return;
    if (rec->n_labels)
        memcpy(p, rec->labels, rec->n_labels * sizeof *p);
    am_lset *l = am__labels_new(NULL, p, rec->n_labels);
    am__free(p);
    if (!l)
        return;
    for (size_t i = 0; i < c->g->n; i++) {
        am_rule *r = c->g->rules[i];
        if (!r->is_alert || strcmp(r->name, rec->rule) != 0 ||
            r->for_ms < c->e->o.for_grace_period_ms)
            continue;
        for (size_t k = 0; k < r->n_alerts; k++) {
            am_alert *al = r->alerts[k];
            if (!am__labels_equal(al->labels, l) || al->state == AM_ALERT_INACTIVE)
                continue;
            al->active_at = am__restore_active_at(rec->active_at_ms, saved, c->now, r->for_ms,
                                                  c->e->o.for_grace_period_ms);
            if (rec->state == AM_ALERT_FIRING && rec->fired_at_ms) {
                /* it was firing: if it fires again it keeps its start and
                   its last send, so it is not announced as new */
                al->restored_fired_at = rec->fired_at_ms;
                if (rec->last_sent_at_ms)
                    al->last_sent_at = rec->last_sent_at_ms;
                if (al->state == AM_ALERT_FIRING)
                    al->fired_at = rec->fired_at_ms;
            }
        }
    }
    am__labels_free(l);
}

static void restore_group(am_alert_engine *e, am_rgroup *g, int64_t now)
{
    const am_alert_persister *ps = e->o.persister;
    if (ps && ps->load) {
        restore_ctx c = {e, g, now};
        (void)ps->load(ps->ud, g->file, g->name, restore_one, &c);
    }
    for (size_t i = 0; i < g->n; i++)
        g->rules[i]->is_restored = true;
}

static int64_t ms_or_zero(int64_t t)
{
    return t == AM_TIME_ZERO ? 0 : t;
}

static void fill_record(am_alert_record *rec, const am_rule *r, const am_alert *al)
{
    memset(rec, 0, sizeof *rec);
    rec->file = r->group->file;
    rec->group = r->group->name;
    rec->rule = r->name;
    rec->labels = al->labels->l;
    rec->n_labels = al->labels->n;
    rec->annotations = al->annotations->l;
    rec->n_annotations = al->annotations->n;
    rec->state = al->state;
    rec->value = al->value;
    rec->active_at_ms = ms_or_zero(al->active_at);
    rec->fired_at_ms = ms_or_zero(al->fired_at);
    rec->resolved_at_ms = ms_or_zero(al->resolved_at);
    rec->last_sent_at_ms = ms_or_zero(al->last_sent_at);
    rec->keep_firing_since_ms = ms_or_zero(al->keep_firing_since);
}

static void persist_group(am_alert_engine *e, am_rgroup *g, int64_t ts)
{
    const am_alert_persister *ps = e->o.persister;
    if (!ps || !ps->save)
        return;
    size_t n = 0;
    for (size_t i = 0; i < g->n; i++)
        n += g->rules[i]->n_alerts;
    am_alert_record *recs = am__calloc(n + 1, sizeof *recs);
    if (!recs)
        return;
    size_t k = 0;
    for (size_t i = 0; i < g->n; i++)
        for (size_t j = 0; j < g->rules[i]->n_alerts; j++)
            fill_record(&recs[k++], g->rules[i], g->rules[i]->alerts[j]);
    (void)ps->save(ps->ud, g->file, g->name, recs, k, ts);
    am__free(recs);
}

/* ------------------------------------------------------------ evaluation */

/* As Prometheus writes no ALERTS_FOR_STATE before the restore, nothing is
   saved before it either: the restore reads the previous run's state. */
static void eval_group(am_alert_engine *e, am_rgroup *g, int64_t ts, int64_t now)
{
    am__group_eval(g, &e->rc, ts);
    if (g->n_evals == 2)
        restore_group(e, g, now);
    if (g->n_evals >= 2)
        persist_group(e, g, ts);
}

am_err am_alert_engine_eval_group(am_alert_engine *e, size_t i, int64_t ts_ms)
{
    pthread_mutex_lock(&e->lock);
    if (i >= e->rs->n) {
        pthread_mutex_unlock(&e->lock);
        return am__err(AM_EINVAL, "no group %zu", i);
    }
    am_rgroup *g = e->rs->groups[i];
    eval_group(e, g, ts_ms, ts_ms);
    g->next_eval = ts_ms + interval_of(e, g);
    pthread_mutex_unlock(&e->lock);
    return AM_OK;
}

int64_t am_alert_engine_tick(am_alert_engine *e, int64_t now_ms)
{
    pthread_mutex_lock(&e->lock);
    int64_t next = INT64_MAX;
    for (size_t i = 0; i < e->rs->n; i++) {
        am_rgroup *g = e->rs->groups[i];
        int64_t iv = interval_of(e, g);
        if (g->next_eval == AM_TIME_ZERO)
            g->next_eval = slot_at(g, now_ms, iv) + iv;
        if (now_ms >= g->next_eval) {
            int64_t ts = slot_at(g, now_ms, iv);
            eval_group(e, g, ts, now_ms);
            g->next_eval = ts + iv;
        }
        if (g->next_eval < next)
            next = g->next_eval;
    }
    pthread_mutex_unlock(&e->lock);
    return next == INT64_MAX ? now_ms + e->o.default_interval_ms : next;
}

/* ------------------------------------------------------------ listing */

void am_alert_engine_rules(am_alert_engine *e, void (*fn)(void *ud, const am_rule_info *r),
                           void *ud)
{
    static const char *const HEALTH[] = {"unknown", "ok", "err"};
    pthread_mutex_lock(&e->lock);
    for (size_t g = 0; g < e->rs->n; g++) {
        am_rgroup *grp = e->rs->groups[g];
        for (size_t i = 0; i < grp->n; i++) {
            am_rule *r = grp->rules[i];
            am_alert_record *recs = am__calloc(r->n_alerts + 1, sizeof *recs);
            if (!recs)
                continue;
            for (size_t k = 0; k < r->n_alerts; k++)
                fill_record(&recs[k], r, r->alerts[k]);
            am_rule_info info = {grp->file,
                                 grp->name,
                                 interval_of(e, grp),
                                 r->name,
                                 r->expr_text,
                                 r->is_alert,
                                 r->for_ms,
                                 r->keep_firing_for_ms,
                                 r->labels->l,
                                 r->labels->n,
                                 r->annotations->l,
                                 r->annotations->n,
                                 HEALTH[r->health],
                                 r->last_error,
                                 ms_or_zero(r->last_eval),
                                 r->eval_seconds,
                                 recs,
                                 r->n_alerts};
            fn(ud, &info);
            am__free(recs);
        }
    }
    pthread_mutex_unlock(&e->lock);
}
