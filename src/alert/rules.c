/*
** rules.c: evaluating a rule group (Prometheus' Group.Eval).
**
** DESIGN
** Rules run in file order at one timestamp. Each rule's query is an
** instant query at that time; a scalar result counts as one sample with
** no labels, anything else that is not a vector is the rule's error
** ("rule result is not a vector or scalar"). A recording rule renames its
** samples and sets its labels; an alerting rule turns them into alerts
** (alerts.c) and returns its ALERTS / ALERTS_FOR_STATE samples. Either
** way the samples are written to the window before the next rule runs,
** so later rules of the group see them, and through the rule's own
** source: a series the rule wrote last time and not now gets a staleness
** marker, as Prometheus' seriesInPreviousEval does. A rule whose
** evaluation fails writes nothing and keeps its previous series.
**
** Health and last error are kept per rule, as /api/v1/rules shows them.
**
** THREADING: the evaluating thread only; the window's locks are taken by
** the query (read) and the writes (write), one after the other.
*/
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../util/alloc.h"
#include "../util/error.h"
#include "rules.h"

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void rule_error(am_rule *r, const char *msg)
{
    r->health = 2;
    size_t n = strlen(msg);
    if (n >= sizeof r->last_error)
        n = sizeof r->last_error - 1;
    memcpy(r->last_error, msg, n);
    r->last_error[n] = '\0';
}

/* The rule's query as Prometheus' EngineQueryFunc returns it: a vector. */
static am_err query(am_rule_ctx *c, am_rule *r, int64_t ts, am_promql_result **res, am_vector *out,
                    char *err, size_t cap)
{
    am_err rc = am_promql_eval(c->db, r->expr, ts, c->qopts, res, err, cap);
    if (rc)
        return rc;
    const am_value *v = am__promql_result_value(*res);
    memset(out, 0, sizeof *out);
    if (v->type == AM_PQL_VECTOR) {
        *out = v->vec;
        return AM_OK;
    }
    if (v->type == AM_PQL_SCALAR) {
        static __thread am_sample one;
        one.l = &am__labels_empty;
        one.v = v->scalar;
        one.t = ts;
        out->s = &one;
        out->n = 1;
        return AM_OK;
    }
    snprintf(err, cap, "rule result is not a vector or scalar");
    return AM_EINVAL;
}

static am_err record(am_rule *r, const am_vector *res, am_arena *a, am_vector *out, char *err,
                     size_t cap)
{
    am_lbuild b;
    am__lb_init(&b, a, NULL);
    am_lmap seen;
    am__lmap_init(&seen, a, res->n);
    out->s = am__arena_alloc(a, (res->n ? res->n : 1) * sizeof *out->s);
    out->n = 0;
    if (!out->s || !seen.cap) {
        snprintf(err, cap, "out of memory");
        return AM_ENOMEM;
    }
    for (size_t i = 0; i < res->n; i++) {
        am__lb_reset(&b, res->s[i].l);
        am__lb_set(&b, "__name__", r->name);
        for (uint32_t k = 0; k < r->labels->n; k++)
            am__lb_set(&b, r->labels->l[k].name, r->labels->l[k].value);
        const am_lset *l = am__lb_labels(&b);
        bool found;
        if (!l || !am__lmap_put(&seen, l, &found)) {
            snprintf(err, cap, "out of memory");
            return AM_ENOMEM;
        }
        if (found) {
            snprintf(err, cap,
                     "vector contains metrics with the same labelset after applying rule labels");
            return AM_EINVAL;
        }
        out->s[out->n].l = l;
        out->s[out->n].v = res->s[i].v;
        out->s[out->n].t = 0;
        out->n++;
    }
    int limit = r->group->limit;
    if (limit > 0 && out->n > (size_t)limit) {
        snprintf(err, cap, "exceeded limit of %d with %zu series", limit, out->n);
        return AM_EINVAL;
    }
    return AM_OK;
}

/* Write the rule's samples at ts through its source (stale markers for
   what it wrote last time and not now). */
static void write_samples(am_rule *r, am_rule_ctx *c, const am_vector *out, int64_t ts)
{
    if (!r->src) {
        if (am_tsdb_src_new(c->db, true, &r->src)) {
            rule_error(r, "out of memory");
            return;
        }
        r->src_db = c->db;
    }
    am_label pairs[64];
    am_tsdb_begin(c->db, r->src);
    for (size_t i = 0; i < out->n; i++) {
        const am_lset *l = out->s[i].l;
        am_label *p = l->n <= 64 ? pairs : am__malloc(l->n * sizeof *p);
        if (!p) {
            rule_error(r, "out of memory");
            continue;
        }
        memcpy(p, l->l, l->n * sizeof *p);
        am_err rc = am_tsdb_append(c->db, r->src, p, l->n, ts, out->s[i].v);
        if (p != pairs)
            am__free(p);
        if (rc)
            rule_error(r, am_errmsg());
    }
    am_tsdb_commit(c->db, r->src, ts);
}

void am__group_eval(am_rgroup *g, am_rule_ctx *c, int64_t ts)
{
    double g0 = now_seconds();
    for (size_t i = 0; i < g->n; i++) {
        am_rule *r = g->rules[i];
        double t0 = now_seconds();
        char err[512] = "";
        am_promql_result *res = NULL;
        am_vector vec, out;
        am_arena a;
        am__arena_init(&a, NULL);
        r->last_eval = ts;
        if (r->is_alert && c->restore_all)
            r->is_restored = true;
        am_err rc = query(c, r, ts, &res, &vec, err, sizeof err);
        if (!rc) {
            memset(&out, 0, sizeof out);
            if (r->is_alert)
                rc = am__alert_rule_eval(r, c, &vec, ts, &a, &out, err, sizeof err);
            else
                rc = record(r, &vec, &a, &out, err, sizeof err);
        }
        if (rc) {
            rule_error(r, err);
        } else {
            r->health = 1;
            r->last_error[0] = '\0';
            if (r->is_alert)
                am__alert_rule_send(r, c, ts);
            write_samples(r, c, &out, ts);
        }
        am_promql_result_free(res);
        am__arena_free(&a);
        r->eval_seconds = now_seconds() - t0;
    }
    g->last_eval = ts;
    g->n_evals++;
    g->eval_seconds = now_seconds() - g0;
}
