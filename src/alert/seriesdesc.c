/*
** seriesdesc.c: promtool's series notation (seriesdesc.h).
**
** The metric half reuses the PromQL lexer (a label matcher list with only
** '='); the values half is its own small lexer, as Prometheus' lexer has a
** separate mode for it: decimal numbers (no hexadecimal), Inf and NaN,
** '+'/'-' signs, 'x' for repetition, '_' for a gap, the word "stale", and
** spaces between items.
*/
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "promql.h"
#include "promql_fmt.h"
#include "seriesdesc.h"
#include "tsdb.h"

am_err am__parse_metric(const char *s, am_arena *a, am_lset **out, char *err, size_t cap)
{
    am_lexer lx;
    size_t n = strlen(s);
    am__lex_init(&lx, s, n);
    am_label *p = NULL;
    size_t np = 0, pcap = 0;
    am_token t = am__lex_next(&lx);
    const char *name = NULL;
    if (t.t == T_IDENT || t.t == T_METRIC_IDENT || t.t >= T_LAND) {
        /* a metric name (keywords too: ParseMetric takes any identifier) */
        name = am__arena_strndup(a, s + t.pos, t.len);
        t = am__lex_next(&lx);
    }
    if (t.t == T_LBRACE) {
        t = am__lex_next(&lx);
        while (t.t != T_RBRACE) {
            if (t.t != T_IDENT)
                goto bad;
            const char *ln = am__arena_strndup(a, s + t.pos, t.len);
            t = am__lex_next(&lx);
            if (t.t != T_ASSIGN)
                goto bad;
            t = am__lex_next(&lx);
            if (t.t != T_STRING)
                goto bad;
            char *val;
            size_t vl;
            if (!am__pql_unquote(s + t.pos, t.len, a, &val, &vl))
                goto bad;
            p = am__arena_grow(a, p, &pcap, np + 1, sizeof *p);
            if (!p)
                return AM_ENOMEM;
            p[np].name = ln;
            p[np].value = val;
            np++;
            t = am__lex_next(&lx);
            if (t.t == T_COMMA)
                t = am__lex_next(&lx);
            else if (t.t != T_RBRACE)
                goto bad;
        }
        t = am__lex_next(&lx);
    } else if (!name) {
        goto bad;
    }
    if (t.t != T_EOF)
        goto bad;
    if (name) {
        p = am__arena_grow(a, p, &pcap, np + 1, sizeof *p);
        if (!p)
            return AM_ENOMEM;
        p[np].name = "__name__";
        p[np].value = name;
        np++;
    }
    const char *dup = am__labels_dup(p, np);
    if (dup) {
        snprintf(err, cap, "1:1: parse error: label %s given twice in %s", dup, s);
        return AM_EINVAL;
    }
    *out = am__labels_new(a, p, np);
    return *out ? AM_OK : AM_ENOMEM;
bad:
    snprintf(err, cap, "%d:%u: parse error: unexpected %s in series \"%s\"", 1,
             (unsigned)(t.pos + 1), t.t == T_ERROR ? lx.err : am__tok_desc(t.t), s);
    return AM_EINVAL;
}

/* ------------------------------------------------------------ values */

typedef struct vlex {
    const char *s;
    size_t n, i;
} vlex;

/* A number of the series lexer: decimal, '.', exponent; or Inf/NaN. */
static bool read_number(vlex *x, double *out)
{
    size_t st = x->i;
    const char *s = x->s;
    if (x->i + 3 <= x->n &&
        (strncasecmp(s + x->i, "inf", 3) == 0 || strncasecmp(s + x->i, "nan", 3) == 0) &&
        (x->i + 3 == x->n || !isalnum((unsigned char)s[x->i + 3]))) {
        *out = tolower((unsigned char)s[x->i]) == 'i' ? INFINITY : NAN;
        x->i += 3;
        return true;
    }
    while (x->i < x->n && isdigit((unsigned char)s[x->i]))
        x->i++;
    if (x->i < x->n && s[x->i] == '.') {
        x->i++;
        while (x->i < x->n && isdigit((unsigned char)s[x->i]))
            x->i++;
    }
    if (x->i < x->n && (s[x->i] == 'e' || s[x->i] == 'E')) {
        x->i++;
        if (x->i < x->n && (s[x->i] == '+' || s[x->i] == '-'))
            x->i++;
        while (x->i < x->n && isdigit((unsigned char)s[x->i]))
            x->i++;
    }
    if (x->i == st)
        return false;
    if (x->i < x->n && s[x->i] != 'x' && isalnum((unsigned char)s[x->i]))
        return false;
    return am__go_parse_float(s + st, x->i - st, out);
}

static bool read_signed(vlex *x, double *out)
{
    double sign = 1;
    if (x->i < x->n && (x->s[x->i] == '+' || x->s[x->i] == '-')) {
        sign = x->s[x->i] == '-' ? -1 : 1;
        x->i++;
    }
    if (!read_number(x, out))
        return false;
    *out *= sign;
    return true;
}

static bool read_uint(vlex *x, uint64_t *out)
{
    size_t st = x->i;
    while (x->i < x->n && isdigit((unsigned char)x->s[x->i]))
        x->i++;
    if (x->i == st || (x->i < x->n && !isspace((unsigned char)x->s[x->i])))
        return false;
    errno = 0;
    char buf[32];
    size_t l = x->i - st;
    if (l >= sizeof buf)
        return false;
    memcpy(buf, x->s + st, l);
    buf[l] = '\0';
    *out = strtoull(buf, NULL, 10);
    return errno == 0;
}

am_err am__parse_values(const char *s, am_arena *a, size_t max, am_seqval **out, size_t *n,
                        char *err, size_t cap)
{
    vlex x = {s, strlen(s), 0};
    am_seqval *v = NULL;
    size_t nv = 0, vcap = 0;
#define PUSH(val, om)                                                                              \
    do {                                                                                           \
        if (nv >= max) {                                                                           \
            snprintf(err, cap, "series values expand to more than %zu samples", max);              \
            return AM_ELIMIT;                                                                      \
        }                                                                                          \
        v = am__arena_grow(a, v, &vcap, nv + 1, sizeof *v);                                        \
        if (!v)                                                                                    \
            return AM_ENOMEM;                                                                      \
        v[nv].v = (val);                                                                           \
        v[nv].is_omitted = (om);                                                                   \
        nv++;                                                                                      \
    } while (0)
    for (;;) {
        while (x.i < x.n && isspace((unsigned char)s[x.i]))
            x.i++;
        if (x.i >= x.n)
            break;
        size_t item = x.i;
        if (s[x.i] == '_') {
            x.i++;
            if (x.i < x.n && s[x.i] == 'x') {
                x.i++;
                uint64_t k;
                if (!read_uint(&x, &k))
                    goto bad;
                for (uint64_t i = 0; i < k; i++)
                    PUSH(0, true);
            } else {
                if (x.i < x.n && !isspace((unsigned char)s[x.i]))
                    goto bad;
                PUSH(0, true);
            }
            continue;
        }
        double val;
        if (x.i + 5 <= x.n && strncmp(s + x.i, "stale", 5) == 0 &&
            (x.i + 5 == x.n || !isalnum((unsigned char)s[x.i + 5]))) {
            x.i += 5;
            val = am__stale_nan();
        } else if (!read_signed(&x, &val)) {
            x.i = item;
            goto bad;
        }
        if (x.i < x.n && (s[x.i] == '+' || s[x.i] == '-')) {
            double inc;
            if (!read_signed(&x, &inc) || x.i >= x.n || s[x.i] != 'x')
                goto bad;
            x.i++;
            uint64_t k;
            if (!read_uint(&x, &k))
                goto bad;
            PUSH(val, false);
            for (uint64_t i = 1; i <= k; i++) {
                val += inc;
                PUSH(val, false);
            }
        } else if (x.i < x.n && s[x.i] == 'x') {
            x.i++;
            uint64_t k;
            if (!read_uint(&x, &k))
                goto bad;
            for (uint64_t i = 0; i <= k; i++)
                PUSH(val, false);
        } else {
            if (x.i < x.n && !isspace((unsigned char)s[x.i]))
                goto bad;
            PUSH(val, false);
        }
    }
#undef PUSH
    *out = v;
    *n = nv;
    return AM_OK;
bad:
    snprintf(err, cap, "1:%zu: parse error: unexpected \"%.20s\" in series values", x.i + 1,
             s + x.i);
    return AM_EINVAL;
}
