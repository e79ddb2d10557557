/*
** ptest.c: `agentmon rules test`, promtool's rule unit tests
** (cmd/promtool/unittest.go of Prometheus 2.42) on our engine.
**
** DESIGN
** A test file names rule files (relative to itself, globs allowed), an
** evaluation interval (default 1m), an optional group evaluation order and
** test groups. Each test group gets a fresh window and fresh rules: its
** input series (promtool's expanding notation, seriesdesc.c) are appended
** as time goes, up to each evaluation time, the way promtool's lazy loader
** does; every group is evaluated at 0, interval, 2 x interval, ... up to
** the largest eval_time of the test group, in file order or
** group_eval_order, with every alerting rule writing ALERTS from the start
** (promtool marks them restored). An alert_rule_test compares, at the last
** evaluation at or before its eval_time, the firing alerts of the rules of
** that name (labels with alertname, annotations) with the expected ones;
** a promql_expr_test runs its query at eval_time once all evaluations are
** done. Comparisons are exact, as promtool's reflect.DeepEqual (so NaN
** never matches). Output and exit status are promtool's: "Unit Testing:
** FILE", then "  SUCCESS" or "  FAILED:" and the failures.
*/
#include <errno.h>
#include <glob.h>
#include <libgen.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/alloc.h"
#include "../util/buf.h"
#include "promql_fmt.h"
#include "rules.h"
#include "seriesdesc.h"
#include "yamltree.h"

#define MAX_SAMPLES_PER_SERIES 10000000

typedef struct tseries {
    am_lset *labels;
    am_seqval *v;
    size_t n;
    size_t next;
} tseries;

typedef struct ctx {
    am_arena a;
    am_buf errs; /* collected failures, one per entry separated by "\n\n" */
    size_t n_errs;
    const char *file;
} ctx;

static void add_err(ctx *c, const char *s)
{
    if (c->n_errs)
        am_buf_putc(&c->errs, '\x1e'); /* separator between errors */
    am_buf_puts(&c->errs, s);
    c->n_errs++;
}

__attribute__((format(printf, 2, 3))) static void add_errf(ctx *c, const char *fmt, ...)
{
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    add_err(c, msg);
}

static bool dur_of(const am_ynode *n, int64_t *ms)
{
    *ms = 0;
    if (am__y_is_null(n))
        return true;
    return n->kind == AM_Y_SCALAR && am__go_parse_duration(n->str, n->len, ms);
}

static void fmt_dur(char *out, size_t cap, int64_t ms)
{
    am_buf b;
    am_buf_init(&b, 0);
    am__fmt_go_duration(&b, ms);
    snprintf(out, cap, "%s", b.p ? b.p : "0s");
    am_buf_free(&b);
}

/* Go's time.Duration.String(): 1h2m3s, 1m0s, 500ms, 0s. */
static void fmt_go_time_dur(char *out, size_t cap, int64_t ms)
{
    if (ms == 0) {
        snprintf(out, cap, "0s");
        return;
    }
    if (ms < 1000) {
        snprintf(out, cap, "%lldms", (long long)ms);
        return;
    }
    int64_t h = ms / 3600000, m = ms / 60000 % 60, s = ms / 1000 % 60, frac = ms % 1000;
    char sec[32];
    if (frac) {
        snprintf(sec, sizeof sec, "%lld.%03lld", (long long)s, (long long)frac);
        size_t l = strlen(sec);
        while (sec[l - 1] == '0')
            sec[--l] = '\0';
    } else {
        snprintf(sec, sizeof sec, "%lld", (long long)s);
    }
    if (h)
        snprintf(out, cap, "%lldh%lldm%ss", (long long)h, (long long)m, sec);
    else if (m)
        snprintf(out, cap, "%lldm%ss", (long long)m, sec);
    else
        snprintf(out, cap, "%ss", sec);
}

static bool check_keys(ctx *c, const am_ynode *m, const char *const *keys, const char *type)
{
    if (!m || m->kind != AM_Y_MAP) {
        add_errf(c, "yaml: unmarshal errors:\n  line %d: cannot unmarshal into %s", m ? m->line : 0,
                 type);
        return false;
    }
    for (size_t i = 0; i < m->n; i++) {
        const am_ynode *k = m->items[2 * i];
        bool ok = false;
        for (const char *const *kk = keys; *kk && !ok; kk++)
            ok = k->kind == AM_Y_SCALAR && strcmp(k->str, *kk) == 0;
        if (!ok) {
            add_errf(c, "yaml: unmarshal errors:\n  line %d: field %s not found in type %s",
                     k->line, k->kind == AM_Y_SCALAR ? k->str : "?", type);
            return false;
        }
    }
    return true;
}

/* YAML float64 as yaml.v3 reads one: numbers, .inf, -.inf, .nan. */
static bool yaml_float(const am_ynode *n, double *v)
{
    if (!n || n->kind != AM_Y_SCALAR || !n->is_plain)
        return false;
    const char *s = n->str;
    if (!strcmp(s, ".inf") || !strcmp(s, ".Inf") || !strcmp(s, ".INF") || !strcmp(s, "+.inf") ||
        !strcmp(s, "+.Inf") || !strcmp(s, "+.INF")) {
        *v = INFINITY;
        return true;
    }
    if (!strcmp(s, "-.inf") || !strcmp(s, "-.Inf") || !strcmp(s, "-.INF")) {
        *v = -INFINITY;
        return true;
    }
    if (!strcmp(s, ".nan") || !strcmp(s, ".NaN") || !strcmp(s, ".NAN")) {
        *v = NAN;
        return true;
    }
    char *end;
    errno = 0;
    long long iv = strtoll(s, &end, 0);
    if (*s && !*end && !errno) {
        *v = (double)iv;
        return true;
    }
    return am__go_parse_float(s, n->len, v) && !strchr(s, '_') && isfinite(*v) &&
           strpbrk(s, "iInN") == NULL;
}

/* ------------------------------------------------------------ one test group */

typedef struct tg {
    ctx *c;
    am_tsdb *db;
    am_tsdb_src *input;
    tseries *series;
    size_t n_series;
    am_ruleset *rs;
    am_rgroup **order;
    am_rule_ctx rc;
    am_promql_opts qopts;
    am_lset *ext;
    const char *ext_url;
    const char *name;
} tg;

static void load_till(tg *t, int64_t ts, int64_t interval)
{
    am_tsdb_begin(t->db, t->input);
    for (size_t i = 0; i < t->n_series; i++) {
        tseries *s = &t->series[i];
        while (s->next < s->n && (int64_t)s->next * interval <= ts) {
            am_seqval *v = &s->v[s->next];
            if (!v->is_omitted) {
                am_label p[64];
                size_t n = s->labels->n < 64 ? s->labels->n : 64;
                memcpy(p, s->labels->l, n * sizeof *p);
                (void)am_tsdb_append(t->db, t->input, p, n, (int64_t)s->next * interval, v->v);
            }
            s->next++;
        }
    }
    am_tsdb_commit(t->db, t->input, INT64_MIN);
}

typedef struct la {
    am_lset *labels;
    am_lset *annotations; /* sorted, empty values kept */
} la;

static int la_cmp(const void *x, const void *y)
{
    const la *a = x, *b = y;
    int d = am__labels_cmp(a->labels, b->labels);
    return d ? d : am__labels_cmp(a->annotations, b->annotations);
}

static void la_fmt(am_buf *b, const la *v, size_t n)
{
    if (n == 0) {
        am_buf_puts(b, "[]");
        return;
    }
    am_buf_puts(b, "[\n");
    for (size_t i = 0; i < n; i++) {
        if (i)
            am_buf_puts(b, ",\n");
        am_buf_printf(b, "%zu:\n              Labels:", i);
        am__labels_fmt(b, v[i].labels);
        am_buf_puts(b, "\n              Annotations:");
        am__labels_fmt(b, v[i].annotations);
    }
    am_buf_puts(b, "\n            ]");
}

/* Sorted copy keeping empty values (Go's labels.FromMap). */
static am_lset *sorted_keep(am_arena *a, am_label *p, size_t n)
{
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(p[j - 1].name, p[j].name) > 0; j--) {
            am_label t = p[j];
            p[j] = p[j - 1];
            p[j - 1] = t;
        }
    am_lset *l = am__labels_raw(a, p, n);
    return l;
}

static bool string_map(const am_ynode *m, am_arena *a, am_label **p, size_t *n)
{
    *p = NULL;
    *n = 0;
    if (am__y_is_null(m))
        return true;
    if (m->kind != AM_Y_MAP)
        return false;
    *p = am__arena_alloc(a, (m->n + 2) * sizeof **p);
    for (size_t i = 0; i < m->n; i++) {
        const am_ynode *k = m->items[2 * i], *v = m->items[2 * i + 1];
        if (k->kind != AM_Y_SCALAR || (v->kind != AM_Y_SCALAR))
            return false;
        (*p)[i].name = k->str;
        (*p)[i].value = am__y_is_null(v) && v->is_plain && v->len == 0 ? "" : v->str;
    }
    *n = m->n;
    return true;
}

static void check_alerts(tg *t, const am_ynode *test, int64_t eval_time)
{
    ctx *c = t->c;
    const char *alertname = am__y_get(test, "alertname")->str;
    la *got = NULL;
    size_t n_got = 0, cap = 0;
    for (size_t g = 0; g < t->rs->n; g++) {
        am_rgroup *grp = t->rs->groups[g];
        for (size_t i = 0; i < grp->n; i++) {
            am_rule *r = grp->rules[i];
            if (!r->is_alert || strcmp(r->name, alertname) != 0)
                continue;
            for (size_t k = 0; k < r->n_alerts; k++) {
                am_alert *al = r->alerts[k];
                if (al->state != AM_ALERT_FIRING)
                    continue;
                got = am__arena_grow(&c->a, got, &cap, n_got + 1, sizeof *got);
                got[n_got].labels = am__labels_copy(&c->a, al->labels);
                am_label *p = am__arena_alloc(&c->a, (al->annotations->n + 1) * sizeof *p);
                memcpy(p, al->annotations->l, al->annotations->n * sizeof *p);
                got[n_got].annotations = sorted_keep(&c->a, p, al->annotations->n);
                n_got++;
            }
        }
    }
    la *exp = NULL;
    size_t n_exp = 0;
    const am_ynode *ea = am__y_get(test, "exp_alerts");
    if (ea && ea->kind == AM_Y_SEQ) {
        exp = am__arena_alloc(&c->a, (ea->n + 1) * sizeof *exp);
        for (size_t i = 0; i < ea->n; i++) {
            am_label *lp, *ap;
            size_t ln, an;
            string_map(am__y_get(ea->items[i], "exp_labels"), &c->a, &lp, &ln);
            string_map(am__y_get(ea->items[i], "exp_annotations"), &c->a, &ap, &an);
            am_label *l2 = am__arena_alloc(&c->a, (ln + 1) * sizeof *l2);
            size_t k = 0;
            for (size_t j = 0; j < ln; j++)
                if (strcmp(lp[j].name, "alertname") != 0)
                    l2[k++] = lp[j];
            l2[k].name = "alertname";
            l2[k].value = alertname;
            k++;
            exp[n_exp].labels = sorted_keep(&c->a, l2, k);
            exp[n_exp].annotations = sorted_keep(&c->a, ap, an);
            n_exp++;
        }
    }
    if (n_got)
        qsort(got, n_got, sizeof *got, la_cmp);
    if (n_exp)
        qsort(exp, n_exp, sizeof *exp, la_cmp);
    bool same = n_got == n_exp;
    for (size_t i = 0; same && i < n_got; i++)
        same = la_cmp(&got[i], &exp[i]) == 0 && got[i].labels->n == exp[i].labels->n &&
               got[i].annotations->n == exp[i].annotations->n;
    if (same)
        return;
    am_buf b;
    am_buf_init(&b, 0);
    char when[64];
    fmt_dur(when, sizeof when, eval_time);
    if (t->name)
        am_buf_printf(&b, "    name: %s,\n", t->name);
    am_buf_printf(&b, "    alertname: %s, time: %s, \n        exp:", alertname, when);
    la_fmt(&b, exp, n_exp);
    am_buf_puts(&b, ", \n        got:");
    la_fmt(&b, got, n_got);
    add_err(c, b.p ? b.p : "");
    am_buf_free(&b);
}

typedef struct ps {
    am_lset *labels;
    double value;
} ps;

static int ps_cmp(const void *x, const void *y)
{
    return am__labels_cmp(((const ps *)x)->labels, ((const ps *)y)->labels);
}

static void ps_fmt(am_buf *b, const ps *v, size_t n)
{
    if (n == 0) {
        am_buf_puts(b, "nil");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        char num[AM_GOFMT_MAX];
        if (i)
            am_buf_puts(b, ", ");
        am__labels_fmt(b, v[i].labels);
        am_buf_putc(b, ' ');
        am_buf_append(b, num, am__fmt_go_E(num, v[i].value));
    }
}

static void check_expr(tg *t, const am_ynode *test)
{
    ctx *c = t->c;
    const am_ynode *ne = am__y_get(test, "expr");
    const char *expr = ne && ne->kind == AM_Y_SCALAR ? ne->str : "";
    int64_t at;
    dur_of(am__y_get(test, "eval_time"), &at);
    char when[64];
    fmt_dur(when, sizeof when, at);
    am_buf q;
    am_buf_init(&q, 0);
    am__go_quote(&q, expr, strlen(expr));
    am_promql *pq;
    char err[1024];
    am_promql_result *res = NULL;
    am_err rc = am_promql_parse(expr, &pq, err, sizeof err);
    if (!rc) {
        rc = am_promql_eval(t->db, pq, at, &t->qopts, &res, err, sizeof err);
        am_promql_free(pq);
    }
    const am_value *v = res ? am__promql_result_value(res) : NULL;
    if (!rc && v->type != AM_PQL_VECTOR && v->type != AM_PQL_SCALAR) {
        snprintf(err, sizeof err, "rule result is not a vector or scalar");
        rc = AM_EINVAL;
    }
    if (rc) {
        add_errf(c, "    expr: %s, time: %s, err: %s", q.p, when, err);
        am_promql_result_free(res);
        am_buf_free(&q);
        return;
    }
    ps *got;
    size_t n_got = v->type == AM_PQL_SCALAR ? 1 : v->vec.n;
    got = am__arena_alloc(&c->a, (n_got + 1) * sizeof *got);
    if (v->type == AM_PQL_SCALAR) {
        got[0].labels = (am_lset *)&am__labels_empty;
        got[0].value = v->scalar;
    } else {
        for (size_t i = 0; i < n_got; i++) {
            got[i].labels = am__labels_copy(&c->a, v->vec.s[i].l);
            got[i].value = v->vec.s[i].v;
        }
    }
    am_promql_result_free(res);
    const am_ynode *es = am__y_get(test, "exp_samples");
    size_t n_exp = es && es->kind == AM_Y_SEQ ? es->n : 0;
    ps *exp = am__arena_alloc(&c->a, (n_exp + 1) * sizeof *exp);
    for (size_t i = 0; i < n_exp; i++) {
        const am_ynode *ln = am__y_get(es->items[i], "labels");
        const char *ls = ln && ln->kind == AM_Y_SCALAR ? ln->str : "";
        if (am__parse_metric(ls, &c->a, &exp[i].labels, err, sizeof err)) {
            add_errf(c, "    expr: %s, time: %s, err: labels \"%s\": %s", q.p, when, ls, err);
            am_buf_free(&q);
            return;
        }
        exp[i].value = 0;
        const am_ynode *vn = am__y_get(es->items[i], "value");
        if (vn && !yaml_float(vn, &exp[i].value)) {
            add_errf(c,
                     "yaml: unmarshal errors:\n  line %d: cannot unmarshal !!str `%s` into "
                     "float64",
                     vn->line, vn->kind == AM_Y_SCALAR ? vn->str : "?");
            am_buf_free(&q);
            return;
        }
    }
    qsort(got, n_got, sizeof *got, ps_cmp);
    qsort(exp, n_exp, sizeof *exp, ps_cmp);
    bool same = n_got == n_exp;
    for (size_t i = 0; same && i < n_got; i++)
        same = am__labels_cmp(got[i].labels, exp[i].labels) == 0 && got[i].value == exp[i].value;
    if (!same) {
        am_buf b;
        am_buf_init(&b, 0);
        am_buf_printf(&b, "    expr: %s, time: %s,\n        exp: ", q.p, when);
        ps_fmt(&b, exp, n_exp);
        am_buf_puts(&b, "\n        got: ");
        ps_fmt(&b, got, n_got);
        add_err(c, b.p ? b.p : "");
        am_buf_free(&b);
    }
    am_buf_free(&q);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void run_group(ctx *c, const am_ynode *test, int64_t eval_interval, char **rule_files,
                      size_t n_files, const char *const *order, size_t n_order)
{
    static const char *const KEYS[] = {"interval",
                                       "input_series",
                                       "alert_rule_test",
                                       "promql_expr_test",
                                       "external_labels",
                                       "external_url",
                                       "name",
                                       NULL};
    if (!check_keys(c, test, KEYS, "main.testGroup"))
        return;
    tg t;
    memset(&t, 0, sizeof t);
    t.c = c;
    int64_t interval;
    if (!dur_of(am__y_get(test, "interval"), &interval)) {
        add_errf(c, "not a valid duration string for interval");
        return;
    }
    if (!interval)
        interval = eval_interval;
    const am_ynode *nn = am__y_get(test, "name");
    t.name = nn && nn->kind == AM_Y_SCALAR && nn->len ? nn->str : NULL;
    const am_ynode *nu = am__y_get(test, "external_url");
    t.ext_url = nu && nu->kind == AM_Y_SCALAR ? nu->str : "";
    am_label *ep;
    size_t en;
    if (!string_map(am__y_get(test, "external_labels"), &c->a, &ep, &en)) {
        add_errf(c, "external_labels: not a map of strings");
        return;
    }
    t.ext = am__labels_new(&c->a, ep, en);

    /* the input series */
    const am_ynode *in = am__y_get(test, "input_series");
    size_t n_in = in && in->kind == AM_Y_SEQ ? in->n : 0;
    t.series = am__arena_zalloc(&c->a, (n_in + 1) * sizeof *t.series);
    char err[1024];
    for (size_t i = 0; i < n_in; i++) {
        const am_ynode *sn = am__y_get(in->items[i], "series"),
                       *vn = am__y_get(in->items[i], "values");
        const char *ss = sn && sn->kind == AM_Y_SCALAR ? sn->str : "";
        const char *vs = vn && vn->kind == AM_Y_SCALAR ? vn->str : "";
        tseries *s = &t.series[t.n_series];
        if (am__parse_metric(ss, &c->a, &s->labels, err, sizeof err) ||
            am__parse_values(vs, &c->a, MAX_SAMPLES_PER_SERIES, &s->v, &s->n, err, sizeof err)) {
            add_errf(c, "%s", err);
            return;
        }
        t.n_series++;
    }

    /* fresh rules and window for each test group */
    am_buf rerrs;
    am_buf_init(&rerrs, 0);
    if (am_ruleset_load((const char *const *)rule_files, n_files, &t.rs, &rerrs)) {
        const char *p = rerrs.p ? rerrs.p : "";
        while (*p) {
            const char *nl = strchr(p, '\n');
            size_t l = nl ? (size_t)(nl - p) : strlen(p);
            char *one = am__arena_strndup(&c->a, p, l);
            add_err(c, one);
            p += l + (nl ? 1 : 0);
        }
        am_buf_free(&rerrs);
        return;
    }
    am_buf_free(&rerrs);
    am_tsdb_opts to = AM_TSDB_OPTS_INIT;
    to.retention_ms = INT64_MAX / 4;
    if (am_tsdb_new(&to, &t.db) || am_tsdb_src_new(t.db, false, &t.input)) {
        add_errf(c, "out of memory");
        am_ruleset_free(t.rs);
        am_tsdb_free(t.db);
        return;
    }
    am_promql_opts qo = AM_PROMQL_OPTS_INIT;
    t.qopts = qo;
    t.rc.db = t.db;
    t.rc.qopts = &t.qopts;
    t.rc.external_labels = t.ext;
    t.rc.external_url = t.ext_url;
    t.rc.default_interval_ms = interval;
    t.rc.resend_delay_ms = 60000;
    t.rc.restore_all = true;
    /* evaluation order: group_eval_order's position, file order for ties */
    t.order = am__arena_alloc(&c->a, (t.rs->n + 1) * sizeof *t.order);
    size_t *rank = am__arena_alloc(&c->a, (t.rs->n + 1) * sizeof *rank);
    for (size_t i = 0; i < t.rs->n; i++) {
        t.order[i] = t.rs->groups[i];
        rank[i] = 0;
        for (size_t k = 0; k < n_order; k++)
            if (strcmp(order[k], t.rs->groups[i]->name) == 0)
                rank[i] = k;
    }
    for (size_t i = 1; i < t.rs->n; i++)
        for (size_t j = i; j > 0 && rank[j - 1] > rank[j]; j--) {
            am_rgroup *g = t.order[j];
            t.order[j] = t.order[j - 1];
            t.order[j - 1] = g;
            size_t r = rank[j];
            rank[j] = rank[j - 1];
            rank[j - 1] = r;
        }

    /* the evaluation times that alert tests look at */
    const am_ynode *at = am__y_get(test, "alert_rule_test"),
                   *pt = am__y_get(test, "promql_expr_test");
    size_t n_at = at && at->kind == AM_Y_SEQ ? at->n : 0,
           n_pt = pt && pt->kind == AM_Y_SEQ ? pt->n : 0;
    int64_t max_t = 0;
    int64_t *times = am__arena_alloc(&c->a, (n_at + 1) * sizeof *times);
    size_t n_times = 0;
    for (size_t i = 0; i < n_at; i++) {
        int64_t e;
        static const char *const AK[] = {"eval_time", "alertname", "exp_alerts", NULL};
        if (!check_keys(c, at->items[i], AK, "main.alertTestCase"))
            goto out;
        dur_of(am__y_get(at->items[i], "eval_time"), &e);
        const am_ynode *an = am__y_get(at->items[i], "alertname");
        if (!an || an->kind != AM_Y_SCALAR || !an->len) {
            char w[64];
            fmt_dur(w, sizeof w, e);
            if (t.name)
                add_errf(c,
                         "an item under alert_rule_test misses required attribute alertname "
                         "at eval_time %s (in TestGroup %s)",
                         w, t.name);
            else
                add_errf(c,
                         "an item under alert_rule_test misses required attribute alertname "
                         "at eval_time %s",
                         w);
            goto out;
        }
        if (e > max_t)
            max_t = e;
        bool dup = false;
        for (size_t k = 0; k < n_times; k++)
            dup |= times[k] == e;
        if (!dup)
            times[n_times++] = e;
    }
    for (size_t i = 0; i < n_pt; i++) {
        int64_t e;
        static const char *const PK[] = {"expr", "eval_time", "exp_samples", NULL};
        if (!check_keys(c, pt->items[i], PK, "main.promqlTestCase"))
            goto out;
        dur_of(am__y_get(pt->items[i], "eval_time"), &e);
        if (e > max_t)
            max_t = e;
    }
    qsort(times, n_times, sizeof *times, cmp_i64);
    size_t cur = 0;
    for (int64_t ts = 0; ts <= max_t; ts += eval_interval) {
        load_till(&t, ts, interval);
        bool failed = false;
        for (size_t g = 0; g < t.rs->n; g++) {
            am__group_eval(t.order[g], &t.rc, ts);
            for (size_t i = 0; i < t.order[g]->n; i++) {
                am_rule *r = t.order[g]->rules[i];
                if (r->health == 2) {
                    char w[64];
                    fmt_go_time_dur(w, sizeof w, ts);
                    add_errf(c, "    rule: %s, time: %s, err: %s", r->name, w, r->last_error);
                    failed = true;
                }
            }
        }
        if (failed)
            goto out;
        while (cur < n_times && ts <= times[cur] && times[cur] < ts + eval_interval) {
            for (size_t i = 0; i < n_at; i++) {
                int64_t e;
                dur_of(am__y_get(at->items[i], "eval_time"), &e);
                if (e == times[cur])
                    check_alerts(&t, at->items[i], e);
            }
            cur++;
        }
        if (eval_interval <= 0)
            break;
    }
    for (size_t i = 0; i < n_pt; i++)
        check_expr(&t, pt->items[i]);
out:
    am_ruleset_free(t.rs);
    am_tsdb_src_free(t.db, t.input);
    am_tsdb_free(t.db);
}

/* ------------------------------------------------------------ one file */

static bool run_file(const char *path, FILE *out, FILE *errf)
{
    ctx c;
    memset(&c, 0, sizeof c);
    am__arena_init(&c.a, NULL);
    am_buf_init(&c.errs, 0);
    c.file = path;
    fprintf(out, "Unit Testing:  %s\n", path);
    char *text = NULL;
    size_t len;
    am_ynode *root = NULL;
    char err[1024];
    char **files = NULL;
    size_t n_files = 0;
    if (am__read_file(path, &text, &len)) {
        add_errf(&c, "%s", am_errmsg());
        goto report;
    }
    if (am__yaml_load(text, len, &c.a, &root, err, sizeof err)) {
        add_errf(&c, "yaml: %s", err);
        goto report;
    }
    static const char *const KEYS[] = {"rule_files", "evaluation_interval", "group_eval_order",
                                       "tests", NULL};
    if (!root) {
        root = am__arena_zalloc(&c.a, sizeof *root);
        root->kind = AM_Y_MAP;
    }
    if (!check_keys(&c, root, KEYS, "main.unitTestFile"))
        goto report;
    int64_t eval_interval;
    if (!dur_of(am__y_get(root, "evaluation_interval"), &eval_interval)) {
        add_errf(&c, "not a valid duration string for evaluation_interval");
        goto report;
    }
    if (!eval_interval)
        eval_interval = 60000;

    /* rule files: relative to the test file, globs expanded */
    char *dir_copy = am__arena_strdup(&c.a, path);
    const char *dir = dirname(dir_copy);
    const am_ynode *rf = am__y_get(root, "rule_files");
    size_t cap = 0;
    for (size_t i = 0; rf && rf->kind == AM_Y_SEQ && i < rf->n; i++) {
        const char *pat = rf->items[i]->str ? rf->items[i]->str : "";
        char full[4096];
        if (pat[0] == '/')
            snprintf(full, sizeof full, "%s", pat);
        else
            snprintf(full, sizeof full, "%s/%s", dir, pat);
        glob_t g;
        int grc = glob(full, 0, NULL, &g);
        if (grc == GLOB_NOMATCH || (grc == 0 && g.gl_pathc == 0)) {
            fprintf(errf, "  WARNING: no file match pattern %s\n", full);
        } else if (grc == 0) {
            for (size_t k = 0; k < g.gl_pathc; k++) {
                files = am__arena_grow(&c.a, files, &cap, n_files + 1, sizeof *files);
                files[n_files++] = am__arena_strdup(&c.a, g.gl_pathv[k]);
            }
        }
        if (grc == 0)
            globfree(&g);
    }
    const am_ynode *go = am__y_get(root, "group_eval_order");
    size_t n_order = go && go->kind == AM_Y_SEQ ? go->n : 0;
    const char **order = am__arena_alloc(&c.a, (n_order + 1) * sizeof *order);
    for (size_t i = 0; i < n_order; i++) {
        order[i] = go->items[i]->str ? go->items[i]->str : "";
        for (size_t k = 0; k < i; k++)
            if (strcmp(order[k], order[i]) == 0) {
                add_errf(&c, "group name repeated in evaluation order: %s", order[i]);
                goto report;
            }
    }
    const am_ynode *tests = am__y_get(root, "tests");
    for (size_t i = 0; tests && tests->kind == AM_Y_SEQ && i < tests->n; i++)
        run_group(&c, tests->items[i], eval_interval, files, n_files, order, n_order);
report:
    if (c.n_errs) {
        fprintf(errf, "  FAILED:\n");
        const char *p = c.errs.p ? c.errs.p : "";
        for (;;) {
            const char *sep = strchr(p, '\x1e');
            size_t l = sep ? (size_t)(sep - p) : strlen(p);
            fprintf(errf, "%.*s\n", (int)l, p);
            fprintf(out, "\n");
            if (!sep)
                break;
            p = sep + 1;
        }
    } else {
        fprintf(out, "  SUCCESS\n");
    }
    fprintf(out, "\n");
    bool ok = c.n_errs == 0;
    am__free(text);
    am_buf_free(&c.errs);
    am__arena_free(&c.a);
    return ok;
}

int am_rules_test(const char *const *paths, size_t n, FILE *out, FILE *err)
{
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        fflush(out);
        if (!run_file(paths[i], out, err))
            rc = 1;
        fflush(err);
    }
    return rc;
}
