/*
** promql_binop.c: binary operators -- arithmetic, comparisons (filtering
** or with bool), atan2, and/or/unless -- with Prometheus 2.42's vector
** matching (promql/engine.go: VectorBinop, VectorscalarBinop, VectorAnd,
** VectorOr, VectorUnless, resultMetric).
**
** A sample's matching signature is its label set reduced to the on(...)
** labels, or stripped of the ignoring(...) labels and of __name__; it is
** built as a label set and used as a map key, so equal signatures are
** found by full comparison. Result labels: the left ("many") side's,
** without __name__ for arithmetic (+ - * / % ^, not atan2 in 2.42) and
** for bool comparisons; for one-to-one matching reduced to the on labels
** or stripped of the ignoring labels; plus group_left/right's labels
** from the "one" side. Errors are Prometheus': duplicate series on the
** "one" side, multiple matches without group_x, non-unique results.
*/
#include <math.h>
#include <string.h>

#include "promql.h"

static bool drops_name(am_tok op)
{
    return op == T_ADD || op == T_SUB || op == T_MUL || op == T_DIV || op == T_POW || op == T_MOD;
}

/* vectorElemBinop: the value, and whether a comparison keeps the sample. */
static double elem(am_tok op, double l, double r, bool *keep)
{
    *keep = true;
    switch (op) {
    case T_ADD:
        return l + r;
    case T_SUB:
        return l - r;
    case T_MUL:
        return l * r;
    case T_DIV:
        return l / r;
    case T_POW:
        return pow(l, r);
    case T_MOD:
        return fmod(l, r);
    case T_ATAN2:
        return atan2(l, r);
    case T_EQLC:
        *keep = l == r;
        return l;
    case T_NEQ:
        *keep = l != r;
        return l;
    case T_GTR:
        *keep = l > r;
        return l;
    case T_LSS:
        *keep = l < r;
        return l;
    case T_GTE:
        *keep = l >= r;
        return l;
    case T_LTE:
        *keep = l <= r;
        return l;
    default:
        return NAN;
    }
}

static const am_lset *signature(am_evaluator *ev, am_lbuild *b, const am_pql_match *vm,
                                const am_lset *l)
{
    am__lb_reset(b, l);
    if (vm->on) {
        am__lb_keep(b, vm->labels, vm->n_labels);
    } else {
        for (size_t i = 0; i < vm->n_labels; i++)
            am__lb_del(b, vm->labels[i]);
        am__lb_del(b, "__name__");
    }
    (void)ev;
    return am__lb_labels(b);
}

static void fmt_labels(am_evaluator *ev, const am_lset *l, char *out, size_t cap)
{
    am_buf b;
    am_buf_init(&b, cap > 1 ? cap - 1 : 1);
    am__labels_fmt(&b, l);
    snprintf(out, cap, "%s", b.p ? b.p : "{...}");
    am_buf_free(&b);
    (void)ev;
}

static void vector_binop(am_evaluator *ev, const am_pql_node *n, am_vector *lhs, am_vector *rhs,
                         am_vector *out)
{
    const am_pql_match *vm = n->u.bin.vm;
    am_tok op = n->u.bin.op;
    bool ret_bool = n->u.bin.ret_bool;
    if (vm->card == CARD_ONE_TO_MANY) {
        am_vector *t = lhs;
        lhs = rhs;
        rhs = t;
    }
    am_lbuild b;
    am__lb_init(&b, ev->a, NULL);
    am_lmap right;
    am__lmap_init(&right, ev->a, rhs->n);
    for (size_t i = 0; i < rhs->n; i++) {
        const am_lset *sig = signature(ev, &b, vm, rhs->s[i].l);
        bool found;
        void **slot = am__lmap_put(&right, sig, &found);
        if (found) {
            char a[256], c[256], s[256];
            fmt_labels(ev, sig, s, sizeof s);
            fmt_labels(ev, rhs->s[i].l, a, sizeof a);
            fmt_labels(ev, ((am_sample *)*slot)->l, c, sizeof c);
            am__ev_fail(ev, AM_EINVAL,
                        "found duplicate series for the match group %s on the %s hand-side of "
                        "the operation: [%s, %s];many-to-many matching not allowed: matching "
                        "labels must be unique on one side",
                        s, vm->card == CARD_ONE_TO_MANY ? "left" : "right", a, c);
        }
        *slot = &rhs->s[i];
    }
    am_lmap matched;  /* one-to-one: signatures used */
    am_lmap inserted; /* many-to-one: result label set -> its signature */
    am__lmap_init(&matched, ev->a, lhs->n);
    am__lmap_init(&inserted, ev->a, lhs->n);
    for (size_t i = 0; i < lhs->n; i++) {
        const am_lset *sig = signature(ev, &b, vm, lhs->s[i].l);
        const am_sample *rs = am__lmap_get(&right, sig);
        if (!rs)
            continue;
        double vl = lhs->s[i].v, vr = rs->v;
        if (vm->card == CARD_ONE_TO_MANY) {
            double t = vl;
            vl = vr;
            vr = t;
        }
        bool keep;
        double value = elem(op, vl, vr, &keep);
        if (ret_bool)
            value = keep ? 1.0 : 0.0;
        else if (!keep)
            continue;
        /* resultMetric */
        am__lb_reset(&b, lhs->s[i].l);
        if (drops_name(op) || ret_bool)
            am__lb_del(&b, "__name__");
        if (vm->card == CARD_ONE_TO_ONE) {
            if (vm->on)
                am__lb_keep(&b, vm->labels, vm->n_labels);
            else
                for (size_t k = 0; k < vm->n_labels; k++)
                    am__lb_del(&b, vm->labels[k]);
        }
        for (size_t k = 0; k < vm->n_include; k++)
            am__lb_set(&b, vm->include[k], am__labels_val(rs->l, vm->include[k]));
        const am_lset *metric = am__lb_labels(&b);
        bool found;
        if (vm->card == CARD_ONE_TO_ONE) {
            am__lmap_put(&matched, sig, &found);
            if (found)
                am__ev_fail(ev, AM_EINVAL,
                            "multiple matches for labels: many-to-one matching must be explicit "
                            "(group_left/group_right)");
        } else {
            void **slot = am__lmap_put(&inserted, metric, &found);
            if (found && am__labels_equal((const am_lset *)*slot, sig))
                am__ev_fail(ev, AM_EINVAL,
                            "multiple matches for labels: grouping labels must ensure unique "
                            "matches");
            *slot = (void *)sig;
        }
        am__vec_push(ev, out, metric, value, ev->ts);
    }
}

static void vector_scalar(am_evaluator *ev, const am_pql_node *n, const am_vector *vec,
                          double scalar, bool swap, am_vector *out)
{
    am_tok op = n->u.bin.op;
    bool ret_bool = n->u.bin.ret_bool, cmp = am__tok_is_comparison(op);
    for (size_t i = 0; i < vec->n; i++) {
        double lv = vec->s[i].v, rv = scalar;
        if (swap) {
            lv = scalar;
            rv = vec->s[i].v;
        }
        bool keep;
        double value = elem(op, lv, rv, &keep);
        if (cmp && swap)
            value = rv; /* the vector's own value, even on the right */
        if (ret_bool) {
            value = keep ? 1.0 : 0.0;
            keep = true;
        }
        if (!keep)
            continue;
        const am_lset *l = vec->s[i].l;
        if (drops_name(op) || ret_bool)
            l = am__drop_name(ev, l);
        am__vec_push(ev, out, l, value, ev->ts);
    }
}

static void set_op(am_evaluator *ev, const am_pql_node *n, const am_vector *lhs,
                   const am_vector *rhs, am_vector *out)
{
    const am_pql_match *vm = n->u.bin.vm;
    am_tok op = n->u.bin.op;
    if (op == T_LAND && (lhs->n == 0 || rhs->n == 0))
        return;
    if (op == T_LUNLESS && (lhs->n == 0 || rhs->n == 0)) {
        for (size_t i = 0; i < lhs->n; i++)
            am__vec_push(ev, out, lhs->s[i].l, lhs->s[i].v, ev->ts);
        return;
    }
    am_lbuild b;
    am__lb_init(&b, ev->a, NULL);
    am_lmap sigs;
    bool found;
    if (op == T_LOR) {
        am__lmap_init(&sigs, ev->a, lhs->n);
        for (size_t i = 0; i < lhs->n; i++) {
            /* a non-NULL value: am__lmap_get() tells a found key by it */
            *am__lmap_put(&sigs, signature(ev, &b, vm, lhs->s[i].l), &found) = (void *)1;
            am__vec_push(ev, out, lhs->s[i].l, lhs->s[i].v, ev->ts);
        }
        for (size_t i = 0; i < rhs->n; i++)
            if (!am__lmap_get(&sigs, signature(ev, &b, vm, rhs->s[i].l)) || lhs->n == 0)
                am__vec_push(ev, out, rhs->s[i].l, rhs->s[i].v, ev->ts);
        return;
    }
    am__lmap_init(&sigs, ev->a, rhs->n);
    for (size_t i = 0; i < rhs->n; i++)
        *am__lmap_put(&sigs, signature(ev, &b, vm, rhs->s[i].l), &found) = (void *)1;
    for (size_t i = 0; i < lhs->n; i++) {
        bool in_rhs = am__lmap_get(&sigs, signature(ev, &b, vm, lhs->s[i].l)) != NULL;
        if (in_rhs == (op == T_LAND))
            am__vec_push(ev, out, lhs->s[i].l, lhs->s[i].v, ev->ts);
    }
}

void am__eval_binary(am_evaluator *ev, const am_pql_node *n, am_value *out)
{
    am_value l = am__ev_eval(ev, n->u.bin.lhs);
    am_value r = am__ev_eval(ev, n->u.bin.rhs);
    am_tok op = n->u.bin.op;
    out->type = n->type;
    if (l.type == AM_PQL_SCALAR && r.type == AM_PQL_SCALAR) {
        bool keep;
        double v = elem(op, l.scalar, r.scalar, &keep);
        out->scalar = am__tok_is_comparison(op) ? (keep ? 1.0 : 0.0) : v;
        return;
    }
    if (l.type == AM_PQL_VECTOR && r.type == AM_PQL_VECTOR) {
        if (am__tok_is_setop(op))
            set_op(ev, n, &l.vec, &r.vec, &out->vec);
        else
            vector_binop(ev, n, &l.vec, &r.vec, &out->vec);
        return;
    }
    if (l.type == AM_PQL_VECTOR)
        vector_scalar(ev, n, &l.vec, r.scalar, false, &out->vec);
    else
        vector_scalar(ev, n, &r.vec, l.scalar, true, &out->vec);
}
