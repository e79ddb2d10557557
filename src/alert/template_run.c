/*
** template_run.c: executing a parsed template (template.h), the way Go's
** text/template executes: a stack of variables scoped to each control
** block, tagged values, field chains on the alert data, on label maps and
** on query results, and fmt's printing of the value of each action.
** Errors longjmp out with Go's message; everything lives in the
** expansion's arena. Limits on depth and steps keep any template bounded.
*/
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../util/alloc.h"
#include "../util/fmt.h"
#include "promql_fmt.h"
#include "template_int.h"

void am__t_err(exec *x, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(x->err, x->cap, "template: %s:%d: executing \"%s\": %s", x->t->name, x->line,
             x->t->name, msg);
    longjmp(x->jb, 1);
}

const char *am__t_type(const tval *v)
{
    switch (v->k) {
    case V_NIL:
        return "nil";
    case V_BOOL:
        return "bool";
    case V_INT:
        return "int";
    case V_FLOAT:
        return "float64";
    case V_STR:
        return "string";
    case V_MAP:
        return "map[string]string";
    case V_SAMPLES:
        return "template.queryResult";
    case V_SAMPLE:
        return "*template.sample";
    default:
        return "struct";
    }
}

bool am__t_truth(const tval *v)
{
    switch (v->k) {
    case V_NIL:
        return false;
    case V_BOOL:
        return v->b;
    case V_INT:
        return v->i != 0;
    case V_FLOAT:
        return v->f != 0;
    case V_STR:
        return v->s[0] != '\0';
    case V_MAP:
        return v->map->n > 0;
    case V_SAMPLES:
        return v->n > 0;
    default:
        return true;
    }
}

/* fmt's %v of a value. */
void am__t_print(exec *x, am_buf *b, const tval *v)
{
    char tmp[AM_GOFMT_MAX];
    switch (v->k) {
    case V_NIL:
        am_buf_puts(b, "<nil>");
        break;
    case V_BOOL:
        am_buf_puts(b, v->b ? "true" : "false");
        break;
    case V_INT:
        am__buf_int(b, v->i);
        break;
    case V_FLOAT:
        if (v->f == 0 && signbit(v->f))
            am_buf_puts(b, "-0");
        else
            am_buf_append(b, tmp, am__fmt_double(tmp, v->f));
        break;
    case V_STR:
        am_buf_puts(b, v->s);
        break;
    case V_MAP:
        am_buf_puts(b, "map[");
        for (uint32_t i = 0; i < v->map->n; i++) {
            if (i)
                am_buf_putc(b, ' ');
            am_buf_puts(b, v->map->l[i].name);
            am_buf_putc(b, ':');
            am_buf_puts(b, v->map->l[i].value);
        }
        am_buf_putc(b, ']');
        break;
    case V_SAMPLE:
        am_buf_puts(b, "&{");
        tval m = {V_MAP, false, 0, 0, NULL, v->samples[0].labels, NULL, 0};
        am__t_print(x, b, &m);
        am_buf_putc(b, ' ');
        am_buf_append(b, tmp, am__fmt_double(tmp, v->samples[0].value));
        am_buf_putc(b, '}');
        break;
    case V_SAMPLES:
        am_buf_putc(b, '[');
        for (size_t i = 0; i < v->n; i++) {
            if (i)
                am_buf_putc(b, ' ');
            tval s = {V_SAMPLE, false, 0, 0, NULL, NULL, &v->samples[i], 1};
            am__t_print(x, b, &s);
        }
        am_buf_putc(b, ']');
        break;
    case V_DATA:
        am_buf_puts(b, "{...}");
        break;
    }
}

const char *am__t_string(exec *x, const tval *v)
{
    if (v->k == V_STR)
        return v->s;
    am_buf b;
    am_buf_init(&b, 0);
    am__t_print(x, &b, v);
    const char *s = am__arena_strdup(&x->a, b.p ? b.p : "");
    am_buf_free(&b);
    return s;
}

/* Prometheus' convertToFloat. */
double am__t_float(exec *x, const char *fn, const tval *v)
{
    switch (v->k) {
    case V_FLOAT:
        return v->f;
    case V_INT:
        return (double)v->i;
    case V_STR: {
        double f;
        if (!am__go_parse_float(v->s, strlen(v->s), &f))
            am__t_err(x, "error calling %s: strconv.ParseFloat: parsing \"%s\": invalid syntax", fn,
                      v->s);
        return f;
    }
    default:
        am__t_err(x, "error calling %s: can't convert %s to float", fn, am__t_type(v));
    }
}

/* ------------------------------------------------------------ variables */

static void var_push(exec *x, const char *name, tval v)
{
    x->vars = am__arena_grow(&x->a, x->vars, &x->cap_vars, x->n_vars + 1, sizeof *x->vars);
    x->vars[x->n_vars].name = name;
    x->vars[x->n_vars].v = v;
    x->n_vars++;
}

static tvar *var_find(exec *x, const char *name)
{
    for (size_t i = x->n_vars; i-- > 0;)
        if (strcmp(x->vars[i].name, name) == 0)
            return &x->vars[i];
    return NULL;
}

/* ------------------------------------------------------------ evaluation */

static tval eval_pipe(exec *x, const pipe *pp, const tval *dot);

static tval field(exec *x, const tval *v, const char *name)
{
    switch (v->k) {
    case V_DATA: {
        const am_tmpl_data *d = x->d;
        if (strcmp(name, "Labels") == 0) {
            tval m = {V_MAP, false, 0, 0, NULL, d->labels ? d->labels : &am__labels_empty, NULL, 0};
            return m;
        }
        if (strcmp(name, "ExternalLabels") == 0) {
            tval m = {V_MAP, false, 0,
                      0,     NULL,  d->external_labels ? d->external_labels : &am__labels_empty,
                      NULL,  0};
            return m;
        }
        if (strcmp(name, "ExternalURL") == 0)
            return v_str(d->external_url ? d->external_url : "");
        if (strcmp(name, "Value") == 0)
            return v_float(d->value);
        am__t_err(x,
                  "can't evaluate field %s in type struct { Labels map[string]string; "
                  "ExternalLabels map[string]string; ExternalURL string; Value interface {} }",
                  name);
    }
    case V_MAP:
        return v_str(am__labels_val(v->map, name)); /* missingkey=zero */
    case V_SAMPLE:
        if (strcmp(name, "Labels") == 0) {
            tval m = {V_MAP, false, 0, 0, NULL, v->samples[0].labels, NULL, 0};
            return m;
        }
        if (strcmp(name, "Value") == 0)
            return v_float(v->samples[0].value);
        am__t_err(x, "can't evaluate field %s in type *template.sample", name);
    case V_NIL:
        am__t_err(x, "nil pointer evaluating interface {}.%s", name);
    default:
        am__t_err(x, "can't evaluate field %s in type %s", name, am__t_type(v));
    }
}

static tval chain(exec *x, tval v, const arg *a)
{
    for (size_t i = 0; i < a->n_chain; i++)
        v = field(x, &v, a->chain[i]);
    return v;
}

tval am__t_eval_arg(exec *x, const arg *a, const tval *dot)
{
    tval v = {V_NIL, false, 0, 0, NULL, NULL, NULL, 0};
    switch (a->k) {
    case A_DOT:
        return *dot;
    case A_FIELD:
        return chain(x, *dot, a);
    case A_VAR: {
        tvar *var = var_find(x, a->s);
        if (!var)
            am__t_err(x, "undefined variable: %s", a->s);
        return chain(x, var->v, a);
    }
    case A_STR:
        return v_str(a->s);
    case A_INT:
        v.k = V_INT;
        v.i = a->i;
        return v;
    case A_FLOAT:
        return v_float(a->f);
    case A_BOOL:
        return v_bool(a->b);
    case A_NIL:
        return v;
    case A_PIPE:
        return chain(x, eval_pipe(x, a->p, dot), a);
    case A_FUNC:
        return am__t_call(x, a->fn, NULL, 0, NULL, dot);
    }
    return v;
}

static tval eval_cmd(exec *x, const cmd *c, const tval *piped, const tval *dot)
{
    if (c->args[0].k == A_FUNC)
        return am__t_call(x, c->args[0].fn, c->args + 1, c->n - 1, piped, dot);
    if (c->n > 1)
        am__t_err(x, "can't give argument to non-function %s", "operand");
    if (piped)
        am__t_err(x, "can't give argument to non-function %s", "operand");
    return am__t_eval_arg(x, &c->args[0], dot);
}

static tval eval_pipe(exec *x, const pipe *pp, const tval *dot)
{
    if (++x->depth > 200)
        am__t_err(x, "exceeded maximum template depth (200)");
    tval v = {V_NIL, false, 0, 0, NULL, NULL, NULL, 0};
    x->line = pp->line;
    for (size_t i = 0; i < pp->n; i++)
        v = eval_cmd(x, &pp->cmds[i], i ? &v : NULL, dot);
    if (pp->n_decl) {
        if (pp->is_assign) {
            tvar *var = var_find(x, pp->decl[0]);
            if (!var)
                am__t_err(x, "undefined variable: %s", pp->decl[0]);
            var->v = v;
        } else {
            var_push(x, pp->decl[0], v);
        }
    }
    x->depth--;
    return v;
}

/* ------------------------------------------------------------ execution */

static void run_list(exec *x, const tnode *n, const tval *dot);

static void run_node(exec *x, const tnode *n, const tval *dot)
{
    x->line = n->line;
    size_t mark = x->n_vars;
    switch (n->k) {
    case TN_TEXT:
        am_buf_append(x->out, n->text, n->len);
        break;
    case TN_ACTION: {
        tval v = eval_pipe(x, n->p, dot);
        if (!n->p->n_decl) {
            if (v.k == V_NIL)
                am_buf_puts(x->out, "<no value>");
            else
                am__t_print(x, x->out, &v);
        }
        return; /* declarations stay in scope to the end of the block */
    }
    case TN_IF:
    case TN_WITH: {
        tval v = eval_pipe(x, n->p, dot);
        if (am__t_truth(&v))
            run_list(x, n->list, n->k == TN_WITH ? &v : dot);
        else if (n->else_list)
            run_list(x, n->else_list, dot);
        break;
    }
    case TN_RANGE: {
        size_t decl = n->p->n_decl;
        pipe tmp = *n->p;
        tmp.n_decl = 0;
        tval v = eval_pipe(x, &tmp, dot);
        size_t count = v.k == V_SAMPLES ? v.n : v.k == V_MAP ? v.map->n : 0;
        if (v.k != V_SAMPLES && v.k != V_MAP && v.k != V_NIL)
            am__t_err(x, "range can't iterate over %s", am__t_type(&v));
        for (size_t i = 0; i < count; i++) {
            tval e, key;
            if (v.k == V_SAMPLES) {
                tval s = {V_SAMPLE, false, 0, 0, NULL, NULL, &v.samples[i], 1};
                e = s;
                key.k = V_INT;
                key.i = (int64_t)i;
            } else {
                e = v_str(v.map->l[i].value);
                key = v_str(v.map->l[i].name);
            }
            size_t m = x->n_vars;
            if (decl == 1)
                var_push(x, n->p->decl[0], e);
            else if (decl == 2) {
                var_push(x, n->p->decl[0], key);
                var_push(x, n->p->decl[1], e);
            }
            run_list(x, n->list, &e);
            x->n_vars = m;
        }
        if (!count && n->else_list)
            run_list(x, n->else_list, dot);
        break;
    }
    }
    x->n_vars = mark;
}

static void run_list(exec *x, const tnode *n, const tval *dot)
{
    size_t mark = x->n_vars;
    if (++x->depth > 200)
        am__t_err(x, "exceeded maximum template depth (200)");
    for (; n; n = n->next) {
        if (++x->steps > 100000)
            am__t_err(x, "template too expensive");
        run_node(x, n, dot);
    }
    x->depth--;
    x->n_vars = mark;
}

static am_err expand_run(exec *x)
{
    if (setjmp(x->jb))
        return AM_EINVAL;
    tval dot = {V_DATA, false, 0, 0, NULL, NULL, NULL, 0};
    run_list(x, x->t->root, &dot);
    return AM_OK;
}

am_err am__tmpl_expand(const am_tmpl *t, const am_tmpl_data *d, am_buf *out, char *err, size_t cap)
{
    exec *x = am__calloc(1, sizeof *x);
    if (!x) {
        snprintf(err, cap, "out of memory");
        return AM_ENOMEM;
    }
    x->t = t;
    x->d = d;
    x->out = out;
    x->err = err;
    x->cap = cap;
    am__arena_init(&x->a, &x->jb);
    am_err rc = expand_run(x);
    if (rc && !err[0])
        snprintf(err, cap, "out of memory");
    am__arena_free(&x->a);
    am__free(x);
    return rc;
}
