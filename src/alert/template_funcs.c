/*
** template_funcs.c: the functions of the template subset (template.h):
** text/template's builtins (and, or, not, comparisons with Go's type
** rules, len, index, print, printf, println, html, urlquery) and
** Prometheus' (query, first, label, value, humanize..., title, match,
** reReplaceAll, ...), each as Go and Prometheus compute it.
*/
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../util/fmt.h"
#include "../util/number.h"
#include "promql.h"
#include "promql_fmt.h"
#include "regex.h"
#include "template_int.h"

const char *const am__tmpl_funcs[] = {
    "and",
    "or",
    "not",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "len",
    "index",
    "print",
    "printf",
    "println",
    "html",
    "urlquery",
    "query",
    "first",
    "label",
    "value",
    "strvalue",
    "sortByLabel",
    "humanize",
    "humanize1024",
    "humanizeDuration",
    "humanizePercentage",
    "humanizeTimestamp",
    "title",
    "toUpper",
    "toLower",
    "match",
    "reReplaceAll",
    "safeHtml",
    "stripPort",
    "externalURL",
    "pathPrefix",
    "tableLink",
    "graphLink",
    "parseDuration",
    "args",
};
const size_t am__tmpl_n_funcs = sizeof am__tmpl_funcs / sizeof am__tmpl_funcs[0];

/* Go's and Prometheus' other template functions: known, not ours. */
const char *const am__tmpl_other_funcs[] = {"call",        "slice",  "js",
                                            "stripDomain", "toTime", "humanizeDurationMs"};
const size_t am__tmpl_n_other_funcs = sizeof am__tmpl_other_funcs / sizeof am__tmpl_other_funcs[0];

/* ------------------------------------------------------------ builtins */

typedef enum { K_INVALID, K_BOOL, K_INT, K_FLOAT, K_STRING } bkind;

static bkind basic(const tval *v)
{
    switch (v->k) {
    case V_BOOL:
        return K_BOOL;
    case V_INT:
        return K_INT;
    case V_FLOAT:
        return K_FLOAT;
    case V_STR:
        return K_STRING;
    default:
        return K_INVALID;
    }
}

static bool equal(exec *x, const char *fn, const tval *a, const tval *b)
{
    bkind ka = basic(a), kb = basic(b);
    if (ka != kb) {
        if (a->k != V_NIL && b->k != V_NIL)
            am__t_err(x, "error calling %s: incompatible types for comparison", fn);
        return false;
    }
    switch (ka) {
    case K_BOOL:
        return a->b == b->b;
    case K_INT:
        return a->i == b->i;
    case K_FLOAT:
        return a->f == b->f;
    case K_STRING:
        return strcmp(a->s, b->s) == 0;
    default:
        am__t_err(x, "error calling %s: invalid type for comparison", fn);
    }
}

static bool less(exec *x, const char *fn, const tval *a, const tval *b)
{
    bkind ka = basic(a), kb = basic(b);
    if (ka == K_INVALID || kb == K_INVALID || ka == K_BOOL || kb == K_BOOL)
        am__t_err(x, "error calling %s: invalid type for comparison", fn);
    if (ka != kb)
        am__t_err(x, "error calling %s: incompatible types for comparison", fn);
    switch (ka) {
    case K_INT:
        return a->i < b->i;
    case K_FLOAT:
        return a->f < b->f;
    default:
        return strcmp(a->s, b->s) < 0;
    }
}

static void go_printf(exec *x, am_buf *b, const char *f, const tval *args, size_t n)
{
    size_t ai = 0;
    for (const char *p = f; *p; p++) {
        if (*p != '%') {
            am_buf_putc(b, *p);
            continue;
        }
        p++;
        if (*p == '%') {
            am_buf_putc(b, '%');
            continue;
        }
        /* flags, width, precision, as fmt reads them; widths and
           precisions past 10000 are refused (Go's limit is 1e6) */
        char spec[48];
        size_t sl = 0;
        spec[sl++] = '%';
        while (*p && strchr("+- #0", *p)) {
            if (sl < 8)
                spec[sl++] = *p;
            p++;
        }
        long width = -1, prec = -1;
        bool bad = false;
        if (isdigit((unsigned char)*p)) {
            width = 0;
            while (isdigit((unsigned char)*p)) {
                if (width <= 10000)
                    width = width * 10 + (*p - '0');
                p++;
            }
            bad |= width > 10000;
        }
        if (*p == '.') {
            p++;
            prec = 0;
            while (isdigit((unsigned char)*p)) {
                if (prec <= 10000)
                    prec = prec * 10 + (*p - '0');
                p++;
            }
            bad |= prec > 10000;
        }
        if (bad) {
            am_buf_puts(b, "%!(BADWIDTH)");
            if (!*p)
                break;
            continue;
        }
        if (width >= 0)
            sl += (size_t)snprintf(spec + sl, sizeof spec - sl, "%ld", width);
        if (prec >= 0)
            sl += (size_t)snprintf(spec + sl, sizeof spec - sl, ".%ld", prec);
        char verb = *p;
        if (!verb) {
            am_buf_puts(b, "%!(NOVERB)");
            break;
        }
        if (ai >= n) {
            am_buf_printf(b, "%%!%c(MISSING)", verb);
            continue;
        }
        const tval *a = &args[ai++];
        char out[AM_GOFMT_MAX + 64];
        switch (verb) {
        case 'v':
        case 's':
            if (verb == 's' && (a->k == V_INT || a->k == V_FLOAT)) {
                am_buf_printf(b, "%%!s(%s=", am__t_type(a));
                am__t_print(x, b, a);
                am_buf_putc(b, ')');
            } else {
                spec[sl++] = 's';
                spec[sl] = '\0';
                am_buf_printf(b, spec, am__t_string(x, a));
            }
            break;
        case 'd':
        case 'x':
        case 'X':
        case 'o':
            if (a->k == V_INT) {
                spec[sl++] = 'l';
                spec[sl++] = 'l';
                spec[sl++] = verb;
                spec[sl] = '\0';
                am_buf_printf(b, spec, (long long)a->i);
            } else if ((verb == 'x' || verb == 'X') && a->k == V_STR) {
                for (const char *c = a->s; *c; c++)
                    am_buf_printf(b, verb == 'x' ? "%02x" : "%02X", (unsigned char)*c);
            } else {
                am_buf_printf(b, "%%!%c(%s=", verb, am__t_type(a));
                am__t_print(x, b, a);
                am_buf_putc(b, ')');
            }
            break;
        case 'f':
        case 'F':
        case 'e':
        case 'E':
        case 'g':
        case 'G':
            if (a->k == V_FLOAT || a->k == V_INT) {
                double v = a->k == V_FLOAT ? a->f : (double)a->i;
                if (a->k == V_INT) {
                    am_buf_printf(b, "%%!%c(int=%lld)", verb, (long long)a->i);
                    break;
                }
                if (!isfinite(v)) {
                    am_buf_puts(b, isnan(v) ? "NaN"
                                   : v > 0  ? (strchr(spec, '+') ? "+Inf" : "+Inf")
                                            : "-Inf");
                    break;
                }
                spec[sl++] = verb;
                spec[sl] = '\0';
                snprintf(out, sizeof out, spec, v);
                am_buf_puts(b, out);
            } else {
                am_buf_printf(b, "%%!%c(%s=", verb, am__t_type(a));
                am__t_print(x, b, a);
                am_buf_putc(b, ')');
            }
            break;
        case 'q':
            if (a->k == V_STR)
                am__go_quote(b, a->s, strlen(a->s));
            else {
                am_buf_printf(b, "%%!q(%s=", am__t_type(a));
                am__t_print(x, b, a);
                am_buf_putc(b, ')');
            }
            break;
        case 't':
            if (a->k == V_BOOL)
                am_buf_puts(b, a->b ? "true" : "false");
            else {
                am_buf_printf(b, "%%!t(%s=", am__t_type(a));
                am__t_print(x, b, a);
                am_buf_putc(b, ')');
            }
            break;
        default:
            am_buf_printf(b, "%%!%c(%s=", verb, am__t_type(a));
            am__t_print(x, b, a);
            am_buf_putc(b, ')');
        }
    }
    if (ai < n) {
        am_buf_puts(b, "%!(EXTRA ");
        for (size_t i = ai; i < n; i++) {
            if (i > ai)
                am_buf_puts(b, ", ");
            am_buf_printf(b, "%s=", am__t_type(&args[i]));
            am__t_print(x, b, &args[i]);
        }
        am_buf_putc(b, ')');
    }
}

/* %.4g as Go writes it. */
static void g4(am_buf *b, double v)
{
    char out[AM_GOFMT_MAX];
    am_buf_append(b, out, am__fmt_go_prec(out, sizeof out, v, 'g', 4));
}

/*
** v with an SI (or binary) prefix, as Prometheus' humanize functions
** scale: up by base while |v| >= base, or down by 1000 while |v| < 1.
** %.4g of the scaled value, then the prefix.
*/
static void scaled(am_buf *b, double v, double base, bool down)
{
    static const char *const UP[] = {"k", "M", "G", "T", "P", "E", "Z", "Y"};
    static const char *const BIN[] = {"ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"};
    static const char *const DOWN[] = {"m", "u", "n", "p", "f", "a", "z", "y"};
    const char *prefix = "";
    for (size_t i = 0; i < 8; i++) {
        if (down ? fabs(v) >= 1 : fabs(v) < base)
            break;
        prefix = down ? DOWN[i] : base == 1024 ? BIN[i] : UP[i];
        v = down ? v * 1000 : v / base;
    }
    g4(b, v);
    am_buf_puts(b, prefix);
}

static const char *humanize(exec *x, double v, bool k1024)
{
    am_buf b;
    am_buf_init(&b, 0);
    if (k1024 && (fabs(v) <= 1 || isnan(v) || isinf(v)))
        g4(&b, v);
    else if (k1024)
        scaled(&b, v, 1024, false);
    else if (v == 0 || isnan(v) || isinf(v))
        g4(&b, v);
    else
        scaled(&b, v, 1000, fabs(v) < 1);
    const char *s = am__arena_strdup(&x->a, b.p ? b.p : "");
    am_buf_free(&b);
    return s;
}

static const char *humanize_duration(exec *x, double v)
{
    am_buf b;
    am_buf_init(&b, 0);
    if (isnan(v) || isinf(v)) {
        g4(&b, v);
    } else if (v == 0) {
        g4(&b, v);
        am_buf_putc(&b, 's');
    } else if (fabs(v) >= 1) {
        const char *sign = "";
        if (v < 0) {
            sign = "-";
            v = -v;
        }
        int64_t d = am__num_to_int64_go(v);
        int64_t sec = d % 60, min = (d / 60) % 60, hour = (d / 3600) % 24, days = d / 86400;
        if (days)
            am_buf_printf(&b, "%s%lldd %lldh %lldm %llds", sign, (long long)days, (long long)hour,
                          (long long)min, (long long)sec);
        else if (hour)
            am_buf_printf(&b, "%s%lldh %lldm %llds", sign, (long long)hour, (long long)min,
                          (long long)sec);
        else if (min)
            am_buf_printf(&b, "%s%lldm %llds", sign, (long long)min, (long long)sec);
        else {
            am_buf_puts(&b, sign);
            g4(&b, v);
            am_buf_putc(&b, 's');
        }
    } else {
        scaled(&b, v, 1000, true);
        am_buf_putc(&b, 's');
    }
    const char *s = am__arena_strdup(&x->a, b.p ? b.p : "");
    am_buf_free(&b);
    return s;
}

/* time.Time.String() of a UTC time with ms precision. */
static const char *humanize_timestamp(exec *x, double v)
{
    double ns = v * 1e9;
    if (isfinite(v) && (ns > 9.2233720368547758e18 || ns < -9.2233720368547758e18))
        am__t_err(x,
                  "error calling humanizeTimestamp: %g cannot be represented as a nanoseconds "
                  "timestamp since it overflows int64",
                  v);
    am_buf b;
    am_buf_init(&b, 0);
    if (isnan(v) || isinf(v)) {
        g4(&b, v);
    } else {
        int64_t ms = (int64_t)ns / 1000000;
        int64_t s = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
        int64_t frac = ms - s * 1000;
        time_t tt = (time_t)s;
        struct tm tm;
        gmtime_r(&tt, &tm);
        am_buf_printf(&b, "%04d-%02d-%02d %02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                      tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        if (frac) {
            char f[24];
            snprintf(f, sizeof f, ".%03lld", (long long)frac);
            size_t l = strlen(f);
            while (l > 1 && f[l - 1] == '0')
                f[--l] = '\0';
            am_buf_puts(&b, f);
        }
        am_buf_puts(&b, " +0000 UTC");
    }
    const char *s = am__arena_strdup(&x->a, b.p ? b.p : "");
    am_buf_free(&b);
    return s;
}

static tval run_query(exec *x, const char *q)
{
    if (!x->d->db)
        am__t_err(x, "error calling query: no query engine here");
    am_promql *pq;
    char err[400];
    if (am_promql_parse(q, &pq, err, sizeof err))
        am__t_err(x, "error calling query: %s", err);
    am_promql_result *r;
    am_promql_opts def = AM_PROMQL_OPTS_INIT;
    am_err rc = am_promql_eval(x->d->db, pq, x->d->ts_ms, x->d->qopts ? x->d->qopts : &def, &r, err,
                               sizeof err);
    if (rc) {
        am_promql_free(pq);
        am__t_err(x, "error calling query: %s", err);
    }
    tval v = {V_SAMPLES, false, 0, 0, NULL, NULL, NULL, 0};
    const am_value *rv = am__promql_result_value(r);
    if (rv->type == AM_PQL_SCALAR) {
        v.samples = am__arena_alloc(&x->a, sizeof *v.samples);
        v.samples[0].labels = &am__labels_empty;
        v.samples[0].value = rv->scalar;
        v.n = 1;
    } else if (rv->type == AM_PQL_VECTOR) {
        v.samples = am__arena_alloc(&x->a, (rv->vec.n ? rv->vec.n : 1) * sizeof *v.samples);
        for (size_t i = 0; i < rv->vec.n; i++) {
            v.samples[i].labels = am__labels_copy(&x->a, rv->vec.s[i].l);
            v.samples[i].value = rv->vec.s[i].v;
        }
        v.n = rv->vec.n;
    } else {
        am_promql_result_free(r);
        am_promql_free(pq);
        am__t_err(x, "error calling query: rule result is not a vector or scalar");
    }
    am_promql_result_free(r);
    am_promql_free(pq);
    return v;
}

static const char *title(exec *x, const char *s)
{
    char *o = am__arena_strdup(&x->a, s);
    bool prev_sep = true;
    for (char *c = o; *c; c++) {
        unsigned char u = (unsigned char)*c;
        bool sep = !(isalnum(u) || u == '_' || u >= 0x80);
        if (prev_sep && !sep)
            *c = (char)toupper(u);
        prev_sep = sep;
    }
    return o;
}

static tval *need(exec *x, const char *fn, tval *v, size_t n, size_t want)
{
    if (n != want)
        am__t_err(x, "wrong number of args for %s: want %zu got %zu", fn, want, n);
    return v;
}

static const char *str_of(exec *x, const char *fn, const tval *v)
{
    if (v->k != V_STR)
        am__t_err(x, "error calling %s: wrong type for value; expected string; got %s", fn,
                  am__t_type(v));
    return v->s;
}

tval am__t_call(exec *x, int fn, const arg *args, size_t n, const tval *piped, const tval *dot)
{
    const char *name = am__tmpl_funcs[fn];
    if (++x->steps > 100000)
        am__t_err(x, "template too expensive");
    /* and / or evaluate lazily, as Go 1.18+ */
    if (fn == F_AND || fn == F_OR) {
        size_t total = n + (piped ? 1 : 0);
        if (total < 1)
            am__t_err(x, "wrong number of args for %s: want at least 1 got 0", name);
        tval v = {V_NIL, false, 0, 0, NULL, NULL, NULL, 0};
        for (size_t i = 0; i < total; i++) {
            v = i < n ? am__t_eval_arg(x, &args[i], dot) : *piped;
            if (am__t_truth(&v) == (fn == F_OR))
                return v;
        }
        return v;
    }
    size_t total = n + (piped ? 1 : 0);
    tval *a = am__arena_alloc(&x->a, (total ? total : 1) * sizeof *a);
    for (size_t i = 0; i < n; i++)
        a[i] = am__t_eval_arg(x, &args[i], dot);
    if (piped)
        a[n] = *piped;
    tval r = {V_NIL, false, 0, 0, NULL, NULL, NULL, 0};
    am_buf b;
    switch ((fid)fn) {
    case F_NOT:
        return v_bool(!am__t_truth(need(x, name, a, total, 1)));
    case F_EQ: {
        if (total < 2)
            am__t_err(x, "error calling eq: missing argument for comparison");
        for (size_t i = 1; i < total; i++)
            if (equal(x, name, &a[0], &a[i]))
                return v_bool(true);
        return v_bool(false);
    }
    case F_NE:
        need(x, name, a, total, 2);
        return v_bool(!equal(x, name, &a[0], &a[1]));
    case F_LT:
        need(x, name, a, total, 2);
        return v_bool(less(x, name, &a[0], &a[1]));
    case F_LE:
        need(x, name, a, total, 2);
        return v_bool(less(x, name, &a[0], &a[1]) || equal(x, name, &a[0], &a[1]));
    case F_GT:
        need(x, name, a, total, 2);
        return v_bool(!less(x, name, &a[0], &a[1]) && !equal(x, name, &a[0], &a[1]));
    case F_GE:
        need(x, name, a, total, 2);
        return v_bool(!less(x, name, &a[0], &a[1]));
    case F_LEN: {
        tval v = *need(x, name, a, total, 1);
        r.k = V_INT;
        if (v.k == V_STR)
            r.i = (int64_t)strlen(v.s);
        else if (v.k == V_MAP)
            r.i = v.map->n;
        else if (v.k == V_SAMPLES)
            r.i = (int64_t)v.n;
        else
            am__t_err(x, "error calling len: len of type %s", am__t_type(&v));
        return r;
    }
    case F_INDEX: {
        if (total < 1)
            am__t_err(x, "wrong number of args for index: want at least 1 got 0");
        tval v = a[0];
        for (size_t i = 1; i < total; i++) {
            if (v.k == V_MAP && a[i].k == V_STR)
                v = v_str(am__labels_val(v.map, a[i].s));
            else if (v.k == V_SAMPLES && a[i].k == V_INT) {
                if (a[i].i < 0 || (size_t)a[i].i >= v.n)
                    am__t_err(x, "error calling index: index out of range: %lld",
                              (long long)a[i].i);
                tval s = {V_SAMPLE, false, 0, 0, NULL, NULL, &v.samples[a[i].i], 1};
                v = s;
            } else
                am__t_err(x, "error calling index: cannot index %s with %s", am__t_type(&v),
                          am__t_type(&a[i]));
        }
        return v;
    }
    case F_PRINT:
    case F_PRINTLN:
        am_buf_init(&b, 0);
        for (size_t i = 0; i < total; i++) {
            if (i && (fn == F_PRINTLN || (a[i].k != V_STR && a[i - 1].k != V_STR)))
                am_buf_putc(&b, ' ');
            am__t_print(x, &b, &a[i]);
        }
        if (fn == F_PRINTLN)
            am_buf_putc(&b, '\n');
        r = v_str(am__arena_strdup(&x->a, b.p ? b.p : ""));
        am_buf_free(&b);
        return r;
    case F_PRINTF:
        if (total < 1)
            am__t_err(x, "wrong number of args for printf: want at least 1 got 0");
        am_buf_init(&b, 0);
        go_printf(x, &b, str_of(x, name, &a[0]), a + 1, total - 1);
        r = v_str(am__arena_strdup(&x->a, b.p ? b.p : ""));
        am_buf_free(&b);
        return r;
    case F_HTML:
    case F_SAFEHTML: {
        am_buf_init(&b, 0);
        for (size_t i = 0; i < total; i++) {
            const char *s = am__t_string(x, &a[i]);
            if (fn == F_SAFEHTML) {
                am_buf_puts(&b, s);
                continue;
            }
            for (const char *c = s; *c; c++) {
                switch (*c) {
                case '<':
                    am_buf_puts(&b, "&lt;");
                    break;
                case '>':
                    am_buf_puts(&b, "&gt;");
                    break;
                case '&':
                    am_buf_puts(&b, "&amp;");
                    break;
                case '\'':
                    am_buf_puts(&b, "&#39;");
                    break;
                case '"':
                    am_buf_puts(&b, "&#34;");
                    break;
                default:
                    am_buf_putc(&b, *c);
                }
            }
        }
        r = v_str(am__arena_strdup(&x->a, b.p ? b.p : ""));
        am_buf_free(&b);
        return r;
    }
    case F_URLQUERY:
    case F_TABLELINK:
    case F_GRAPHLINK: {
        am_buf_init(&b, 0);
        const char *s = total ? am__t_string(x, &a[0]) : "";
        if (fn == F_TABLELINK || fn == F_GRAPHLINK)
            am_buf_puts(&b, "/graph?g0.expr=");
        for (const char *c = s; *c; c++) {
            unsigned char u = (unsigned char)*c;
            if (isalnum(u) || strchr("-_.~", u))
                am_buf_putc(&b, (char)u);
            else if (u == ' ')
                am_buf_putc(&b, '+');
            else
                am_buf_printf(&b, "%%%02X", u);
        }
        if (fn == F_TABLELINK)
            am_buf_puts(&b, "&g0.tab=1");
        else if (fn == F_GRAPHLINK)
            am_buf_puts(&b, "&g0.tab=0");
        r = v_str(am__arena_strdup(&x->a, b.p ? b.p : ""));
        am_buf_free(&b);
        return r;
    }
    case F_QUERY:
        return run_query(x, str_of(x, name, need(x, name, a, total, 1)));
    case F_FIRST: {
        tval v = *need(x, name, a, total, 1);
        if (v.k != V_SAMPLES)
            am__t_err(x,
                      "error calling first: wrong type for value; expected template.queryResult; "
                      "got %s",
                      am__t_type(&v));
        if (!v.n)
            am__t_err(x, "error calling first: first() called on vector with no elements");
        tval s = {V_SAMPLE, false, 0, 0, NULL, NULL, v.samples, 1};
        return s;
    }
    case F_LABEL: {
        if (total != 2)
            am__t_err(x, "wrong number of args for label: want 2 got %zu", total);
        if (a[1].k != V_SAMPLE)
            am__t_err(
                x, "error calling label: wrong type for value; expected *template.sample; got %s",
                am__t_type(&a[1]));
        return v_str(am__labels_val(a[1].samples[0].labels, str_of(x, name, &a[0])));
    }
    case F_VALUE:
    case F_STRVALUE: {
        tval v = *need(x, name, a, total, 1);
        if (v.k != V_SAMPLE)
            am__t_err(x,
                      "error calling %s: wrong type for value; expected *template.sample; got %s",
                      name, am__t_type(&v));
        if (fn == F_STRVALUE)
            return v_str(am__labels_val(v.samples[0].labels, "__value__"));
        return v_float(v.samples[0].value);
    }
    case F_SORTBYLABEL: {
        if (total != 2 || a[1].k != V_SAMPLES)
            am__t_err(x, "error calling sortByLabel: wrong arguments");
        const char *l = str_of(x, name, &a[0]);
        tval v = a[1];
        tsample *s = am__arena_alloc(&x->a, (v.n ? v.n : 1) * sizeof *s);
        if (v.n)
            memcpy(s, v.samples, v.n * sizeof *s);
        for (size_t i = 1; i < v.n; i++)
            for (size_t j = i; j > 0 && strcmp(am__labels_val(s[j].labels, l),
                                               am__labels_val(s[j - 1].labels, l)) < 0;
                 j--) {
                tsample t = s[j];
                s[j] = s[j - 1];
                s[j - 1] = t;
            }
        v.samples = s;
        return v;
    }
    case F_HUMANIZE:
    case F_HUMANIZE1024:
        return v_str(
            humanize(x, am__t_float(x, name, need(x, name, a, total, 1)), fn == F_HUMANIZE1024));
    case F_HUMANIZEDURATION:
        return v_str(humanize_duration(x, am__t_float(x, name, need(x, name, a, total, 1))));
    case F_HUMANIZEPERCENTAGE: {
        double v = am__t_float(x, name, need(x, name, a, total, 1)) * 100;
        am_buf_init(&b, 0);
        g4(&b, v);
        am_buf_putc(&b, '%');
        r = v_str(am__arena_strdup(&x->a, b.p ? b.p : ""));
        am_buf_free(&b);
        return r;
    }
    case F_HUMANIZETIMESTAMP:
        return v_str(humanize_timestamp(x, am__t_float(x, name, need(x, name, a, total, 1))));
    case F_TITLE:
        return v_str(title(x, str_of(x, name, need(x, name, a, total, 1))));
    case F_TOUPPER:
    case F_TOLOWER: {
        char *s = am__arena_strdup(&x->a, str_of(x, name, need(x, name, a, total, 1)));
        for (char *c = s; *c; c++)
            *c = (char)(fn == F_TOUPPER ? toupper((unsigned char)*c) : tolower((unsigned char)*c));
        return v_str(s);
    }
    case F_MATCH:
    case F_REREPLACEALL: {
        size_t want = fn == F_MATCH ? 2 : 3;
        if (total != want)
            am__t_err(x, "wrong number of args for %s: want %zu got %zu", name, want, total);
        /* every argument checked before the regex exists: an error
           longjmps, and the regex is not in the arena */
        const char *pat = str_of(x, name, &a[0]);
        const char *s = str_of(x, name, &a[fn == F_MATCH ? 1 : 2]);
        const char *repl = fn == F_MATCH ? NULL : str_of(x, name, &a[1]);
        am_regex *re;
        char err[300];
        if (am__regex_new_find(pat, &re, err, sizeof err))
            am__t_err(x, "error calling %s: %s", name, err);
        if (fn == F_MATCH) {
            bool m = am__regex_match(re, s, strlen(s));
            am__regex_free(re);
            return v_bool(m);
        }
        am_buf_init(&b, 0);
        am__regex_replace_all(re, s, strlen(s), repl, &b);
        am__regex_free(re);
        r = v_str(am__arena_strdup(&x->a, b.p ? b.p : ""));
        am_buf_free(&b);
        return r;
    }
    case F_STRIPPORT: {
        const char *s = str_of(x, name, need(x, name, a, total, 1));
        const char *c = strrchr(s, ':');
        if (!c)
            return v_str(s);
        if (s[0] == '[') {
            const char *e = strchr(s, ']');
            if (e)
                return v_str(am__arena_strndup(&x->a, s + 1, (size_t)(e - s - 1)));
        }
        return v_str(am__arena_strndup(&x->a, s, (size_t)(c - s)));
    }
    case F_EXTERNALURL:
        return v_str(x->d->external_url ? x->d->external_url : "");
    case F_PATHPREFIX: {
        const char *u = x->d->external_url ? x->d->external_url : "";
        const char *p = strstr(u, "://");
        p = p ? strchr(p + 3, '/') : NULL;
        return v_str(p ? p : "");
    }
    case F_PARSEDURATION: {
        const char *s = str_of(x, name, need(x, name, a, total, 1));
        int64_t ms;
        if (!am__go_parse_duration(s, strlen(s), &ms))
            am__t_err(x, "error calling parseDuration: not a valid duration string: \"%s\"", s);
        return v_float((double)ms / 1000);
    }
    case F_ARGS: {
        /* map[arg0:.. arg1:..]: a label set of the printed arguments */
        am_label *p = am__arena_alloc(&x->a, (total ? total : 1) * sizeof *p);
        for (size_t i = 0; i < total; i++) {
            char *k = am__arena_alloc(&x->a, 32);
            snprintf(k, 32, "arg%zu", i);
            p[i].name = k;
            p[i].value = am__t_string(x, &a[i]);
        }
        tval m = {V_MAP, false, 0, 0, NULL, am__labels_new(&x->a, p, total), NULL, 0};
        return m;
    }
    case F_AND:
    case F_OR:
        break; /* evaluated above, short-circuiting their arguments */
    }
    /* every fid has its case (-Wswitch checks it): only and/or get here */
    return r;
}
