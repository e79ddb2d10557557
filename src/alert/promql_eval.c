/*
** promql_eval.c: evaluating a PromQL tree at an instant, and the result
** API of alert.h (am_promql_eval, am_promql_eval_range, JSON).
**
** DESIGN
** Evaluation is a recursive walk returning values (scalar, string,
** instant vector, range vector) that live in one arena per query, freed
** at once with the result. Runtime errors -- the ones Prometheus'
** evaluator raises (duplicate label sets, matching errors, too many
** samples) -- and running out of memory longjmp to am_promql_eval, so no
** code below checks allocations. The window's read lock is held for the
** whole evaluation.
**
** Semantics are Prometheus 2.42's (the release Debian ships, which the
** differential test runs against): an instant selector takes the latest
** sample in [t - lookback, t] unless it is a staleness marker; a range
** selector takes the samples in [t - range, t] (both ends inclusive, as
** 2.x does), staleness markers dropped; offset moves t back, @ fixes it.
** Every operator except a vector selector writes the evaluation time as
** the sample time (timestamp() of a bare selector reads the sample's).
**
** The sample budget counts every sample a selector loads; past
** max_samples the query stops with AM_ELIMIT.
**
** A range query evaluates the expression at each step, as an instant
** query would, and joins the steps into series by label set.
*/
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/alloc.h"
#include "../util/error.h"
#include "../util/fmt.h"
#include "../util/render.h"
#include "promql.h"
#include "promql_fmt.h"

struct am_promql_result {
    am_arena arena;
    am_value v;
    int64_t t;
};

void am__ev_fail(am_evaluator *ev, am_err code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ev->errbuf, ev->errcap, fmt, ap);
    va_end(ap);
    ev->err = code;
    longjmp(*ev->fail, 1);
}

void am__vec_push(am_evaluator *ev, am_vector *v, const am_lset *l, double val, int64_t t)
{
    if (v->n == v->cap)
        v->s = am__arena_grow(ev->a, v->s, &v->cap, v->n + 1, sizeof *v->s);
    v->s[v->n].l = l;
    v->s[v->n].v = val;
    v->s[v->n].t = t;
    v->n++;
}

const am_lset *am__drop_name(am_evaluator *ev, const am_lset *l)
{
    if (!am__labels_get(l, "__name__"))
        return l;
    am_lbuild b;
    am__lb_init(&b, ev->a, l);
    am__lb_del(&b, "__name__");
    return am__lb_labels(&b);
}

void am__vec_check_unique(am_evaluator *ev, const am_vector *v)
{
    if (v->n < 2)
        return;
    if (v->n == 2) {
        if (am__labels_equal(v->s[0].l, v->s[1].l))
            goto dup;
        return;
    }
    am_lmap m;
    am__lmap_init(&m, ev->a, v->n);
    for (size_t i = 0; i < v->n; i++) {
        bool found;
        am__lmap_put(&m, v->s[i].l, &found);
        if (found)
            goto dup;
    }
    return;
dup:
    am__ev_fail(ev, AM_EINVAL, "vector cannot contain metrics with the same labelset");
}

static void count_samples(am_evaluator *ev, size_t n)
{
    ev->n_samples += n;
    if (ev->max_samples && ev->n_samples > ev->max_samples)
        am__ev_fail(ev, AM_ELIMIT,
                    "query processing would load too many samples into memory in query "
                    "execution");
}

static int64_t ref_time(const am_evaluator *ev, const am_pql_vsel *vs)
{
    int64_t t = ev->ts;
    if (vs->at == AT_TIME)
        t = vs->at_ms;
    else if (vs->at == AT_START)
        t = ev->start_ms;
    else if (vs->at == AT_END)
        t = ev->end_ms;
    return t - vs->offset_ms;
}

static void eval_vsel(am_evaluator *ev, const am_pql_vsel *vs, am_vector *out)
{
    am_tseries **series;
    size_t n = am__tsdb_select(ev->db, vs->m, vs->n_m, ev->a, &series);
    int64_t ref = ref_time(ev, vs);
    for (size_t i = 0; i < n; i++) {
        int64_t t;
        double v;
        if (am__series_at(series[i], ref, ev->lookback_ms, &t, &v))
            am__vec_push(ev, out, series[i]->labels, v, t);
    }
    count_samples(ev, out->n);
}

static void eval_msel(am_evaluator *ev, const am_pql_node *n, am_matrix *out)
{
    const am_pql_vsel *vs = &n->u.ms.vs->u.vs;
    am_tseries **series;
    size_t k = am__tsdb_select(ev->db, vs->m, vs->n_m, ev->a, &series);
    int64_t maxt = ref_time(ev, vs), mint = maxt - n->u.ms.range_ms;
    out->s = am__arena_alloc(ev->a, (k ? k : 1) * sizeof *out->s);
    out->n = 0;
    for (size_t i = 0; i < k; i++) {
        am_point *pts = NULL;
        size_t np = 0, cap = 0;
        am__series_range(ev->db, series[i], mint, maxt, ev->a, &pts, &np, &cap);
        if (!np)
            continue;
        count_samples(ev, np);
        out->s[out->n].l = series[i]->labels;
        out->s[out->n].p = pts;
        out->s[out->n].n = np;
        out->n++;
    }
}

am_value am__ev_eval(am_evaluator *ev, const am_pql_node *n)
{
    am_value v;
    memset(&v, 0, sizeof v);
    v.type = n->type;
    switch (n->kind) {
    case N_NUMBER:
        v.scalar = n->u.num;
        break;
    case N_STRING:
        v.str = n->u.str.s;
        break;
    case N_PAREN:
        return am__ev_eval(ev, n->u.paren.expr);
    case N_VSEL:
        eval_vsel(ev, &n->u.vs, &v.vec);
        break;
    case N_MSEL:
        eval_msel(ev, n, &v.mat);
        break;
    case N_UNARY: {
        am_value e = am__ev_eval(ev, n->u.un.expr);
        if (n->u.un.op == T_ADD)
            return e;
        if (e.type == AM_PQL_SCALAR) {
            v.scalar = -e.scalar;
            break;
        }
        for (size_t i = 0; i < e.vec.n; i++)
            am__vec_push(ev, &v.vec, am__drop_name(ev, e.vec.s[i].l), -e.vec.s[i].v, ev->ts);
        am__vec_check_unique(ev, &v.vec);
        break;
    }
    case N_BINARY:
        am__eval_binary(ev, n, &v);
        if (v.type == AM_PQL_VECTOR)
            am__vec_check_unique(ev, &v.vec);
        break;
    case N_AGG:
        am__eval_aggregate(ev, n, &v.vec);
        break;
    case N_CALL: {
        am_value args[8];
        size_t na = n->u.call.n;
        am_value *a = na <= 8 ? args : am__arena_alloc(ev->a, na * sizeof *a);
        for (size_t i = 0; i < na; i++)
            a[i] = am__ev_eval(ev, n->u.call.args[i]);
        n->u.call.f->fn(ev, n, a, &v.vec);
        if (v.type == AM_PQL_SCALAR) {
            v.scalar = v.vec.n ? v.vec.s[0].v : NAN;
            v.vec.n = 0;
        } else {
            am__vec_check_unique(ev, &v.vec);
        }
        break;
    }
    }
    return v;
}

/* ------------------------------------------------------------ API */

const am_value *am__promql_result_value(const am_promql_result *r)
{
    return &r->v;
}

void am_promql_result_free(am_promql_result *r)
{
    if (!r)
        return;
    am__arena_free(&r->arena);
    am__free(r);
}

static am_err run(am_tsdb *db, const am_promql *q, int64_t t, int64_t start, int64_t end,
                  const am_promql_opts *o, am_promql_result *r, am_evaluator *ev, char *err,
                  size_t cap)
{
    jmp_buf jb;
    memset(ev, 0, sizeof *ev);
    ev->a = &r->arena;
    ev->db = db;
    ev->ts = t;
    ev->start_ms = start;
    ev->end_ms = end;
    ev->lookback_ms = o->lookback_ms > 0 ? o->lookback_ms : 5 * 60 * 1000;
    ev->max_samples = o->max_samples;
    ev->fail = &jb;
    ev->errbuf = err;
    ev->errcap = cap;
    r->arena.oom = &jb;
    am__tsdb_rdlock(db);
    if (setjmp(jb)) {
        am__tsdb_unlock(db);
        if (!ev->err) {
            ev->err = AM_ENOMEM;
            snprintf(err, cap, "out of memory evaluating the query");
        }
        r->arena.oom = NULL;
        return am__err(ev->err, "%s", err);
    }
    r->v = am__ev_eval(ev, q->root);
    am__tsdb_unlock(db);
    r->t = t;
    r->arena.oom = NULL;
    return AM_OK;
}

static am_err new_result(am_promql_result **out, char *err, size_t cap)
{
    *out = am__calloc(1, sizeof **out);
    if (!*out) {
        snprintf(err, cap, "out of memory");
        return am__err(AM_ENOMEM, "out of memory");
    }
    am__arena_init(&(*out)->arena, NULL);
    return AM_OK;
}

/* Defaults for a caller's missing options or error buffer. */
#define SETTLE_ARGS()                                                                              \
    char dummy_[8];                                                                                \
    am_promql_opts def_ = AM_PROMQL_OPTS_INIT;                                                     \
    if (!err || !cap) {                                                                            \
        err = dummy_;                                                                              \
        cap = sizeof dummy_;                                                                       \
    }                                                                                              \
    err[0] = '\0';                                                                                 \
    if (!o)                                                                                        \
    o = &def_

am_err am_promql_eval(am_tsdb *db, const am_promql *q, int64_t t_ms, const am_promql_opts *o,
                      am_promql_result **out, char *err, size_t cap)
{
    SETTLE_ARGS();
    am_promql_result *r;
    am_err rc = new_result(&r, err, cap);
    if (rc)
        return rc;
    am_evaluator ev;
    rc = run(db, q, t_ms, t_ms, t_ms, o, r, &ev, err, cap);
    if (rc) {
        am_promql_result_free(r);
        return rc;
    }
    *out = r;
    return AM_OK;
}

typedef struct rseries {
    const am_lset *l;
    am_point *p;
    size_t n, cap;
} rseries;

static int rseries_cmp(const void *a, const void *b)
{
    return am__labels_cmp(((const am_mseries *)a)->l, ((const am_mseries *)b)->l);
}

/* The steps of a range query, joined by label set into r's matrix. Any
   allocation failure longjmps out of here to range_run. */
static am_err range_steps(am_tsdb *db, const am_promql *q, int64_t start_ms, int64_t end_ms,
                          int64_t step_ms, const am_promql_opts *o, am_promql_result *r, char *err,
                          size_t cap)
{
    am_lmap idx;
    rseries *rs = NULL;
    size_t n_rs = 0, cap_rs = 0;
    uint64_t total = 0;
    am__lmap_init(&idx, &r->arena, 64);
    for (int64_t t = start_ms; t <= end_ms; t += step_ms) {
        am_promql_result *step;
        am_evaluator ev;
        am_err rc = new_result(&step, err, cap);
        if (rc)
            return rc;
        rc = run(db, q, t, start_ms, end_ms, o, step, &ev, err, cap);
        if (rc) {
            am_promql_result_free(step);
            return rc;
        }
        am_vector one;
        am_sample s1;
        const am_vector *vec = &step->v.vec;
        if (step->v.type == AM_PQL_SCALAR) {
            s1.l = &am__labels_empty;
            s1.v = step->v.scalar;
            s1.t = t;
            one.s = &s1;
            one.n = 1;
            vec = &one;
        }
        for (size_t i = 0; i < vec->n; i++) {
            void *at = am__lmap_get(&idx, vec->s[i].l);
            rseries *x;
            if (!at) {
                rs = am__arena_grow(&r->arena, rs, &cap_rs, n_rs + 1, sizeof *rs);
                x = &rs[n_rs];
                memset(x, 0, sizeof *x);
                /* the key must outlive the step's arena: the copy is the key */
                x->l = am__labels_copy(&r->arena, vec->s[i].l);
                bool found;
                *am__lmap_put(&idx, x->l, &found) = (void *)(uintptr_t)(n_rs + 1);
                n_rs++;
            } else {
                x = &rs[(uintptr_t)at - 1];
            }
            x->p = am__arena_grow(&r->arena, x->p, &x->cap, x->n + 1, sizeof *x->p);
            x->p[x->n].t = t;
            x->p[x->n].v = vec->s[i].v;
            x->n++;
            total++;
        }
        am_promql_result_free(step);
        if (o->max_samples && total > o->max_samples) {
            snprintf(err, cap,
                     "query processing would load too many samples into memory in "
                     "query execution");
            return AM_ELIMIT;
        }
    }
    r->v.type = AM_PQL_MATRIX;
    r->v.mat.s = am__arena_alloc(&r->arena, (n_rs ? n_rs : 1) * sizeof *r->v.mat.s);
    for (size_t i = 0; i < n_rs; i++) {
        r->v.mat.s[i].l = rs[i].l;
        r->v.mat.s[i].p = rs[i].p;
        r->v.mat.s[i].n = rs[i].n;
    }
    r->v.mat.n = n_rs;
    qsort(r->v.mat.s, n_rs, sizeof *r->v.mat.s, rseries_cmp);
    return AM_OK;
}

static am_err range_run(am_tsdb *db, const am_promql *q, int64_t start_ms, int64_t end_ms,
                        int64_t step_ms, const am_promql_opts *o, am_promql_result *r, char *err,
                        size_t cap)
{
    jmp_buf jb;
    r->arena.oom = &jb;
    if (setjmp(jb)) {
        r->arena.oom = NULL;
        snprintf(err, cap, "out of memory");
        return AM_ENOMEM;
    }
    am_err rc = range_steps(db, q, start_ms, end_ms, step_ms, o, r, err, cap);
    r->arena.oom = NULL;
    return rc;
}

am_err am_promql_eval_range(am_tsdb *db, const am_promql *q, int64_t start_ms, int64_t end_ms,
                            int64_t step_ms, const am_promql_opts *o, am_promql_result **out,
                            char *err, size_t cap)
{
    SETTLE_ARGS();
    if (step_ms <= 0 || end_ms < start_ms) {
        snprintf(err, cap,
                 "zero or negative query resolution step widths are not accepted, or "
                 "end before start");
        return am__err(AM_EINVAL, "%s", err);
    }
    if ((end_ms - start_ms) / step_ms > 11000) {
        snprintf(err, cap,
                 "exceeded maximum resolution of 11,000 points per timeseries. Try "
                 "decreasing the query resolution (?step=XX)");
        return am__err(AM_EINVAL, "%s", err);
    }
    if (q->root->type != AM_PQL_SCALAR && q->root->type != AM_PQL_VECTOR) {
        snprintf(err, cap,
                 "invalid expression type \"%s\" for range query, must be Scalar or instant "
                 "Vector",
                 am__pql_type_name(q->root->type));
        return am__err(AM_EINVAL, "%s", err);
    }
    am_promql_result *r;
    am_err rc = new_result(&r, err, cap);
    if (rc)
        return rc;
    rc = range_run(db, q, start_ms, end_ms, step_ms, o, r, err, cap);
    if (rc) {
        am_promql_result_free(r);
        return am__err(rc, "%s", err);
    }
    *out = r;
    return AM_OK;
}

/* ------------------------------------------------------------ JSON */

static void json_time(am_buf *b, int64_t t)
{
    if (t < 0) {
        am_buf_putc(b, '-');
        t = -t;
    }
    am__buf_int(b, t / 1000);
    int64_t frac = t % 1000;
    if (frac) {
        char f[5] = {'.', (char)('0' + frac / 100), (char)('0' + frac / 10 % 10),
                     (char)('0' + frac % 10), 0};
        am_buf_append(b, f, 4);
    }
}

static void json_value(am_buf *b, double v)
{
    char tmp[AM_GOFMT_MAX];
    am_buf_putc(b, '"');
    am_buf_append(b, tmp, am__fmt_go_f(tmp, v));
    am_buf_putc(b, '"');
}

static void json_metric(am_buf *b, const am_lset *l)
{
    am_buf_puts(b, "{\"metric\":");
    am__labels_json(b, l);
    am_buf_putc(b, ',');
}

void am_promql_result_json(const am_promql_result *r, struct am_buf *b)
{
    const am_value *v = &r->v;
    switch (v->type) {
    case AM_PQL_SCALAR:
    case AM_PQL_STRING:
        am_buf_puts(b, v->type == AM_PQL_SCALAR ? "{\"resultType\":\"scalar\",\"result\":["
                                                : "{\"resultType\":\"string\",\"result\":[");
        json_time(b, r->t);
        am_buf_putc(b, ',');
        if (v->type == AM_PQL_SCALAR)
            json_value(b, v->scalar);
        else
            am__buf_json_string(b, v->str, strlen(v->str));
        am_buf_puts(b, "]}");
        break;
    case AM_PQL_VECTOR:
        am_buf_puts(b, "{\"resultType\":\"vector\",\"result\":[");
        for (size_t i = 0; i < v->vec.n; i++) {
            if (i)
                am_buf_putc(b, ',');
            json_metric(b, v->vec.s[i].l);
            am_buf_puts(b, "\"value\":[");
            json_time(b, r->t);
            am_buf_putc(b, ',');
            json_value(b, v->vec.s[i].v);
            am_buf_puts(b, "]}");
        }
        am_buf_puts(b, "]}");
        break;
    case AM_PQL_MATRIX:
        am_buf_puts(b, "{\"resultType\":\"matrix\",\"result\":[");
        for (size_t i = 0; i < v->mat.n; i++) {
            if (i)
                am_buf_putc(b, ',');
            json_metric(b, v->mat.s[i].l);
            am_buf_puts(b, "\"values\":[");
            for (size_t k = 0; k < v->mat.s[i].n; k++) {
                if (k)
                    am_buf_putc(b, ',');
                am_buf_putc(b, '[');
                json_time(b, v->mat.s[i].p[k].t);
                am_buf_putc(b, ',');
                json_value(b, v->mat.s[i].p[k].v);
                am_buf_putc(b, ']');
            }
            am_buf_puts(b, "]}");
        }
        am_buf_puts(b, "]}");
        break;
    default:
        am_buf_puts(b, "{\"resultType\":\"none\",\"result\":null}");
    }
}
