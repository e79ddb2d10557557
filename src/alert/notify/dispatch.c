/*
** dispatch.c: the notifier's dispatcher (see notify.h) -- Alertmanager's
** dispatch, inhibit and silence packages in one place.
**
** DESIGN
** Alerts. The dispatcher keeps every alert it was given by fingerprint
** (Alertmanager's provider): a newer copy of an alert replaces the older
** one, keeping its start while it has not resolved. An alert with no end
** resolves resolve_timeout after it was last given (global.resolve_
** timeout); the engine always gives an end (the time until which a
** firing alert is valid without a resend, or when it resolved), as
** Prometheus gives Alertmanager one.
**
** Routes and groups. A new or updated alert goes down the route tree
** (Route.Match: depth first, children in order, stopping after the first
** child that matched unless it has continue; a node no child matched is
** the match), and joins, for each route it matched, the aggregation group
** of that route and its group_by labels (every label for '...'). The
** group key is Alertmanager's ("<route key>:<labels>"), which the webhook
** payload carries and PagerDuty's dedup_key hashes. A group flushes
** group_wait after it was made (at once when an alert older than
** group_wait joins before its first flush), then every group_interval.
**
** A flush. The group's alerts, less those silenced (an active silence's
** matchers all match) or inhibited (an inhibit rule's target matchers
** match, and a firing alert matching its source matchers has the same
** values of its `equal` labels -- an alert matching both sides never
** inhibits one that also does, as in Alertmanager), are copied into a job
** for the route's receiver (receiver.c decides, with the notification
** log, whether anything needs sending). Resolved alerts then leave the
** group; an alert in no group that has resolved is forgotten; an empty
** group ends.
**
** Reloads rebuild the receivers and the groups from the alerts held, so
** a new route tree takes every alert at once; the notification log keeps
** what was sent from being sent again.
**
** THREADING: one mutex over alerts, groups and silences; one thread runs
** the flushes (it sleeps until the next one is due, or a change); the
** receivers' threads are theirs. Nothing here waits for a network.
*/
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agentmon/timer.h"
#include "../../util/alloc.h"
#include "../../util/error.h"
#include "../../util/random.h"
#include "../../util/pack.h"
#include "../../util/hash.h"
#include "../promql_fmt.h"
#include "notify_int.h"

/* ---- metrics ------------------------------------------------------------------- */

enum { M_SENT, M_LATENCY, N_M };

static const double LATENCY_BUCKETS[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                         0.5,   1,    2.5,   5,    10,  30};

static const am_metric_def DEFS[N_M] = {
    [M_SENT] = {"alerting", AM_TYPE_COUNTER, "agentmon_notifications_total", NULL,
                "Notifications sent to a receiver, by result: success, failure (an attempt that "
                "failed; it may be retried), dropped (given up: not retryable, past its "
                "deadline, or its queue was full).",
                NULL, AM_DEF_LABELS("receiver", "result"), NULL, 0, NULL, "agentmon"},
    [M_LATENCY] = {"alerting", AM_TYPE_HISTOGRAM, "agentmon_notification_latency_seconds", NULL,
                   "How long one attempt to notify a receiver took (request and answer).",
                   "seconds", AM_DEF_LABELS("receiver"), LATENCY_BUCKETS,
                   sizeof LATENCY_BUCKETS / sizeof LATENCY_BUCKETS[0], NULL, "agentmon"},
};
const am_def_table am__table_notify = {DEFS, N_M};

/* ---- state ----------------------------------------------------------------------- */

typedef struct aentry {
    am_nalert *a;
    unsigned refs; /* groups holding it */
    bool is_event; /* from an event or the API: its history is written here */
    int reported;  /* 0 none, 1 firing, 2 resolved (events' history) */
} aentry;

typedef struct agroup {
    const am_route *route;
    size_t rcv; /* index of its receiver */
    char *key;
    am_lset *labels;
    uint64_t *fps;
    size_t n, cap;
    int64_t next_flush;
    bool has_flushed;
} agroup;

typedef struct mlog {
    char *key, *text;
    int64_t t;
} mlog;

struct am_notify {
    am_notify_opts o;
    char *external_url;
    am__pack *pack;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool has_thread, is_stopping;
    am_notify_config *cfg;
    am_rcv **rcvs; /* one per cfg->receivers */
    am_amclient *amc;
    am__map al; /* aentry by fingerprint (hash-keyed: the fingerprint is the hash) */
    agroup **groups;
    size_t n_groups, cap_groups;
    am_silence **sil;
    size_t n_sil, cap_sil;
    pthread_mutex_t log_mu; /* the memory notification log */
    mlog *logs;
    size_t n_logs, cap_logs;
    double next_warn;
};

static int64_t now_ms(void)
{
    return (int64_t)(am_unix_time() * 1000);
}

/* ---- alerts ------------------------------------------------------------------------- */

void am__nalert_free(am_nalert *a)
{
    if (!a)
        return;
    am__labels_free(a->labels);
    am__labels_free(a->annotations);
    am__free(a->generator_url);
    am__free(a);
}

am_nalert *am__nalert_copy(const am_nalert *a)
{
    am_nalert *c = am__calloc(1, sizeof *c);
    if (!c)
        return NULL;
    *c = *a;
    c->labels = am__labels_copy(NULL, a->labels);
    c->annotations = am__labels_raw(NULL, a->annotations->l, a->annotations->n);
    c->generator_url = am__strdup(a->generator_url ? a->generator_url : "");
    if (!c->labels || !c->annotations || !c->generator_url) {
        am__nalert_free(c);
        return NULL;
    }
    return c;
}

static aentry *al_find(am_notify *n, uint64_t fp)
{
    return am__map_find_h(&n->al, fp);
}

/* Remove the alert of fp. */
static void al_remove(am_notify *n, uint64_t fp)
{
    aentry *e = am__map_del_h(&n->al, fp);
    if (!e)
        return;
    am__nalert_free(e->a);
    am__free(e);
}

/* ---- routes and groups ------------------------------------------------------------- */

static void match_routes(const am_route *r, const am_lset *l, const am_route **out, size_t *n,
                         size_t max)
{
    if (!am__amatchers_ok(r->m, r->n_m, l))
        return;
    size_t before = *n;
    for (size_t i = 0; i < r->n_routes; i++) {
        size_t k = *n;
        match_routes(r->routes[i], l, out, n, max);
        if (*n > k && !r->routes[i]->is_continue)
            break;
    }
    if (*n == before && *n < max)
        out[(*n)++] = r;
}

static size_t receiver_index(const am_notify_config *c, const char *name)
{
    for (size_t i = 0; i < c->n_receivers; i++)
        if (strcmp(c->receivers[i].name, name) == 0)
            return i;
    return 0;
}

/* model.LabelSet.String(): {a="b", c="d"} */
static void lset_string(am_buf *b, const am_lset *l)
{
    am_buf_putc(b, '{');
    for (uint32_t i = 0; i < l->n; i++) {
        if (i)
            am_buf_puts(b, ", ");
        am_buf_printf(b, "%s=", l->l[i].name);
        am__go_quote(b, l->l[i].value, strlen(l->l[i].value));
    }
    am_buf_putc(b, '}');
}

static void group_free(agroup *g)
{
    am__free(g->key);
    am__labels_free(g->labels);
    am__free(g->fps);
    am__free(g);
}

/* The group of route r for alert a (made when missing); NULL on ENOMEM. */
static agroup *group_for(am_notify *n, const am_route *r, const am_nalert *a, int64_t now)
{
    am_label *p = am__calloc(a->labels->n + 1, sizeof *p);
    if (!p)
        return NULL;
    size_t k = 0;
    for (uint32_t i = 0; i < a->labels->n; i++) {
        bool take = r->group_by_all;
        for (size_t j = 0; j < r->n_group_by && !take; j++)
            take = strcmp(r->group_by[j], a->labels->l[i].name) == 0;
        if (take && *a->labels->l[i].value)
            p[k++] = a->labels->l[i];
    }
    am_lset *gl = am__labels_new(NULL, p, k);
    am__free(p);
    if (!gl)
        return NULL;
    am_buf key;
    am_buf_init(&key, 0);
    am_buf_printf(&key, "%s:", r->key);
    lset_string(&key, gl);
    if (am_buf_err(&key)) {
        am_buf_free(&key);
        am__labels_free(gl);
        return NULL;
    }
    for (size_t i = 0; i < n->n_groups; i++)
        if (n->groups[i]->route == r && strcmp(n->groups[i]->key, key.p) == 0) {
            am_buf_free(&key);
            am__labels_free(gl);
            return n->groups[i];
        }
    agroup *g = am__calloc(1, sizeof *g);
    agroup **v = g ? am__grow(n->groups, &n->cap_groups, n->n_groups + 1, sizeof *v, 8) : NULL;
    if (!v) {
        am__free(g);
        am_buf_free(&key);
        am__labels_free(gl);
        return NULL;
    }
    n->groups = v;
    g->route = r;
    g->rcv = receiver_index(n->cfg, r->receiver);
    g->key = am_buf_take(&key, NULL);
    g->labels = gl;
    g->next_flush = now + r->group_wait_ms;
    n->groups[n->n_groups++] = g;
    return g;
}

static void group_add(am_notify *n, agroup *g, aentry *e, int64_t now)
{
    for (size_t i = 0; i < g->n; i++)
        if (g->fps[i] == e->a->fp)
            return;
    uint64_t *v = am__grow(g->fps, &g->cap, g->n + 1, sizeof *v, 8);
    if (!v)
        return;
    g->fps = v;
    g->fps[g->n++] = e->a->fp;
    e->refs++;
    /* an old alert in a group that has not flushed: at once */
    if (!g->has_flushed && e->a->starts_at_ms + g->route->group_wait_ms < now)
        g->next_flush = now;
    (void)n;
}

static void route_alert(am_notify *n, aentry *e, int64_t now)
{
    if (!n->cfg || !n->cfg->root)
        return;
    const am_route *rs[64];
    size_t k = 0;
    match_routes(n->cfg->root, e->a->labels, rs, &k, 64);
    for (size_t i = 0; i < k; i++) {
        agroup *g = group_for(n, rs[i], e->a, now);
        if (g)
            group_add(n, g, e, now);
    }
}

/* ---- silences and inhibition ------------------------------------------------------- */

const char *am__silence_state(const am_silence *s, int64_t now_ms)
{
    if (now_ms < s->starts_at_ms)
        return "pending";
    return now_ms < s->ends_at_ms ? "active" : "expired";
}

static bool silenced(am_notify *n, const am_nalert *a, int64_t now)
{
    for (size_t i = 0; i < n->n_sil; i++) {
        const am_silence *s = n->sil[i];
        if (now >= s->starts_at_ms && now < s->ends_at_ms &&
            am__amatchers_ok(s->m, s->n_m, a->labels))
            return true;
    }
    return false;
}

static bool inhibited(am_notify *n, const am_nalert *t, int64_t now)
{
    if (!n->cfg)
        return false;
    for (size_t r = 0; r < n->cfg->n_inhibit; r++) {
        const am_inhibit *ih = &n->cfg->inhibit[r];
        if (!am__amatchers_ok(ih->tgt, ih->n_tgt, t->labels))
            continue;
        bool two_sided = am__amatchers_ok(ih->src, ih->n_src, t->labels);
        size_t it = 0;
        for (am__map_slot *sl; (sl = am__map_next(&n->al, &it));) {
            const am_nalert *s = ((aentry *)sl->val)->a;
            if (s->fp == t->fp || am__nalert_resolved(s, now) ||
                !am__amatchers_ok(ih->src, ih->n_src, s->labels))
                continue;
            if (two_sided && am__amatchers_ok(ih->tgt, ih->n_tgt, s->labels))
                continue;
            bool eq = true;
            for (size_t k = 0; k < ih->n_equal && eq; k++)
                eq = strcmp(am__labels_val(s->labels, ih->equal[k]),
                            am__labels_val(t->labels, ih->equal[k])) == 0;
            if (eq)
                return true;
        }
    }
    return false;
}

/* ---- flushing ----------------------------------------------------------------------- */

static void resolve_by_timeout(am_notify *n, am_nalert *a, int64_t now)
{
    int64_t rt = n->cfg ? n->cfg->resolve_timeout_ms : 5 * 60000;
    if (!a->has_end && a->updated_ms + rt <= now)
        a->ends_at_ms = a->updated_ms + rt;
}

static void report_event(am_notify *n, aentry *e, int64_t now)
{
    if (!e->is_event || !n->o.store.event_state)
        return;
    int want = am__nalert_resolved(e->a, now) ? 2 : 1;
    if (e->reported == want)
        return;
    if (want == 2 && !e->reported) { /* resolved before anyone saw it fire */
        e->reported = 2;
        return;
    }
    e->reported = want;
    n->o.store.event_state(n->o.store.ud, e->a, want == 2 ? "resolved" : "firing",
                           want == 2 ? e->a->ends_at_ms : e->a->starts_at_ms);
}

static void flush(am_notify *n, agroup *g, int64_t now)
{
    g->has_flushed = true;
    am_njob *j = am__calloc(1, sizeof *j);
    if (j)
        j->alerts = am__calloc(g->n + 1, sizeof *j->alerts);
    for (size_t i = 0; j && j->alerts && i < g->n; i++) {
        aentry *e = al_find(n, g->fps[i]);
        if (!e)
            continue;
        resolve_by_timeout(n, e->a, now);
        report_event(n, e, now);
        bool firing = !am__nalert_resolved(e->a, now);
        /* a resolved alert is never muted: its resolution is news */
        if (firing && (silenced(n, e->a, now) || inhibited(n, e->a, now)))
            continue;
        am_nalert *c = am__nalert_copy(e->a);
        if (c)
            j->alerts[j->n_alerts++] = c;
    }
    if (j && j->n_alerts && n->rcvs && g->rcv < n->cfg->n_receivers) {
        j->group_key = am__strdup(g->key);
        j->group_labels = am__labels_copy(NULL, g->labels);
        j->now_ms = now;
        j->repeat_interval_ms = g->route->repeat_interval_ms;
        int64_t timeout = g->route->group_interval_ms < 10000 ? 10000 : g->route->group_interval_ms;
        j->deadline_ms = now + timeout;
        if (j->group_key && j->group_labels) {
            am__rcv_put(n->rcvs[g->rcv], j);
            j = NULL;
        }
    }
    am__njob_free(j);
    /* resolved alerts leave the group; forgotten when in no group */
    for (size_t i = 0; i < g->n;) {
        aentry *e = al_find(n, g->fps[i]);
        if (e && !am__nalert_resolved(e->a, now)) {
            i++;
            continue;
        }
        if (e && --e->refs == 0)
            al_remove(n, g->fps[i]);
        g->fps[i] = g->fps[--g->n];
    }
}

static void *dispatch_main(void *arg)
{
    am_notify *n = arg;
    pthread_mutex_lock(&n->mu);
    while (!n->is_stopping) {
        int64_t now = now_ms(), next = now + 1000;
        for (size_t i = 0; i < n->n_groups;) {
            agroup *g = n->groups[i];
            if (g->next_flush <= now) {
                flush(n, g, now);
                g->next_flush = now + g->route->group_interval_ms;
            }
            if (!g->n) { /* nothing left in it */
                group_free(g);
                n->groups[i] = n->groups[--n->n_groups];
                continue;
            }
            if (g->next_flush < next)
                next = g->next_flush;
            i++;
        }
        /* alerts in no group (no route, or no receivers): forget the
           resolved ones */
        size_t it = 0;
        for (am__map_slot *sl; (sl = am__map_next(&n->al, &it));) {
            aentry *e = sl->val;
            if (e->refs)
                continue;
            resolve_by_timeout(n, e->a, now);
            report_event(n, e, now);
            if (am__nalert_resolved(e->a, now)) {
                al_remove(n, e->a->fp);
                it--; /* the shift may have moved another into its slot */
            }
        }
        int64_t d = next - now_ms();
        if (d <= 0)
            continue;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += d / 1000;
        ts.tv_nsec += (long)(d % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&n->cv, &n->mu, &ts);
    }
    pthread_mutex_unlock(&n->mu);
    return NULL;
}

/* ---- alerts in ---------------------------------------------------------------------- */

static am_nalert *make_alert(const am_nalert_in *in, int64_t now)
{
    am_nalert *a = am__calloc(1, sizeof *a);
    am_label *p = a ? am__calloc(in->n_labels + 1, sizeof *p) : NULL;
    if (!p) {
        am__free(a);
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < in->n_labels; i++)
        if (in->labels[i].value && *in->labels[i].value)
            p[k++] = in->labels[i];
    a->labels = am__labels_new(NULL, p, k);
    am__free(p);
    a->annotations = am__labels_raw(NULL, in->annotations, in->n_annotations);
    a->generator_url = am__strdup(in->generator_url ? in->generator_url : "");
    if (!a->labels || !a->annotations || !a->generator_url) {
        am__nalert_free(a);
        return NULL;
    }
    a->fp = am_alert_fingerprint(a->labels->l, a->labels->n);
    a->starts_at_ms = in->starts_at_ms ? in->starts_at_ms : now;
    a->ends_at_ms = in->ends_at_ms;
    a->has_end = in->ends_at_ms != 0;
    a->updated_ms = now;
    return a;
}

void am_notify_put(am_notify *n, const am_nalert_in *alerts, size_t count, bool is_event)
{
    int64_t now = now_ms();
    am_nalert **made = am__calloc(count + 1, sizeof *made);
    if (!made)
        return;
    for (size_t i = 0; i < count; i++)
        made[i] = make_alert(&alerts[i], now);
    if (n->amc)
        am__amclient_put(n->amc, made, count);
    pthread_mutex_lock(&n->mu);
    for (size_t i = 0; i < count; i++) {
        am_nalert *a = made[i];
        if (!a)
            continue;
        aentry *e = al_find(n, a->fp);
        if (e) {
            /* the same alert again: keep its start while it has not resolved */
            if (!am__nalert_resolved(e->a, now) && e->a->starts_at_ms < a->starts_at_ms)
                a->starts_at_ms = e->a->starts_at_ms;
            am__nalert_free(e->a);
            e->a = a;
            e->is_event |= is_event;
        } else if ((e = am__calloc(1, sizeof *e)) && !am__map_put_h(&n->al, a->fp, e)) {
            *e = (aentry){a, 0, is_event, 0};
        } else {
            am__free(e);
            am__nalert_free(a);
            continue;
        }
        report_event(n, e, now);
        route_alert(n, e, now);
    }
    pthread_cond_signal(&n->cv);
    pthread_mutex_unlock(&n->mu);
    am__free(made);
}

void am_notify_engine_fn(void *ud, const am_alert_out *alerts, size_t count)
{
    am_nalert_in *in = am__calloc(count + 1, sizeof *in);
    if (!in)
        return;
    for (size_t i = 0; i < count; i++)
        in[i] =
            (am_nalert_in){alerts[i].labels,        alerts[i].n_labels,     alerts[i].annotations,
                           alerts[i].n_annotations, alerts[i].starts_at_ms, alerts[i].ends_at_ms,
                           alerts[i].generator_url};
    am_notify_put(ud, in, count, false);
    am__free(in);
}

/* ---- configuration ------------------------------------------------------------------- */

static void stop_receivers(am_notify *n)
{
    for (size_t i = 0; n->rcvs && n->cfg && i < n->cfg->n_receivers; i++)
        am__rcv_stop(n->rcvs[i]);
    am__free(n->rcvs);
    n->rcvs = NULL;
    am__amclient_stop(n->amc);
    n->amc = NULL;
}

static am_err start_receivers(am_notify *n, am_notify_config *cfg)
{
    size_t q = n->o.queue_max ? n->o.queue_max : 1024;
    am_rcv **rs = am__calloc(cfg->n_receivers + 1, sizeof *rs);
    if (!rs)
        return am__err(AM_ENOMEM, "out of memory");
    am_err rc = AM_OK;
    for (size_t i = 0; i < cfg->n_receivers && !rc; i++)
        rc = am__rcv_start(n, &cfg->receivers[i], q, &rs[i]);
    if (!rc && cfg->n_ams)
        rc = am__amclient_start(n, cfg->ams, cfg->n_ams, 10000, &n->amc);
    if (rc) {
        for (size_t i = 0; i < cfg->n_receivers; i++)
            am__rcv_stop(rs[i]);
        am__free(rs);
        return rc;
    }
    n->rcvs = rs;
    return AM_OK;
}

am_err am_notify_set_config(am_notify *n, am_notify_config *cfg)
{
    /* the receivers stop outside the dispatcher's lock: their threads
       never take it, and may be waiting between retries */
    pthread_mutex_lock(&n->mu);
    am_rcv **old_rcvs = n->rcvs;
    am_amclient *old_amc = n->amc;
    am_notify_config *old = n->cfg;
    n->rcvs = NULL;
    n->amc = NULL;
    for (size_t i = 0; i < n->n_groups; i++)
        group_free(n->groups[i]);
    n->n_groups = 0;
    size_t it = 0;
    for (am__map_slot *sl; (sl = am__map_next(&n->al, &it));)
        ((aentry *)sl->val)->refs = 0;
    n->cfg = NULL;
    pthread_mutex_unlock(&n->mu);
    for (size_t i = 0; old_rcvs && old && i < old->n_receivers; i++)
        am__rcv_stop(old_rcvs[i]);
    am__free(old_rcvs);
    am__amclient_stop(old_amc);
    am__notify_config_free(old);

    am_err rc = cfg ? start_receivers(n, cfg) : AM_OK;
    pthread_mutex_lock(&n->mu);
    if (!rc) {
        n->cfg = cfg;
        int64_t now = now_ms();
        it = 0;
        for (am__map_slot *sl; (sl = am__map_next(&n->al, &it));)
            route_alert(n, sl->val, now);
    } else {
        am__notify_config_free(cfg);
    }
    pthread_cond_signal(&n->cv);
    pthread_mutex_unlock(&n->mu);
    return rc;
}

static void load_silence(void *ctx, const am_silence *s)
{
    am_notify *n = ctx;
    char id[40];
    am_silence c = *s;
    (void)am_notify_silence_put(n, &c, id);
}

am_err am_notify_new(const am_notify_opts *o, am_notify_config *cfg, am_notify **out)
{
    am_notify *n = am__calloc(1, sizeof *n);
    if (!n) {
        am__notify_config_free(cfg);
        return am__err(AM_ENOMEM, "out of memory");
    }
    n->o = *o;
    n->external_url = am__strdup(o->external_url ? o->external_url : "");
    pthread_mutex_init(&n->mu, NULL);
    pthread_mutex_init(&n->log_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&n->cv, &ca);
    pthread_condattr_destroy(&ca);
    am_err rc = n->external_url ? AM_OK : am__err(AM_ENOMEM, "out of memory");
    if (!rc && o->registry && am__pack_new(o->registry, DEFS, N_M, &n->pack))
        rc = am__err(AM_ENOMEM, "cannot register the notification metrics");
    if (!rc && o->store.silences_load)
        o->store.silences_load(o->store.ud, load_silence, n);
    if (!rc && cfg) {
        rc = start_receivers(n, cfg);
        if (!rc)
            n->cfg = cfg;
        cfg = NULL;
    }
    am__notify_config_free(cfg);
    if (!rc) {
        if (pthread_create(&n->thread, NULL, dispatch_main, n) != 0)
            rc = am__err(AM_ENOMEM, "cannot start the notifier's thread");
        else
            n->has_thread = true;
    }
    if (rc) {
        am_notify_free(n);
        return rc;
    }
    *out = n;
    return AM_OK;
}

void am_notify_free(am_notify *n)
{
    if (!n)
        return;
    pthread_mutex_lock(&n->mu);
    n->is_stopping = true;
    pthread_cond_signal(&n->cv);
    pthread_mutex_unlock(&n->mu);
    if (n->has_thread)
        pthread_join(n->thread, NULL);
    stop_receivers(n);
    am__notify_config_free(n->cfg);
    for (size_t i = 0; i < n->n_groups; i++)
        group_free(n->groups[i]);
    am__free(n->groups);
    size_t it = 0;
    for (am__map_slot *sl; (sl = am__map_next(&n->al, &it));) {
        am__nalert_free(((aentry *)sl->val)->a);
        am__free(sl->val);
    }
    am__map_free(&n->al);
    for (size_t i = 0; i < n->n_sil; i++) {
        am__amatchers_free(n->sil[i]->m, n->sil[i]->n_m);
        am__free(n->sil[i]->created_by);
        am__free(n->sil[i]->comment);
        am__free(n->sil[i]);
    }
    am__free(n->sil);
    for (size_t i = 0; i < n->n_logs; i++) {
        am__free(n->logs[i].key);
        am__free(n->logs[i].text);
    }
    am__free(n->logs);
    am__pack_free(n->pack);
    am__free(n->external_url);
    pthread_mutex_destroy(&n->mu);
    pthread_mutex_destroy(&n->log_mu);
    pthread_cond_destroy(&n->cv);
    am__free(n);
}

/* ---- silences ------------------------------------------------------------------------- */

static am_silence *sil_find(am_notify *n, const char *id)
{
    for (size_t i = 0; i < n->n_sil; i++)
        if (strcmp(n->sil[i]->id, id) == 0)
            return n->sil[i];
    return NULL;
}

am_err am_notify_silence_put(am_notify *n, am_silence *s, char id[40])
{
    if (s->ends_at_ms <= s->starts_at_ms && s->updated_ms == 0)
        return am__err(AM_EINVAL, "the silence ends before it starts");
    if (!s->n_m)
        return am__err(AM_EINVAL, "a silence needs at least one matcher");
    int64_t now = now_ms();
    pthread_mutex_lock(&n->mu);
    am_silence *old = s->id[0] ? sil_find(n, s->id) : NULL;
    bool is_load = s->updated_ms != 0; /* from the store: as it was */
    if (s->id[0] && !old && !is_load) {
        pthread_mutex_unlock(&n->mu);
        return am__err(AM_ENOTFOUND, "silence %s not found", s->id);
    }
    am_silence *c = am__calloc(1, sizeof *c);
    am_amatcher *m = c ? am__calloc(s->n_m + 1, sizeof *m) : NULL;
    if (!m) {
        am__free(c);
        pthread_mutex_unlock(&n->mu);
        return am__err(AM_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < s->n_m; i++) {
        char err[200];
        if (am__amatcher_make(s->m[i].name, s->m[i].value, s->m[i].op, &m[i], err, sizeof err)) {
            am__amatchers_free(m, i);
            am__free(c);
            pthread_mutex_unlock(&n->mu);
            return am__err(AM_EINVAL, "%s", err);
        }
    }
    *c = *s;
    c->m = m;
    c->created_by = am__strdup(s->created_by ? s->created_by : "");
    c->comment = am__strdup(s->comment ? s->comment : "");
    if (!is_load)
        c->updated_ms = now;
    /* an expired silence is never changed: its update is a new silence */
    if (old && strcmp(am__silence_state(old, now), "expired") == 0)
        old = NULL, c->id[0] = '\0';
    if (!c->id[0])
        am__uuid4(c->id); /* a UUID v4, as Alertmanager's ids */
    if (old) {
        for (size_t i = 0; i < n->n_sil; i++)
            if (n->sil[i] == old)
                n->sil[i] = c;
        am__amatchers_free(old->m, old->n_m);
        am__free(old->created_by);
        am__free(old->comment);
        am__free(old);
    } else {
        am_silence **v = am__grow(n->sil, &n->cap_sil, n->n_sil + 1, sizeof *v, 8);
        if (!v) {
            am__amatchers_free(c->m, c->n_m);
            am__free(c->created_by);
            am__free(c->comment);
            am__free(c);
            pthread_mutex_unlock(&n->mu);
            return am__err(AM_ENOMEM, "out of memory");
        }
        n->sil = v;
        n->sil[n->n_sil++] = c;
    }
    memcpy(id, c->id, 40);
    if (!is_load && n->o.store.silence_put)
        n->o.store.silence_put(n->o.store.ud, c);
    pthread_mutex_unlock(&n->mu);
    return AM_OK;
}

am_err am_notify_silence_expire(am_notify *n, const char *id)
{
    int64_t now = now_ms();
    pthread_mutex_lock(&n->mu);
    am_silence *s = sil_find(n, id);
    am_err rc = AM_OK;
    if (!s) {
        rc = am__err(AM_ENOTFOUND, "silence %s not found", id);
    } else if (strcmp(am__silence_state(s, now), "expired") == 0) {
        rc = am__err(AM_EINVAL, "silence %s already expired", id);
    } else {
        if (s->starts_at_ms > now)
            s->starts_at_ms = now;
        s->ends_at_ms = now;
        s->updated_ms = now;
        if (n->o.store.silence_put)
            n->o.store.silence_put(n->o.store.ud, s);
    }
    pthread_mutex_unlock(&n->mu);
    return rc;
}

am_err am_notify_silences(am_notify *n, const char *id, void (*fn)(void *ud, const am_silence *s),
                          void *ud)
{
    pthread_mutex_lock(&n->mu);
    bool found = false;
    for (size_t i = n->n_sil; i-- > 0;)
        if (!id || strcmp(n->sil[i]->id, id) == 0) {
            fn(ud, n->sil[i]);
            found = true;
        }
    pthread_mutex_unlock(&n->mu);
    return id && !found ? am__err(AM_ENOTFOUND, "silence %s not found", id) : AM_OK;
}

void am_notify_alerts(am_notify *n,
                      void (*fn)(void *ud, const am_nalert *a, bool silenced, bool inhibited),
                      void *ud)
{
    int64_t now = now_ms();
    pthread_mutex_lock(&n->mu);
    size_t it = 0;
    for (am__map_slot *sl; (sl = am__map_next(&n->al, &it));) {
        am_nalert *a = ((aentry *)sl->val)->a;
        resolve_by_timeout(n, a, now);
        fn(ud, a, silenced(n, a, now), inhibited(n, a, now));
    }
    pthread_mutex_unlock(&n->mu);
}

/* ---- the notification log, counting, logging -------------------------------------------- */

void am__nflog_key(const char *receiver, const am_integration *ig, const char *group_key,
                   char out[40])
{
    uint64_t h = AM_FNV1A64_INIT;
    char kind[32];
    snprintf(kind, sizeof kind, "%d/%d", ig->kind, ig->index);
    const char *parts[3] = {receiver, kind, group_key};
    for (int p = 0; p < 3; p++) {
        h = am__fnv1a64(h, parts[p], strlen(parts[p]));
        h = am__fnv1a64(h, "\xff", 1);
    }
    snprintf(out, 40, "%016llx", (unsigned long long)h);
}

int64_t am__nflog_get(am_notify *n, const char *key, char *out, size_t cap)
{
    out[0] = '\0';
    if (n->o.store.log_get)
        return n->o.store.log_get(n->o.store.ud, key, out, cap);
    int64_t t = 0;
    pthread_mutex_lock(&n->log_mu);
    for (size_t i = 0; i < n->n_logs; i++)
        if (strcmp(n->logs[i].key, key) == 0) {
            snprintf(out, cap, "%s", n->logs[i].text);
            t = n->logs[i].t;
        }
    pthread_mutex_unlock(&n->log_mu);
    return t;
}

void am__nflog_put(am_notify *n, const char *key, const char *text, int64_t t_ms)
{
    if (n->o.store.log_put) {
        n->o.store.log_put(n->o.store.ud, key, text, t_ms);
        return;
    }
    pthread_mutex_lock(&n->log_mu);
    mlog *e = NULL;
    for (size_t i = 0; i < n->n_logs && !e; i++)
        if (strcmp(n->logs[i].key, key) == 0)
            e = &n->logs[i];
    if (!e) {
        mlog *v = am__grow(n->logs, &n->cap_logs, n->n_logs + 1, sizeof *v, 16);
        char *k = v ? am__strdup(key) : NULL;
        if (v)
            n->logs = v;
        if (k) {
            e = &n->logs[n->n_logs++];
            e->key = k;
            e->text = NULL;
        }
    }
    char *t = e ? am__strdup(text) : NULL;
    if (t) {
        am__free(e->text);
        e->text = t;
        e->t = t_ms;
    }
    pthread_mutex_unlock(&n->log_mu);
}

void am__notify_count(am_notify *n, const char *receiver, const char *result, double seconds)
{
    if (!n->pack)
        return;
    am__pack_count(n->pack, M_SENT, AM_LABELS(receiver, result), 1);
    if (seconds >= 0)
        am__pack_observe_current(n->pack, M_LATENCY, AM_LABELS(receiver), seconds);
}

void am__notify_log(am_notify *n, const char *receiver, const char *kind, int index,
                    const char *why)
{
    AM_LOG_WARNING(n->o.logger, "agentmon-notify", "a notification failed",
                   AM_F_STR("receiver", receiver), AM_F_STR("integration", kind),
                   AM_F_INT("index", index), AM_F_STR("reason", why));
}

const char *am__notify_external_url(am_notify *n)
{
    return n->external_url;
}

int64_t am__notify_retry_max(am_notify *n)
{
    return n->o.retry_max_ms > 0 ? n->o.retry_max_ms : 60000;
}
