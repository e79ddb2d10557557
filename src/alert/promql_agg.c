/*
** promql_agg.c: aggregation operators (sum, avg, min, max, count, group,
** stddev, stdvar, topk, bottomk, quantile, count_values) with by/without,
** as Prometheus 2.42's evaluator aggregates (promql/engine.go aggregation).
**
** Groups are found by their output label set (by: only the listed labels,
** __name__ included if listed; without: all but the listed ones and
** __name__), kept in first-seen order, which is the order of the result.
** The arithmetic follows the Go code step by step so that results agree
** to the last bit where it matters: avg is an incremental mean that
** tolerates infinities, stddev/stdvar use Welford's update, max/min let
** a later number replace a NaN, topk/bottomk use container/heap's exact
** sift order (ties pick the same series) and the final reverse sort,
** quantile uses quantile.go's interpolation.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "promql.h"
#include "promql_fmt.h"

typedef struct group {
    const am_lset *labels;
    double value;
    double mean;
    double count;
    am_sample *heap; /* topk, bottomk, quantile */
    size_t n_heap;
    size_t cap_heap;
} group;

/* vectorByValueHeap.Less (topk, quantile): NaN is the smallest. */
static bool less_val(const am_sample *a, const am_sample *b)
{
    if (isnan(a->v) && !isnan(b->v))
        return true;
    return a->v < b->v;
}

/* vectorByReverseValueHeap.Less (bottomk): NaN is the smallest too. */
static bool less_rev(const am_sample *a, const am_sample *b)
{
    if (isnan(a->v) && !isnan(b->v))
        return true;
    return a->v > b->v;
}

typedef bool (*less_fn)(const am_sample *, const am_sample *);

/* container/heap: up, down, Push, Pop, exactly as Go sifts. */
static void heap_up(am_sample *h, size_t j, less_fn less)
{
    while (j > 0) {
        size_t i = (j - 1) / 2;
        if (i == j || !less(&h[j], &h[i]))
            break;
        am_sample t = h[i];
        h[i] = h[j];
        h[j] = t;
        j = i;
    }
}

static void heap_down(am_sample *h, size_t i0, size_t n, less_fn less)
{
    size_t i = i0;
    for (;;) {
        size_t j1 = 2 * i + 1;
        if (j1 >= n)
            break;
        size_t j = j1;
        if (j1 + 1 < n && less(&h[j1 + 1], &h[j1]))
            j = j1 + 1;
        if (!less(&h[j], &h[i]))
            break;
        am_sample t = h[i];
        h[i] = h[j];
        h[j] = t;
        i = j;
    }
}

static void heap_push(am_evaluator *ev, group *g, am_sample s, less_fn less)
{
    g->heap = am__arena_grow(ev->a, g->heap, &g->cap_heap, g->n_heap + 1, sizeof *g->heap);
    g->heap[g->n_heap++] = s;
    heap_up(g->heap, g->n_heap - 1, less);
}

static void heap_pop(group *g, less_fn less)
{
    size_t n = g->n_heap - 1;
    am_sample t = g->heap[0];
    g->heap[0] = g->heap[n];
    g->heap[n] = t;
    heap_down(g->heap, 0, n, less);
    g->n_heap--;
}

/* Go's sort.Sort(sort.Reverse(h)) for the small heaps: insertion sort
   (what pdqsort does below 13 elements), then a stable merge beyond. */
static void sort_reverse(am_sample *h, size_t n, less_fn less)
{
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && less(&h[j - 1], &h[j]); j--) {
            am_sample t = h[j];
            h[j] = h[j - 1];
            h[j - 1] = t;
        }
}

static int cmp_val(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    if (isnan(x) && !isnan(y))
        return -1;
    if (isnan(y) && !isnan(x))
        return 1;
    return x < y ? -1 : x > y ? 1 : 0;
}

double am__pql_quantile(double q, double *v, size_t n)
{
    if (n == 0 || isnan(q))
        return NAN;
    if (q < 0)
        return -INFINITY;
    if (q > 1)
        return INFINITY;
    qsort(v, n, sizeof *v, cmp_val);
    double fn = (double)n;
    double rank = q * (fn - 1);
    double lower = fmax(0, floor(rank));
    double upper = fmin(fn - 1, lower + 1);
    double weight = rank - floor(rank);
    return v[(size_t)lower] * (1 - weight) + v[(size_t)upper] * weight;
}

static const am_lset *group_labels(am_evaluator *ev, am_lbuild *b, const am_pql_node *n,
                                   const am_lset *l, const char *value_label)
{
    am__lb_reset(b, l);
    if (n->u.agg.without) {
        for (size_t i = 0; i < n->u.agg.n_labels; i++)
            am__lb_del(b, n->u.agg.labels[i]);
        am__lb_del(b, "__name__");
    } else {
        /* by: the listed labels, and count_values' own label */
        size_t k = n->u.agg.n_labels;
        char **keep = n->u.agg.labels;
        if (value_label) {
            keep = am__arena_alloc(ev->a, (k + 1) * sizeof *keep);
            if (k)
                memcpy(keep, n->u.agg.labels, k * sizeof *keep);
            keep[k++] = (char *)value_label;
        }
        am__lb_keep(b, keep, k);
    }
    return am__lb_labels(b);
}

void am__eval_aggregate(am_evaluator *ev, const am_pql_node *n, am_vector *out)
{
    am_tok op = n->u.agg.op;
    am_value param;
    memset(&param, 0, sizeof param);
    if (n->u.agg.param)
        param = am__ev_eval(ev, n->u.agg.param);
    am_value in = am__ev_eval(ev, n->u.agg.expr);
    const am_vector *vec = &in.vec;
    int64_t k = 0;
    if (op == T_TOPK || op == T_BOTTOMK) {
        double f = param.scalar;
        if (!(f >= -9.2233720368547758e18 && f < 9.2233720368547758e18))
            am__ev_fail(ev, AM_EINVAL, "Scalar value %g overflows int64", f);
        k = (int64_t)f;
        if (k < 1)
            return;
    }
    const char *value_label = op == T_COUNT_VALUES ? param.str : NULL;
    am_lbuild b;
    am__lb_init(&b, ev->a, NULL);
    am_lmap groups;
    am__lmap_init(&groups, ev->a, vec->n / 4 + 1);
    group **order = NULL;
    size_t n_order = 0, cap_order = 0;
    for (size_t i = 0; i < vec->n; i++) {
        am_sample s = vec->s[i];
        const am_lset *metric = s.l;
        if (value_label) {
            char tmp[AM_GOFMT_MAX];
            am__fmt_go_f(tmp, s.v);
            am__lb_reset(&b, metric);
            am__lb_set(&b, value_label, am__arena_strdup(ev->a, tmp));
            metric = am__lb_labels(&b);
        }
        const am_lset *key = group_labels(ev, &b, n, metric, value_label);
        bool found;
        void **slot = am__lmap_put(&groups, key, &found);
        group *g = *slot;
        if (!found) {
            g = am__arena_zalloc(ev->a, sizeof *g);
            *slot = g;
            g->labels = key;
            g->value = s.v;
            g->mean = s.v;
            g->count = 1;
            order = am__arena_grow(ev->a, order, &cap_order, n_order + 1, sizeof *order);
            order[n_order++] = g;
            switch (op) {
            case T_STDVAR:
            case T_STDDEV:
                g->value = 0;
                break;
            case T_TOPK:
            case T_QUANTILE:
                heap_push(ev, g, s, less_val);
                break;
            case T_BOTTOMK:
                heap_push(ev, g, s, less_rev);
                break;
            case T_GROUP:
                g->value = 1;
                break;
            default:
                break;
            }
            continue;
        }
        switch (op) {
        case T_SUM:
            g->value += s.v;
            break;
        case T_AVG:
            g->count++;
            if (isinf(g->mean)) {
                if (isinf(s.v) && (g->mean > 0) == (s.v > 0))
                    break;
                if (!isinf(s.v) && !isnan(s.v))
                    break;
            }
            g->mean += s.v / g->count - g->mean / g->count;
            break;
        case T_MAX:
            if (g->value < s.v || isnan(g->value))
                g->value = s.v;
            break;
        case T_MIN:
            if (g->value > s.v || isnan(g->value))
                g->value = s.v;
            break;
        case T_COUNT:
        case T_COUNT_VALUES:
            g->count++;
            break;
        case T_STDVAR:
        case T_STDDEV: {
            g->count++;
            double delta = s.v - g->mean;
            g->mean += delta / g->count;
            g->value += delta * (s.v - g->mean);
            break;
        }
        case T_TOPK:
            if ((int64_t)g->n_heap < k || g->heap[0].v < s.v || isnan(g->heap[0].v)) {
                if ((int64_t)g->n_heap == k) {
                    if (k == 1) {
                        g->heap[0] = s;
                        break;
                    }
                    heap_pop(g, less_val);
                }
                heap_push(ev, g, s, less_val);
            }
            break;
        case T_BOTTOMK:
            if ((int64_t)g->n_heap < k || g->heap[0].v > s.v || isnan(g->heap[0].v)) {
                if ((int64_t)g->n_heap == k) {
                    if (k == 1) {
                        g->heap[0] = s;
                        break;
                    }
                    heap_pop(g, less_rev);
                }
                heap_push(ev, g, s, less_rev);
            }
            break;
        case T_QUANTILE:
            g->heap = am__arena_grow(ev->a, g->heap, &g->cap_heap, g->n_heap + 1, sizeof *g->heap);
            g->heap[g->n_heap++] = s;
            break;
        default:
            break;
        }
    }
    for (size_t i = 0; i < n_order; i++) {
        group *g = order[i];
        double v = g->value;
        switch (op) {
        case T_AVG:
            v = g->mean;
            break;
        case T_COUNT:
        case T_COUNT_VALUES:
            v = g->count;
            break;
        case T_STDVAR:
            v = g->value / g->count;
            break;
        case T_STDDEV:
            v = sqrt(g->value / g->count);
            break;
        case T_TOPK:
        case T_BOTTOMK:
            if (g->n_heap > 1)
                sort_reverse(g->heap, g->n_heap, op == T_TOPK ? less_val : less_rev);
            for (size_t j = 0; j < g->n_heap; j++)
                am__vec_push(ev, out, g->heap[j].l, g->heap[j].v, ev->ts);
            continue;
        case T_QUANTILE: {
            double *vals = am__arena_alloc(ev->a, g->n_heap * sizeof *vals);
            for (size_t j = 0; j < g->n_heap; j++)
                vals[j] = g->heap[j].v;
            v = am__pql_quantile(param.scalar, vals, g->n_heap);
            break;
        }
        default:
            break;
        }
        am__vec_push(ev, out, g->labels, v, ev->ts);
    }
}
