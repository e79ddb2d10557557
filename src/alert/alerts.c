/*
** alerts.c: the alert lifecycle of an alerting rule, as Prometheus'
** AlertingRule.Eval and sendAlerts run it.
**
** DESIGN
** Each sample of the rule's result becomes an alert identified by its
** labels: the sample's without __name__, the rule's labels (templates,
** expanded with the sample's labels and value), alertname. Annotations are
** expanded too; a template that fails at run time gives
** "<error expanding template: ...>", as in Prometheus.
**   new                   -> pending, active since now
**   pending, `for` passed -> firing, fired now
**   gone from the result  -> pending ones are dropped; firing ones become
**                            inactive (resolved now) unless keep_firing_for
**                            holds them; resolved ones are kept 15 minutes
**   back while resolved   -> a new pending alert
** Once the rule is "restored" (at once in promtool tests; after the second
** evaluation after start, as Prometheus does) every pending or firing alert
** writes ALERTS{alertstate} 1 and ALERTS_FOR_STATE = active since (unix
** seconds) at each evaluation.
**
** Sending: firing alerts are handed to the notifier when first fired,
** then every resend delay; a resolved alert when resolved and then every
** resend delay while it is kept. endsAt is the resolve time, or 4 x
** max(resend delay, group interval) ahead (valid until).
**
** THREADING: the evaluating thread only.
*/
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../util/alloc.h"
#include "../util/buf.h"
#include "rules.h"

#define RESOLVED_RETENTION_MS (15 * 60 * 1000)

const char *am_alert_state_name(am_alert_state s)
{
    switch (s) {
    case AM_ALERT_PENDING:
        return "pending";
    case AM_ALERT_FIRING:
        return "firing";
    default:
        return "inactive";
    }
}

static const char *expand(am_tmpl *t, const am_tmpl_data *d, am_arena *a)
{
    am_buf b;
    char err[600];
    am_buf_init(&b, 1u << 20);
    err[0] = '\0';
    am_err rc = am__tmpl_expand(t, d, &b, err, sizeof err);
    const char *s;
    if (rc) {
        am_buf_free(&b);
        am_buf_init(&b, 0);
        am_buf_printf(&b, "<error expanding template: %s>", err);
    }
    s = am__arena_strdup(a, b.p ? b.p : "");
    am_buf_free(&b);
    return s;
}

static am_alert *find_alert(am_rule *r, const am_lset *l, size_t *at)
{
    for (size_t i = 0; i < r->n_alerts; i++)
        if (am__labels_equal(r->alerts[i]->labels, l)) {
            *at = i;
            return r->alerts[i];
        }
    return NULL;
}

static void drop_alert(am_rule *r, size_t i)
{
    am__alert_free(r->alerts[i]);
    memmove(r->alerts + i, r->alerts + i + 1, (r->n_alerts - i - 1) * sizeof *r->alerts);
    r->n_alerts--;
}

typedef struct fresh {
    am_lset *labels;      /* arena */
    am_lset *annotations; /* arena; empty values kept */
    double value;
} fresh;

/* The result's samples as alerts-to-be (labels and annotations expanded).
   Allocation failures longjmp to the caller's handler through a->oom. */
static size_t build_fresh(am_rule *r, am_rule_ctx *c, const am_vector *res, int64_t ts, am_arena *a,
                          fresh **out)
{
    fresh *f = am__arena_alloc(a, (res->n ? res->n : 1) * sizeof *f);
    am_lbuild b;
    am__lb_init(&b, a, NULL);
    am_label *an = am__arena_alloc(a, (r->annotations->n + 1) * sizeof *an);
    for (size_t i = 0; i < res->n; i++) {
        am_tmpl_data d = {res->s[i].l, c->external_labels, c->external_url, res->s[i].v, ts, c->db,
                          c->qopts};
        am__lb_reset(&b, res->s[i].l);
        am__lb_del(&b, "__name__");
        for (uint32_t k = 0; k < r->labels->n; k++)
            am__lb_set(&b, r->labels->l[k].name, expand(r->label_tmpl[k], &d, a));
        am__lb_set(&b, "alertname", r->name);
        f[i].labels = am__lb_labels(&b);
        for (uint32_t k = 0; k < r->annotations->n; k++) {
            an[k].name = r->annotations->l[k].name;
            an[k].value = expand(r->ann_tmpl[k], &d, a);
        }
        f[i].annotations = am__labels_raw(a, an, r->annotations->n);
        f[i].value = res->s[i].v;
    }
    *out = f;
    return res->n;
}

static am_err fresh_alerts(am_rule *r, am_rule_ctx *c, const am_vector *res, int64_t ts,
                           am_arena *a, fresh **f)
{
    jmp_buf jb;
    a->oom = &jb;
    if (setjmp(jb)) {
        a->oom = NULL;
        return AM_ENOMEM;
    }
    build_fresh(r, c, res, ts, a, f);
    a->oom = NULL;
    return AM_OK;
}

/* Merge the result into the active alerts (heap). */
static am_err merge(am_rule *r, const fresh *f, size_t n, int64_t ts)
{
    for (size_t i = 0; i < n; i++) {
        size_t at = 0;
        am_alert *al = find_alert(r, f[i].labels, &at);
        am_lset *ann = am__labels_raw(NULL, f[i].annotations->l, f[i].annotations->n);
        if (!ann)
            return AM_ENOMEM;
        if (al && al->state != AM_ALERT_INACTIVE) {
            al->value = f[i].value;
            am__labels_free(al->annotations);
            al->annotations = ann;
            continue;
        }
        am_alert *nw = am__calloc(1, sizeof *nw);
        am_lset *l = am__labels_copy(NULL, f[i].labels);
        if (!nw || !l) {
            am__free(nw);
            am__labels_free(l);
            am__free(ann);
            return AM_ENOMEM;
        }
        nw->labels = l;
        nw->annotations = ann;
        nw->state = AM_ALERT_PENDING;
        nw->value = f[i].value;
        nw->active_at = ts;
        nw->fired_at = nw->resolved_at = nw->last_sent_at = nw->valid_until =
            nw->keep_firing_since = nw->restored_fired_at = AM_TIME_ZERO;
        if (al) { /* a resolved alert with the same labels: replaced */
            am__alert_free(al);
            r->alerts[at] = nw;
            continue;
        }
        size_t cap = r->cap_alerts;
        am_alert **v = am__grow(r->alerts, &cap, r->n_alerts + 1, sizeof *v, 4);
        if (!v) {
            am__alert_free(nw);
            return AM_ENOMEM;
        }
        r->alerts = v;
        r->cap_alerts = cap;
        r->alerts[r->n_alerts++] = nw;
    }
    return AM_OK;
}

static bool in_result(const fresh *f, size_t n, const am_alert *al)
{
    for (size_t k = 0; k < n; k++)
        if (am__labels_equal(f[k].labels, al->labels))
            return true;
    return false;
}

/* ALERTS / ALERTS_FOR_STATE: the rule's labels as written, overwritten by
   the alert's (so a label whose template expanded to "" keeps its text
   here, as in Prometheus). */
static const am_lset *series_labels(am_rule *r, am_alert *al, const char *name, const char *state,
                                    am_arena *a)
{
    am_lbuild b;
    am__lb_init(&b, a, r->labels);
    for (uint32_t i = 0; i < al->labels->n; i++)
        am__lb_set(&b, al->labels->l[i].name, al->labels->l[i].value);
    am__lb_set(&b, "__name__", name);
    am__lb_set(&b, "alertname", r->name);
    if (state)
        am__lb_set(&b, "alertstate", state);
    return am__lb_labels(&b);
}

static void push(am_arena *a, am_vector *out, size_t *cap, const am_lset *l, double v)
{
    out->s = am__arena_grow(a, out->s, cap, out->n + 1, sizeof *out->s);
    out->s[out->n].l = l;
    out->s[out->n].v = v;
    out->s[out->n].t = 0;
    out->n++;
}

/* The ALERTS and ALERTS_FOR_STATE samples of the live alerts. */
static am_err alert_series(am_rule *r, am_alert **live, size_t n, am_arena *a, am_vector *out)
{
    jmp_buf jb;
    size_t cap = 0;
    a->oom = &jb;
    if (setjmp(jb)) {
        a->oom = NULL;
        return AM_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        am_alert *al = live[i];
        push(a, out, &cap, series_labels(r, al, "ALERTS", am_alert_state_name(al->state), a), 1);
        int64_t sec = al->active_at >= 0 ? al->active_at / 1000 : -((-al->active_at + 999) / 1000);
        push(a, out, &cap, series_labels(r, al, "ALERTS_FOR_STATE", NULL, a), (double)sec);
    }
    a->oom = NULL;
    return AM_OK;
}

am_err am__alert_rule_eval(am_rule *r, am_rule_ctx *c, const am_vector *res, int64_t ts,
                           am_arena *a, am_vector *out, char *err, size_t cap)
{
    fresh *f = NULL;
    if (fresh_alerts(r, c, res, ts, a, &f)) {
        snprintf(err, cap, "out of memory");
        return AM_ENOMEM;
    }
    for (size_t i = 0; i < res->n; i++)
        for (size_t k = 0; k < i; k++)
            if (am__labels_equal(f[k].labels, f[i].labels)) {
                snprintf(err, cap,
                         "vector contains metrics with the same labelset after "
                         "applying alert labels");
                return AM_EINVAL;
            }
    if (merge(r, f, res->n, ts)) {
        snprintf(err, cap, "out of memory");
        return AM_ENOMEM;
    }
    am_alert **live = am__arena_alloc(a, (r->n_alerts + 1) * sizeof *live);
    if (!live) {
        snprintf(err, cap, "out of memory");
        return AM_ENOMEM;
    }
    size_t n_live = 0;
    for (size_t i = 0; i < r->n_alerts;) {
        am_alert *al = r->alerts[i];
        if (!in_result(f, res->n, al)) {
            bool keep_firing = false;
            if (al->state == AM_ALERT_FIRING && r->keep_firing_for_ms > 0) {
                if (al->keep_firing_since == AM_TIME_ZERO)
                    al->keep_firing_since = ts;
                if (ts - al->keep_firing_since < r->keep_firing_for_ms)
                    keep_firing = true;
            }
            bool drop =
                al->state == AM_ALERT_PENDING ||
                (al->resolved_at != AM_TIME_ZERO && ts - al->resolved_at > RESOLVED_RETENTION_MS);
            if (al->state != AM_ALERT_INACTIVE && !keep_firing) {
                al->state = AM_ALERT_INACTIVE;
                al->resolved_at = ts;
            }
            if (drop) {
                drop_alert(r, i);
                continue;
            }
            if (!keep_firing) {
                i++;
                continue;
            }
        } else {
            al->keep_firing_since = AM_TIME_ZERO;
        }
        if (al->state == AM_ALERT_PENDING && ts - al->active_at >= r->for_ms) {
            al->state = AM_ALERT_FIRING;
            al->fired_at = ts;
            if (al->restored_fired_at != AM_TIME_ZERO && al->restored_fired_at <= ts)
                al->fired_at = al->restored_fired_at; /* firing before the restart */
            al->restored_fired_at = AM_TIME_ZERO;
        }
        live[n_live++] = al;
        i++;
    }
    int limit = r->group->limit;
    if (limit > 0 && n_live > (size_t)limit) {
        for (size_t i = 0; i < r->n_alerts; i++)
            am__alert_free(r->alerts[i]);
        r->n_alerts = 0;
        snprintf(err, cap, "exceeded limit of %d with %zu alerts", limit, n_live);
        return AM_EINVAL;
    }
    if (r->is_restored && alert_series(r, live, n_live, a, out)) {
        snprintf(err, cap, "out of memory");
        return AM_ENOMEM;
    }
    return AM_OK;
}

static bool needs_sending(const am_alert *al, int64_t ts, int64_t resend)
{
    if (al->state == AM_ALERT_PENDING)
        return false;
    if (al->resolved_at != AM_TIME_ZERO && al->resolved_at > al->last_sent_at)
        return true;
    return al->last_sent_at == AM_TIME_ZERO || al->last_sent_at + resend < ts;
}

/* /graph?g0.expr=<url.QueryEscape(expr)>&g0.tab=1 */
static void table_link(am_buf *b, const char *base, const char *expr)
{
    am_buf_puts(b, base ? base : "");
    am_buf_puts(b, "/graph?g0.expr=");
    for (const unsigned char *c = (const unsigned char *)expr; *c; c++) {
        if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
            *c == '-' || *c == '_' || *c == '.' || *c == '~')
            am_buf_putc(b, (char)*c);
        else if (*c == ' ')
            am_buf_putc(b, '+');
        else
            am_buf_printf(b, "%%%02X", *c);
    }
    am_buf_puts(b, "&g0.tab=1");
}

void am__alert_rule_send(am_rule *r, am_rule_ctx *c, int64_t ts)
{
    int64_t interval = r->group->interval_ms ? r->group->interval_ms : c->default_interval_ms;
    int64_t delta = interval > c->resend_delay_ms ? interval : c->resend_delay_ms;
    am_alert_out *outs = NULL;
    size_t n = 0;
    am_buf url;
    am_buf_init(&url, 0);
    for (size_t i = 0; i < r->n_alerts; i++) {
        am_alert *al = r->alerts[i];
        if (!needs_sending(al, ts, c->resend_delay_ms))
            continue;
        al->last_sent_at = ts;
        al->valid_until = ts + 4 * delta;
        if (!c->notify)
            continue;
        if (!outs) {
            outs = am__calloc(r->n_alerts, sizeof *outs);
            table_link(&url, c->external_url, r->expr_text);
            if (!outs)
                continue;
        }
        am_alert_out *o = &outs[n++];
        o->labels = al->labels->l;
        o->n_labels = al->labels->n;
        o->annotations = al->annotations->l;
        o->n_annotations = al->annotations->n;
        o->starts_at_ms = al->fired_at;
        o->ends_at_ms = al->resolved_at != AM_TIME_ZERO ? al->resolved_at : al->valid_until;
        o->generator_url = url.p ? url.p : "";
        o->state = al->state;
        o->group = r->group->name;
        o->file = r->group->file;
    }
    if (n && c->notify)
        c->notify(c->notify_ud, outs, n);
    am__free(outs);
    am_buf_free(&url);
}

int64_t am__restore_active_at(int64_t active_at, int64_t down_at, int64_t now, int64_t hold,
                              int64_t grace)
{
    /* Prometheus works in whole seconds here: time.Unix(t/1000, 0) */
    int64_t down = down_at / 1000 * 1000, restored = active_at / 1000 * 1000;
    int64_t remaining = hold - (down - restored);
    if (remaining <= 0)
        return restored;
    if (remaining < grace)
        return now + grace - hold;
    return restored + (now - down);
}
