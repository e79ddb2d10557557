/*
** promql_func.c: PromQL functions, each as Prometheus 2.42 computes it
** (promql/functions.go, quantile.go), and the table the parser checks
** calls against.
**
** Functions over a range vector see one series at a time (the engine of
** Prometheus calls them per series too); their output drops __name__,
** except last_over_time. rate/increase/delta extrapolate as
** extrapolatedRate does in 2.42: counter resets add the value before the
** reset; the range is extended to its boundaries when the first/last
** sample is within 1.1 average intervals of them, else by half an
** interval; a counter is never extrapolated below zero. Sums and means
** over time use Kahan-Neumaier summation like Prometheus. math.Max/Min's
** NaN and infinity rules are Go's, not C's fmax/fmin.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../util/buf.h"
#include "../util/number.h"
#include "promql.h"
#include "promql_fmt.h"

#define V AM_PQL_VECTOR
#define S AM_PQL_SCALAR
#define M AM_PQL_MATRIX
#define STR AM_PQL_STRING

/* ------------------------------------------------------------ helpers */

static double go_max(double a, double b)
{
    if (isinf(a) && a > 0)
        return a;
    if (isinf(b) && b > 0)
        return b;
    if (isnan(a) || isnan(b))
        return NAN;
    if (a == 0 && b == 0)
        return signbit(a) ? b : a;
    return a > b ? a : b;
}

static double go_min(double a, double b)
{
    if (isinf(a) && a < 0)
        return a;
    if (isinf(b) && b < 0)
        return b;
    if (isnan(a) || isnan(b))
        return NAN;
    if (a == 0 && b == 0)
        return signbit(a) ? a : b;
    return a < b ? a : b;
}

static void kahan_inc(double inc, double *sum, double *c)
{
    double t = *sum + inc;
    if (fabs(*sum) >= fabs(inc))
        *c += (*sum - t) + inc;
    else
        *c += (inc - t) + *sum;
    *sum = t;
}

static const am_pql_node *unwrap(const am_pql_node *n)
{
    while (n->kind == N_PAREN)
        n = n->u.paren.expr;
    return n;
}

static const char *str_arg(const am_pql_node *call, size_t i)
{
    return unwrap(call->u.call.args[i])->u.str.s;
}

/* Apply f to every sample, name dropped. */
static void simple(am_evaluator *ev, am_value *args, am_vector *out, double (*f)(double))
{
    for (size_t i = 0; i < args[0].vec.n; i++)
        am__vec_push(ev, out, am__drop_name(ev, args[0].vec.s[i].l), f(args[0].vec.s[i].v), ev->ts);
}

#define SIMPLE(name, expr)                                                                         \
    static double name##_f(double v)                                                               \
    {                                                                                              \
        return (expr);                                                                             \
    }                                                                                              \
    static void fn_##name(am_evaluator *ev, const am_pql_node *c, am_value *a, am_vector *o)       \
    {                                                                                              \
        (void)c;                                                                                   \
        simple(ev, a, o, name##_f);                                                                \
    }

SIMPLE(abs, fabs(v))
SIMPLE(ceil, ceil(v))
SIMPLE(floor, floor(v))
SIMPLE(exp, exp(v))
SIMPLE(sqrt, sqrt(v))
SIMPLE(ln, log(v))
SIMPLE(log2, log2(v))
SIMPLE(log10, log10(v))
SIMPLE(sgn, v<0 ? -1.0 : v> 0 ? 1.0 : v)
SIMPLE(acos, acos(v))
SIMPLE(acosh, acosh(v))
SIMPLE(asin, asin(v))
SIMPLE(asinh, asinh(v))
SIMPLE(atan, atan(v))
SIMPLE(atanh, atanh(v))
SIMPLE(cos, cos(v))
SIMPLE(cosh, cosh(v))
SIMPLE(sin, sin(v))
SIMPLE(sinh, sinh(v))
SIMPLE(tan, tan(v))
SIMPLE(tanh, tanh(v))
SIMPLE(deg, v * 180 / M_PI)
SIMPLE(rad, v *M_PI / 180)

static void fn_pi(am_evaluator *ev, const am_pql_node *c, am_value *a, am_vector *o)
{
    (void)c;
    (void)a;
    am__vec_push(ev, o, &am__labels_empty, M_PI, ev->ts);
}

static void fn_round(am_evaluator *ev, const am_pql_node *c, am_value *a, am_vector *o)
{
    double to = c->u.call.n >= 2 ? a[1].scalar : 1;
    double inv = 1.0 / to;
    for (size_t i = 0; i < a[0].vec.n; i++)
        am__vec_push(ev, o, am__drop_name(ev, a[0].vec.s[i].l),
                     floor(a[0].vec.s[i].v * inv + 0.5) / inv, ev->ts);
}

static void fn_clamp(am_evaluator *ev, const am_pql_node *c, am_value *a, am_vector *o)
{
    (void)c;
    double lo = a[1].scalar, hi = a[2].scalar;
    if (hi < lo)
        return;
    for (size_t i = 0; i < a[0].vec.n; i++)
        am__vec_push(ev, o, am__drop_name(ev, a[0].vec.s[i].l),
                     go_max(lo, go_min(hi, a[0].vec.s[i].v)), ev->ts);
}

static void fn_clamp_max(am_evaluator *ev, const am_pql_node *c, am_value *a, am_vector *o)
{
    (void)c;
    for (size_t i = 0; i < a[0].vec.n; i++)
        am__vec_push(ev, o, am__drop_name(ev, a[0].vec.s[i].l),
                     go_min(a[1].scalar, a[0].vec.s[i].v), ev->ts);
}

static void fn_clamp_min(am_evaluator *ev, const am_pql_node *c, am_value *a, am_vector *o)
{
    (void)c;
    for (size_t i = 0; i < a[0].vec.n; i++)
        am__vec_push(ev, o, am__drop_name(ev, a[0].vec.s[i].l),
                     go_max(a[1].scalar, a[0].vec.s[i].v), ev->ts);
}

static void fn_time(am_evaluator *ev, const am_pql_node *c, am_value *a, am_vector *o)
{
    (void)c;
    (void)a;
    am__vec_push(ev, o, &am__labels_empty, (double)ev->ts / 1000, ev->ts);
}

static void fn_vector(am_evaluator *ev, const am_pql_node *c, am_value *a, am_vector *o)
{
    (void)c;
    am__vec_push(ev, o, &am__labels_empty, a[0].scalar, ev->ts);
}

static void fn_scalar(am_evaluator *ev, const am_pql_node *c, am_value *a, am_vector *o)
{
    (void)c;
    am__vec_push(ev, o, &am__labels_empty, a[0].vec.n == 1 ? a[0].vec.s[0].v : NAN, ev->ts);
}

static void fn_timestamp(am_evaluator *ev, const am_pql_node *c, am_value *a, am_vector *o)
{
    /* only a bare selector gives its samples' own times (engine.go) */
    bool own = c->u.call.args[0]->kind == N_VSEL;
    for (size_t i = 0; i < a[0].vec.n; i++)
        am__vec_push(ev, o, am__drop_name(ev, a[0].vec.s[i].l),
                     (double)(own ? a[0].vec.s[i].t : ev->ts) / 1000, ev->ts);
}

/* sort: ascending, NaN last; sort_desc: descending, NaN last (stable). */
static bool sort_before(const am_sample *x, const am_sample *y, bool desc)
{
    if (isnan(x->v))
        return false;
    if (isnan(y->v))
        return true;
    return desc ? x->v > y->v : x->v < y->v;
}

static void sort_vec(am_evaluator *ev, am_value *a, am_vector *o, bool desc)
{
    size_t n = a[0].vec.n;
    am_sample *s = am__arena_alloc(ev->a, (n ? n : 1) * sizeof *s);
    if (n)
        memcpy(s, a[0].vec.s, n * sizeof *s);
    /* merge sort: stable */
    am_sample *tmp = am__arena_alloc(ev->a, (n ? n : 1) * sizeof *tmp);
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                tmp[k++] = sort_before(&s[j], &s[i], desc) ? s[j++] : s[i++];
            while (i < mid)
                tmp[k++] = s[i++];
            while (j < hi)
                tmp[k++] = s[j++];
        }
        am_sample *t = s;
        s = tmp;
        tmp = t;
    }
    for (size_t i = 0; i < n; i++)
        am__vec_push(ev, o, s[i].l, s[i].v, ev->ts);
}

static void fn_sort(am_evaluator *ev, const am_pql_node *c, am_value *a, am_vector *o)
{
    (void)c;
    sort_vec(ev, a, o, false);
}

static void fn_sort_desc(am_evaluator *ev, const am_pql_node *c, am_value *a, am_vector *o)
{
    (void)c;
    sort_vec(ev, a, o, true);
}

static void fn_label_replace(am_evaluator *ev, const am_pql_node *c, am_value *a, am_vector *o)
{
    const char *dst = str_arg(c, 1), *repl = str_arg(c, 2), *src = str_arg(c, 3);
    if (c->u.call.re_err)
        am__ev_fail(ev, AM_EINVAL, "%s", c->u.call.re_err);
    if (!am__label_name_ok(dst))
        am__ev_fail(ev, AM_EINVAL, "invalid destination label name in label_replace(): %s", dst);
    am_lbuild b;
    am__lb_init(&b, ev->a, NULL);
    am_buf out;
    am_buf_init(&out, 0);
    for (size_t i = 0; i < a[0].vec.n; i++) {
        const am_lset *l = a[0].vec.s[i].l;
        const char *sv = am__labels_val(l, src);
        out.len = 0;
        if (out.p)
            out.p[0] = '\0';
        if (am__regex_expand(c->u.call.re, sv, strlen(sv), repl, &out)) {
            if (am_buf_err(&out)) {
                am_buf_free(&out);
                am__ev_fail(ev, AM_ENOMEM, "out of memory in label_replace()");
            }
            am__lb_reset(&b, l);
            am__lb_set(&b, dst, am__arena_strndup(ev->a, out.p ? out.p : "", out.len));
            l = am__lb_labels(&b);
        }
        am__vec_push(ev, o, l, a[0].vec.s[i].v, ev->ts);
    }
    am_buf_free(&out);
}

static void fn_label_join(am_evaluator *ev, const am_pql_node *c, am_value *a, am_vector *o)
{
    const char *dst = str_arg(c, 1), *sep = str_arg(c, 2);
    size_t n_src = c->u.call.n - 3;
    for (size_t k = 0; k < n_src; k++)
        if (!am__label_name_ok(str_arg(c, 3 + k)))
            am__ev_fail(ev, AM_EINVAL, "invalid source label name in label_join(): %s",
                        str_arg(c, 3 + k));
    if (!am__label_name_ok(dst))
        am__ev_fail(ev, AM_EINVAL, "invalid destination label name in label_join(): %s", dst);
    am_lbuild b;
    am__lb_init(&b, ev->a, NULL);
    for (size_t i = 0; i < a[0].vec.n; i++) {
        const am_lset *l = a[0].vec.s[i].l;
        size_t len = 0;
        for (size_t k = 0; k < n_src; k++)
            len += strlen(am__labels_val(l, str_arg(c, 3 + k))) + strlen(sep);
        char *j = am__arena_alloc(ev->a, len + 1), *w = j;
        for (size_t k = 0; k < n_src; k++) {
            if (k) {
                memcpy(w, sep, strlen(sep));
                w += strlen(sep);
            }
            const char *v = am__labels_val(l, str_arg(c, 3 + k));
            memcpy(w, v, strlen(v));
            w += strlen(v);
        }
        *w = '\0';
        am__lb_reset(&b, l);
        am__lb_set(&b, dst, j);
        am__vec_push(ev, o, am__lb_labels(&b), a[0].vec.s[i].v, ev->ts);
    }
}

/* createLabelsForAbsentFunction: the equality matchers, minus any name
   that also has another matcher. */
static const am_lset *absent_labels(am_evaluator *ev, const am_pql_node *arg)
{
    const am_pql_vsel *vs = NULL;
    if (arg->kind == N_VSEL)
        vs = &arg->u.vs;
    else if (arg->kind == N_MSEL)
        vs = &arg->u.ms.vs->u.vs;
    if (!vs)
        return &am__labels_empty;
    am_lbuild b;
    am__lb_init(&b, ev->a, NULL);
    const char **drop = am__arena_alloc(ev->a, (vs->n_m + 1) * sizeof *drop);
    size_t n_drop = 0;
    for (size_t i = 0; i < vs->n_m; i++) {
        const am_matcher *m = &vs->m[i];
        if (strcmp(m->name, "__name__") == 0)
            continue;
        bool has = false;
        for (size_t k = 0; k < b.n; k++)
            has |= strcmp(b.p[k].name, m->name) == 0;
        if (m->op == AM_MATCH_EQ && !has)
            am__lb_set(&b, m->name, m->value);
        else
            drop[n_drop++] = m->name;
    }
    for (size_t i = 0; i < n_drop; i++)
        am__lb_del(&b, drop[i]);
    return am__lb_labels(&b);
}

static void fn_absent(am_evaluator *ev, const am_pql_node *c, am_value *a, am_vector *o)
{
    if (a[0].vec.n == 0)
        am__vec_push(ev, o, absent_labels(ev, c->u.call.args[0]), 1, ev->ts);
}

static void fn_absent_over_time(am_evaluator *ev, const am_pql_node *c, am_value *a, am_vector *o)
{
    if (a[0].mat.n == 0)
        am__vec_push(ev, o, absent_labels(ev, c->u.call.args[0]), 1, ev->ts);
}

/* ------------------------------------------------------------ histograms */

typedef struct bucket {
    double upper;
    double count;
} bucket;

static int bucket_cmp(const void *x, const void *y)
{
    double a = ((const bucket *)x)->upper, b = ((const bucket *)y)->upper;
    return a < b ? -1 : a > b ? 1 : 0;
}

static double bucket_quantile(double q, bucket *b, size_t n)
{
    if (isnan(q))
        return NAN;
    if (q < 0)
        return -INFINITY;
    if (q > 1)
        return INFINITY;
    qsort(b, n, sizeof *b, bucket_cmp);
    if (!(isinf(b[n - 1].upper) && b[n - 1].upper > 0))
        return NAN;
    /* coalesce equal bounds */
    size_t k = 0;
    bucket last = b[0];
    for (size_t i = 1; i < n; i++) {
        if (b[i].upper == last.upper) {
            last.count += b[i].count;
        } else {
            b[k++] = last;
            last = b[i];
        }
    }
    b[k++] = last;
    n = k;
    /* ensureMonotonic */
    double max = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (b[i].count > max)
            max = b[i].count;
        else if (b[i].count < max)
            b[i].count = max;
    }
    if (n < 2)
        return NAN;
    double observations = b[n - 1].count;
    if (observations == 0)
        return NAN;
    double rank = q * observations;
    size_t lo = 0, hi = n - 1; /* sort.Search over [0, n-1) */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (b[mid].count >= rank)
            hi = mid;
        else
            lo = mid + 1;
    }
    size_t i = lo;
    if (i == n - 1)
        return b[n - 2].upper;
    if (i == 0 && b[0].upper <= 0)
        return b[0].upper;
    double start = 0, end = b[i].upper, count = b[i].count;
    if (i > 0) {
        start = b[i - 1].upper;
        count -= b[i - 1].count;
        rank -= b[i - 1].count;
    }
    return start + (end - start) * (rank / count);
}

typedef struct hgroup {
    const am_lset *out;
    bucket *b;
    size_t n, cap;
} hgroup;

static void fn_histogram_quantile(am_evaluator *ev, const am_pql_node *c, am_value *a, am_vector *o)
{
    (void)c;
    double q = a[0].scalar;
    const am_vector *in = &a[1].vec;
    am_lbuild b;
    am__lb_init(&b, ev->a, NULL);
    am_lmap groups;
    am__lmap_init(&groups, ev->a, in->n / 8 + 1);
    hgroup **order = NULL;
    size_t n_order = 0, cap_order = 0;
    for (size_t i = 0; i < in->n; i++) {
        const char *le = am__labels_get(in->s[i].l, "le");
        double upper;
        if (!le || !am__go_parse_float(le, strlen(le), &upper))
            continue;
        am__lb_reset(&b, in->s[i].l);
        am__lb_del(&b, "le");
        const am_lset *key = am__lb_labels(&b);
        bool found;
        void **slot = am__lmap_put(&groups, key, &found);
        hgroup *g = *slot;
        if (!found) {
            g = am__arena_zalloc(ev->a, sizeof *g);
            g->out = am__drop_name(ev, key);
            *slot = g;
            order = am__arena_grow(ev->a, order, &cap_order, n_order + 1, sizeof *order);
            order[n_order++] = g;
        }
        g->b = am__arena_grow(ev->a, g->b, &g->cap, g->n + 1, sizeof *g->b);
        g->b[g->n].upper = upper;
        g->b[g->n].count = in->s[i].v;
        g->n++;
    }
    for (size_t i = 0; i < n_order; i++)
        am__vec_push(ev, o, order[i]->out, bucket_quantile(q, order[i]->b, order[i]->n), ev->ts);
}

/* ------------------------------------------------------------ over time */

typedef double (*over_fn)(am_evaluator *ev, const am_pql_node *c, const am_mseries *s, am_value *a,
                          bool *ok);

static void over_time(am_evaluator *ev, const am_pql_node *c, am_value *a, size_t mat_arg,
                      over_fn f, bool keep_name, am_vector *o)
{
    const am_matrix *m = &a[mat_arg].mat;
    for (size_t i = 0; i < m->n; i++) {
        bool ok = true;
        double v = f(ev, c, &m->s[i], a, &ok);
        if (ok)
            am__vec_push(ev, o, keep_name ? m->s[i].l : am__drop_name(ev, m->s[i].l), v, ev->ts);
    }
}

static double avg_ot(am_evaluator *ev, const am_pql_node *c, const am_mseries *s, am_value *a,
                     bool *ok)
{
    (void)ev, (void)c, (void)a, (void)ok;
    double mean = 0, count = 0, comp = 0;
    for (size_t i = 0; i < s->n; i++) {
        double v = s->p[i].v;
        count++;
        if (isinf(mean)) {
            if (isinf(v) && (mean > 0) == (v > 0))
                continue;
            if (!isinf(v) && !isnan(v))
                continue;
        }
        kahan_inc(v / count - mean / count, &mean, &comp);
    }
    return isinf(mean) ? mean : mean + comp;
}

static double sum_ot(am_evaluator *ev, const am_pql_node *c, const am_mseries *s, am_value *a,
                     bool *ok)
{
    (void)ev, (void)c, (void)a, (void)ok;
    double sum = 0, comp = 0;
    for (size_t i = 0; i < s->n; i++)
        kahan_inc(s->p[i].v, &sum, &comp);
    return isinf(sum) ? sum : sum + comp;
}

static double count_ot(am_evaluator *ev, const am_pql_node *c, const am_mseries *s, am_value *a,
                       bool *ok)
{
    (void)ev, (void)c, (void)a, (void)ok;
    return (double)s->n;
}

static double max_ot(am_evaluator *ev, const am_pql_node *c, const am_mseries *s, am_value *a,
                     bool *ok)
{
    (void)ev, (void)c, (void)a, (void)ok;
    double m = s->p[0].v;
    for (size_t i = 0; i < s->n; i++)
        if (s->p[i].v > m || isnan(m))
            m = s->p[i].v;
    return m;
}

static double min_ot(am_evaluator *ev, const am_pql_node *c, const am_mseries *s, am_value *a,
                     bool *ok)
{
    (void)ev, (void)c, (void)a, (void)ok;
    double m = s->p[0].v;
    for (size_t i = 0; i < s->n; i++)
        if (s->p[i].v < m || isnan(m))
            m = s->p[i].v;
    return m;
}

static double last_ot(am_evaluator *ev, const am_pql_node *c, const am_mseries *s, am_value *a,
                      bool *ok)
{
    (void)ev, (void)c, (void)a, (void)ok;
    return s->p[s->n - 1].v;
}

static double present_ot(am_evaluator *ev, const am_pql_node *c, const am_mseries *s, am_value *a,
                         bool *ok)
{
    (void)ev, (void)c, (void)s, (void)a, (void)ok;
    return 1;
}

static double quantile_ot(am_evaluator *ev, const am_pql_node *c, const am_mseries *s, am_value *a,
                          bool *ok)
{
    (void)c, (void)ok;
    double *v = am__arena_alloc(ev->a, s->n * sizeof *v);
    for (size_t i = 0; i < s->n; i++)
        v[i] = s->p[i].v;
    return am__pql_quantile(a[0].scalar, v, s->n);
}

static double stdvar_of(const am_mseries *s)
{
    double count = 0, mean = 0, cmean = 0, aux = 0, caux = 0;
    for (size_t i = 0; i < s->n; i++) {
        double v = s->p[i].v;
        count++;
        double delta = v - (mean + cmean);
        kahan_inc(delta / count, &mean, &cmean);
        kahan_inc(delta * (v - (mean + cmean)), &aux, &caux);
    }
    return (aux + caux) / count;
}

static double stddev_ot(am_evaluator *ev, const am_pql_node *c, const am_mseries *s, am_value *a,
                        bool *ok)
{
    (void)ev, (void)c, (void)a, (void)ok;
    return sqrt(stdvar_of(s));
}

static double stdvar_ot(am_evaluator *ev, const am_pql_node *c, const am_mseries *s, am_value *a,
                        bool *ok)
{
    (void)ev, (void)c, (void)a, (void)ok;
    return stdvar_of(s);
}

static double changes_ot(am_evaluator *ev, const am_pql_node *c, const am_mseries *s, am_value *a,
                         bool *ok)
{
    (void)ev, (void)c, (void)a, (void)ok;
    double n = 0;
    for (size_t i = 1; i < s->n; i++) {
        double cur = s->p[i].v, prev = s->p[i - 1].v;
        if (cur != prev && !(isnan(cur) && isnan(prev)))
            n++;
    }
    return n;
}

static double resets_ot(am_evaluator *ev, const am_pql_node *c, const am_mseries *s, am_value *a,
                        bool *ok)
{
    (void)ev, (void)c, (void)a, (void)ok;
    double n = 0;
    for (size_t i = 1; i < s->n; i++)
        if (s->p[i].v < s->p[i - 1].v)
            n++;
    return n;
}

#define OVER(name, fn, keep)                                                                       \
    static void fn_##name(am_evaluator *ev, const am_pql_node *c, am_value *a, am_vector *o)       \
    {                                                                                              \
        over_time(ev, c, a, c->u.call.n - 1, fn, keep, o);                                         \
    }

OVER(avg_over_time, avg_ot, false)
OVER(sum_over_time, sum_ot, false)
OVER(count_over_time, count_ot, false)
OVER(max_over_time, max_ot, false)
OVER(min_over_time, min_ot, false)
OVER(last_over_time, last_ot, true)
OVER(present_over_time, present_ot, false)
OVER(quantile_over_time, quantile_ot, false)
OVER(stddev_over_time, stddev_ot, false)
OVER(stdvar_over_time, stdvar_ot, false)
OVER(changes, changes_ot, false)
OVER(resets, resets_ot, false)

/* ------------------------------------------------------------ rates */

static const am_pql_node *msel_of(const am_pql_node *c, size_t i)
{
    return unwrap(c->u.call.args[i]);
}

/* extrapolatedRate, Prometheus 2.42. */
static double extrapolated(am_evaluator *ev, const am_pql_node *c, const am_mseries *s,
                           bool is_counter, bool is_rate, bool *ok)
{
    const am_pql_node *ms = msel_of(c, 0);
    const am_pql_vsel *vs = &ms->u.ms.vs->u.vs;
    int64_t ref = ev->ts;
    if (vs->at == AT_TIME)
        ref = vs->at_ms;
    else if (vs->at == AT_START)
        ref = ev->start_ms;
    else if (vs->at == AT_END)
        ref = ev->end_ms;
    int64_t range_end = ref - vs->offset_ms, range_start = range_end - ms->u.ms.range_ms;
    if (s->n < 2) {
        *ok = false;
        return 0;
    }
    const am_point *p = s->p;
    size_t n = s->n;
    double result = p[n - 1].v - p[0].v;
    if (is_counter) {
        double prev = p[0].v;
        for (size_t i = 1; i < n; i++) {
            if (p[i].v < prev)
                result += prev;
            prev = p[i].v;
        }
    }
    double to_start = (double)(p[0].t - range_start) / 1000;
    double to_end = (double)(range_end - p[n - 1].t) / 1000;
    double sampled = (double)(p[n - 1].t - p[0].t) / 1000;
    double avg = sampled / (double)(n - 1);
    if (is_counter && result > 0 && p[0].v >= 0) {
        double to_zero = sampled * (p[0].v / result);
        if (to_zero < to_start)
            to_start = to_zero;
    }
    double threshold = avg * 1.1, interval = sampled;
    interval += to_start < threshold ? to_start : avg / 2;
    interval += to_end < threshold ? to_end : avg / 2;
    double factor = interval / sampled;
    if (is_rate)
        factor /= (double)ms->u.ms.range_ms / 1000;
    return result * factor;
}

static double rate_ot(am_evaluator *ev, const am_pql_node *c, const am_mseries *s, am_value *a,
                      bool *ok)
{
    (void)a;
    return extrapolated(ev, c, s, true, true, ok);
}

static double increase_ot(am_evaluator *ev, const am_pql_node *c, const am_mseries *s, am_value *a,
                          bool *ok)
{
    (void)a;
    return extrapolated(ev, c, s, true, false, ok);
}

static double delta_ot(am_evaluator *ev, const am_pql_node *c, const am_mseries *s, am_value *a,
                       bool *ok)
{
    (void)a;
    return extrapolated(ev, c, s, false, false, ok);
}

static double instant(const am_mseries *s, bool is_rate, bool *ok)
{
    if (s->n < 2) {
        *ok = false;
        return 0;
    }
    am_point last = s->p[s->n - 1], prev = s->p[s->n - 2];
    double v = is_rate && last.v < prev.v ? last.v : last.v - prev.v;
    int64_t dt = last.t - prev.t;
    if (dt == 0) {
        *ok = false;
        return 0;
    }
    if (is_rate)
        v /= (double)dt / 1000;
    return v;
}

static double irate_ot(am_evaluator *ev, const am_pql_node *c, const am_mseries *s, am_value *a,
                       bool *ok)
{
    (void)ev, (void)c, (void)a;
    return instant(s, true, ok);
}

static double idelta_ot(am_evaluator *ev, const am_pql_node *c, const am_mseries *s, am_value *a,
                        bool *ok)
{
    (void)ev, (void)c, (void)a;
    return instant(s, false, ok);
}

/* linearRegression, with Kahan sums, as 2.42. */
static void regression(const am_mseries *s, int64_t at, double *slope, double *intercept)
{
    double n = 0, sx = 0, cx = 0, sy = 0, cy = 0, sxy = 0, cxy = 0, sx2 = 0, cx2 = 0;
    double init = s->p[0].v;
    bool const_y = true;
    for (size_t i = 0; i < s->n; i++) {
        double v = s->p[i].v;
        if (const_y && i > 0 && v != init)
            const_y = false;
        n += 1;
        double x = (double)(s->p[i].t - at) / 1e3;
        kahan_inc(x, &sx, &cx);
        kahan_inc(v, &sy, &cy);
        kahan_inc(x * v, &sxy, &cxy);
        kahan_inc(x * x, &sx2, &cx2);
    }
    if (const_y) {
        if (isinf(init)) {
            *slope = NAN;
            *intercept = NAN;
            return;
        }
        *slope = 0;
        *intercept = init;
        return;
    }
    sx += cx;
    sy += cy;
    sxy += cxy;
    sx2 += cx2;
    double cov = sxy - sx * sy / n, var = sx2 - sx * sx / n;
    *slope = cov / var;
    *intercept = sy / n - *slope * sx / n;
}

static double deriv_ot(am_evaluator *ev, const am_pql_node *c, const am_mseries *s, am_value *a,
                       bool *ok)
{
    (void)ev, (void)c, (void)a;
    if (s->n < 2) {
        *ok = false;
        return 0;
    }
    double slope, icpt;
    regression(s, s->p[0].t, &slope, &icpt);
    return slope;
}

static double predict_ot(am_evaluator *ev, const am_pql_node *c, const am_mseries *s, am_value *a,
                         bool *ok)
{
    (void)c;
    if (s->n < 2) {
        *ok = false;
        return 0;
    }
    double slope, icpt;
    regression(s, ev->ts, &slope, &icpt);
    return slope * a[1].scalar + icpt;
}

static void fn_rate(am_evaluator *ev, const am_pql_node *c, am_value *a, am_vector *o)
{
    over_time(ev, c, a, 0, rate_ot, false, o);
}

static void fn_increase(am_evaluator *ev, const am_pql_node *c, am_value *a, am_vector *o)
{
    over_time(ev, c, a, 0, increase_ot, false, o);
}

static void fn_delta(am_evaluator *ev, const am_pql_node *c, am_value *a, am_vector *o)
{
    over_time(ev, c, a, 0, delta_ot, false, o);
}

static void fn_irate(am_evaluator *ev, const am_pql_node *c, am_value *a, am_vector *o)
{
    over_time(ev, c, a, 0, irate_ot, false, o);
}

static void fn_idelta(am_evaluator *ev, const am_pql_node *c, am_value *a, am_vector *o)
{
    over_time(ev, c, a, 0, idelta_ot, false, o);
}

static void fn_deriv(am_evaluator *ev, const am_pql_node *c, am_value *a, am_vector *o)
{
    over_time(ev, c, a, 0, deriv_ot, false, o);
}

static void fn_predict_linear(am_evaluator *ev, const am_pql_node *c, am_value *a, am_vector *o)
{
    over_time(ev, c, a, 0, predict_ot, false, o);
}

/* ------------------------------------------------------------ dates */

static void date_fn(am_evaluator *ev, const am_pql_node *c, am_value *a, am_vector *o,
                    double (*f)(const struct tm *tm))
{
    if (c->u.call.n == 0) {
        time_t t = (time_t)(ev->ts / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        am__vec_push(ev, o, &am__labels_empty, f(&tm), ev->ts);
        return;
    }
    for (size_t i = 0; i < a[0].vec.n; i++) {
        double v = a[0].vec.s[i].v;
        time_t t = (time_t)am__num_to_int64_go(v);
        struct tm tm;
        gmtime_r(&t, &tm);
        am__vec_push(ev, o, am__drop_name(ev, a[0].vec.s[i].l), f(&tm), ev->ts);
    }
}

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static double tm_days_in_month(const struct tm *tm)
{
    static const int D[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y = tm->tm_year + 1900;
    return tm->tm_mon == 1 && leap(y) ? 29 : D[tm->tm_mon];
}

static double tm_day_of_month(const struct tm *tm)
{
    return tm->tm_mday;
}

static double tm_day_of_week(const struct tm *tm)
{
    return tm->tm_wday;
}

static double tm_day_of_year(const struct tm *tm)
{
    return tm->tm_yday + 1;
}

static double tm_hour(const struct tm *tm)
{
    return tm->tm_hour;
}

static double tm_minute(const struct tm *tm)
{
    return tm->tm_min;
}

static double tm_month(const struct tm *tm)
{
    return tm->tm_mon + 1;
}

static double tm_year(const struct tm *tm)
{
    return tm->tm_year + 1900;
}

#define DATE(name)                                                                                 \
    static void fn_##name(am_evaluator *ev, const am_pql_node *c, am_value *a, am_vector *o)       \
    {                                                                                              \
        date_fn(ev, c, a, o, tm_##name);                                                           \
    }

DATE(days_in_month)
DATE(day_of_month)
DATE(day_of_week)
DATE(day_of_year)
DATE(hour)
DATE(minute)
DATE(month)
DATE(year)

/* ------------------------------------------------------------ table */

static const am_pql_func FUNCS[] = {
    {"abs", {V}, 1, 0, V, fn_abs},
    {"absent", {V}, 1, 0, V, fn_absent},
    {"absent_over_time", {M}, 1, 0, V, fn_absent_over_time},
    {"acos", {V}, 1, 0, V, fn_acos},
    {"acosh", {V}, 1, 0, V, fn_acosh},
    {"asin", {V}, 1, 0, V, fn_asin},
    {"asinh", {V}, 1, 0, V, fn_asinh},
    {"atan", {V}, 1, 0, V, fn_atan},
    {"atanh", {V}, 1, 0, V, fn_atanh},
    {"avg_over_time", {M}, 1, 0, V, fn_avg_over_time},
    {"ceil", {V}, 1, 0, V, fn_ceil},
    {"changes", {M}, 1, 0, V, fn_changes},
    {"clamp", {V, S, S}, 3, 0, V, fn_clamp},
    {"clamp_max", {V, S}, 2, 0, V, fn_clamp_max},
    {"clamp_min", {V, S}, 2, 0, V, fn_clamp_min},
    {"cos", {V}, 1, 0, V, fn_cos},
    {"cosh", {V}, 1, 0, V, fn_cosh},
    {"count_over_time", {M}, 1, 0, V, fn_count_over_time},
    {"day_of_month", {V}, 0, 1, V, fn_day_of_month},
    {"day_of_week", {V}, 0, 1, V, fn_day_of_week},
    {"day_of_year", {V}, 0, 1, V, fn_day_of_year},
    {"days_in_month", {V}, 0, 1, V, fn_days_in_month},
    {"deg", {V}, 1, 0, V, fn_deg},
    {"delta", {M}, 1, 0, V, fn_delta},
    {"deriv", {M}, 1, 0, V, fn_deriv},
    {"exp", {V}, 1, 0, V, fn_exp},
    {"floor", {V}, 1, 0, V, fn_floor},
    {"histogram_quantile", {S, V}, 2, 0, V, fn_histogram_quantile},
    {"hour", {V}, 0, 1, V, fn_hour},
    {"idelta", {M}, 1, 0, V, fn_idelta},
    {"increase", {M}, 1, 0, V, fn_increase},
    {"irate", {M}, 1, 0, V, fn_irate},
    {"label_join", {V, STR, STR, STR, STR}, 3, -1, V, fn_label_join},
    {"label_replace", {V, STR, STR, STR, STR}, 5, 0, V, fn_label_replace},
    {"last_over_time", {M}, 1, 0, V, fn_last_over_time},
    {"ln", {V}, 1, 0, V, fn_ln},
    {"log10", {V}, 1, 0, V, fn_log10},
    {"log2", {V}, 1, 0, V, fn_log2},
    {"max_over_time", {M}, 1, 0, V, fn_max_over_time},
    {"min_over_time", {M}, 1, 0, V, fn_min_over_time},
    {"minute", {V}, 0, 1, V, fn_minute},
    {"month", {V}, 0, 1, V, fn_month},
    {"pi", {0}, 0, 0, S, fn_pi},
    {"predict_linear", {M, S}, 2, 0, V, fn_predict_linear},
    {"present_over_time", {M}, 1, 0, V, fn_present_over_time},
    {"quantile_over_time", {S, M}, 2, 0, V, fn_quantile_over_time},
    {"rad", {V}, 1, 0, V, fn_rad},
    {"rate", {M}, 1, 0, V, fn_rate},
    {"resets", {M}, 1, 0, V, fn_resets},
    {"round", {V, S}, 1, 1, V, fn_round},
    {"scalar", {V}, 1, 0, S, fn_scalar},
    {"sgn", {V}, 1, 0, V, fn_sgn},
    {"sin", {V}, 1, 0, V, fn_sin},
    {"sinh", {V}, 1, 0, V, fn_sinh},
    {"sort", {V}, 1, 0, V, fn_sort},
    {"sort_desc", {V}, 1, 0, V, fn_sort_desc},
    {"sqrt", {V}, 1, 0, V, fn_sqrt},
    {"stddev_over_time", {M}, 1, 0, V, fn_stddev_over_time},
    {"stdvar_over_time", {M}, 1, 0, V, fn_stdvar_over_time},
    {"sum_over_time", {M}, 1, 0, V, fn_sum_over_time},
    {"tan", {V}, 1, 0, V, fn_tan},
    {"tanh", {V}, 1, 0, V, fn_tanh},
    {"time", {0}, 0, 0, S, fn_time},
    {"timestamp", {V}, 1, 0, V, fn_timestamp},
    {"vector", {S}, 1, 0, V, fn_vector},
    {"year", {V}, 0, 1, V, fn_year},
};

/* Prometheus 2.42's other functions: known, but outside our subset. */
static const char *const OTHERS[] = {"holt_winters", "histogram_count", "histogram_sum",
                                     "histogram_fraction"};

static bool name_is(const char *a, const char *s, size_t n)
{
    return strlen(a) == n && memcmp(a, s, n) == 0;
}

const am_pql_func *am__pql_func(const char *name, size_t n)
{
    for (size_t i = 0; i < sizeof FUNCS / sizeof FUNCS[0]; i++)
        if (name_is(FUNCS[i].name, name, n))
            return &FUNCS[i];
    return NULL;
}

bool am__pql_func_known(const char *name, size_t n)
{
    for (size_t i = 0; i < sizeof OTHERS / sizeof OTHERS[0]; i++)
        if (name_is(OTHERS[i], name, n))
            return true;
    return false;
}
