/*
** expo_parse.c: Prometheus text 0.0.4 and OpenMetrics 1.0, line by line
** (see expo_parse.h).
**
** DESIGN
** Input arrives in chunks of any size. A complete line is copied into the
** parser's line buffer (the one scratch area, bounded by max_line_bytes)
** and parsed there in place: names are NUL-terminated where they end and
** escaped label values are unescaped over themselves (unescaping never
** lengthens), so the label arrays handed to the callback point into the
** line and no sample allocates. The current family's name, help and unit
** live in three more buffers that grow only when a longer one arrives.
**
** Families. A sample belongs to the current family (the last one a HELP,
** TYPE or UNIT line named, or the last sample's) when its name is the
** family's name plus a suffix that the family's type allows (_total for a
** counter, _bucket/_count/_sum for a histogram, ...). Any other name starts
** a new family without metadata -- untyped in 0.0.4, unknown in
** OpenMetrics -- named as the sample is. This is how Prometheus reads both.
**
** Strictness. Structure is checked as the specs say: names, label syntax
** and escapes, UTF-8 label values and help, numbers, timestamps, duplicate
** labels, duplicate or late metadata, suffixes per type, le on buckets and
** quantile on summary quantiles, exemplars only where OpenMetrics allows
** them, counters and buckets neither negative nor NaN, # EOF last, and in
** OpenMetrics each family name once (a set of the names seen: memory per
** family, never per sample). What
** real exporters emit but the letter of OpenMetrics forbids is accepted in
** both formats: CR before LF, trailing blanks and blank lines. In 0.0.4
** blanks may also separate tokens, as Go's parser allows, and an unknown
** escape in HELP is kept literally, as Python's parser does, and a family
** may come back after another (Go's parser merges them). Histogram
** consistency across lines (cumulative buckets, +Inf present, _count equal
** to the +Inf bucket) and repeated label sets are not checked: Prometheus'
** own parsers do not either.
**
** Numbers are read with strtod_l in the C locale, after a check of the
** grammar Go's ParseFloat and Python's float() share for these formats
** (decimal, exponent, Inf/Infinity/NaN in any case; no hex).
*/
#define _GNU_SOURCE
#include <locale.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../util/alloc.h"
#include "../../util/buf.h"
#include "../../util/error.h"
#include "../../util/validate.h"
#include "../../util/hash.h"
#include "../../util/render.h"
#include "expo_parse.h"

/* Types, in the order of type_names. */
enum {
    T_COUNTER,
    T_GAUGE,
    T_HISTOGRAM,
    T_SUMMARY,
    T_UNTYPED,
    T_GAUGEHISTOGRAM,
    T_STATESET,
    T_INFO,
    T_UNKNOWN,
    N_TYPES
};

static const char *const type_names[N_TYPES] = {
    "counter",        "gauge",    "histogram", "summary", "untyped",
    "gaugehistogram", "stateset", "info",      "unknown",
};

#define EX_MAX_LABELS 32 /* an exemplar's label set is at most 128 runes */

struct am_expo_parser {
    am_expo_format f;
    am_expo_opts o;
    am_buf line; /* the line being parsed, or the start of one carried over */
    size_t lineno;
    am_err err; /* sticky */
    char errmsg[256];
    bool eof_seen;
    bool stopped;
    size_t n_samples;
    /* the current family */
    bool has_family, has_help, has_type, has_unit;
    int type;
    size_t fam_samples;
    am_buf fam_name, fam_help, fam_unit;
    /* label arrays of the sample being parsed: names, values, exemplar's */
    const char **lab;
    const char *ex_lab[2 * EX_MAX_LABELS];
    /* OpenMetrics: the family names seen (values: the parser, unused) */
    am__map seen;
};

static bool is_om(const am_expo_parser *p)
{
    return p->f == AM_EXPO_OPENMETRICS;
}

static am_err bad(am_expo_parser *p, am_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static am_err bad(am_expo_parser *p, am_err code, const char *fmt, ...)
{
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(p->errmsg, sizeof p->errmsg, "%s line %zu: %s",
             is_om(p) ? "OpenMetrics" : "Prometheus text", p->lineno, what);
    p->err = code;
    return am__err(code, "%s", p->errmsg);
}

static void buf_set(am_buf *b, const char *s, size_t n)
{
    b->len = 0;
    if (b->p)
        b->p[0] = '\0';
    am_buf_append(b, s, n);
}

static const char *buf_str(const am_buf *b)
{
    return b->len ? b->p : "";
}

/* ------------------------------------------------------------------ numbers */

static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static locale_t c_locale;

static void c_locale_init(void)
{
    c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

static bool ieq(const char *s, size_t n, const char *word)
{
    return strlen(word) == n && strncasecmp(s, word, n) == 0;
}

/*
** Parse s[0..n) as a float. s[n] must be writable: it is set to NUL for
** strtod and put back.
*/
static bool parse_num(char *s, size_t n, double *out)
{
    size_t i = 0;
    bool neg = false;
    if (n && (s[0] == '+' || s[0] == '-')) {
        neg = s[0] == '-';
        i = 1;
    }
    if (i == n)
        return false;
    /* the common case: a short integer, exact without strtod */
    if (n - i <= 15) {
        uint64_t v = 0;
        size_t j = i;
        while (j < n && s[j] >= '0' && s[j] <= '9')
            v = v * 10 + (uint64_t)(s[j++] - '0');
        if (j == n) {
            *out = neg ? -(double)v : (double)v;
            return true;
        }
    }
    if (ieq(s + i, n - i, "inf") || ieq(s + i, n - i, "infinity")) {
        *out = neg ? -__builtin_inf() : __builtin_inf();
        return true;
    }
    if (ieq(s + i, n - i, "nan")) {
        *out = __builtin_nan("");
        return i == 0; /* no sign on NaN */
    }
    size_t digits = 0, j = i;
    while (j < n && s[j] >= '0' && s[j] <= '9')
        j++, digits++;
    if (j < n && s[j] == '.') {
        j++;
        while (j < n && s[j] >= '0' && s[j] <= '9')
            j++, digits++;
    }
    if (!digits)
        return false;
    if (j < n && (s[j] == 'e' || s[j] == 'E')) {
        j++;
        if (j < n && (s[j] == '+' || s[j] == '-'))
            j++;
        size_t e = j;
        while (j < n && s[j] >= '0' && s[j] <= '9')
            j++;
        if (j == e)
            return false;
    }
    if (j != n)
        return false;
    pthread_once(&c_locale_once, c_locale_init);
    char save = s[n];
    s[n] = '\0';
    char *end;
    *out = c_locale ? strtod_l(s, &end, c_locale) : strtod(s, &end);
    s[n] = save;
    return end == s + n;
}

/* A 0.0.4 timestamp: integer milliseconds that fit int64. */
static bool parse_millis(const char *s, size_t n, double *out)
{
    size_t i = 0;
    bool neg = false;
    if (n && (s[0] == '+' || s[0] == '-')) {
        neg = s[0] == '-';
        i = 1;
    }
    if (i == n || n - i > 18)
        return false;
    int64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = (double)(neg ? -v : v) / 1000.0;
    return true;
}

/* ------------------------------------------------------------------ tokens */

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static size_t skip_blanks(const char *s, size_t i)
{
    while (is_blank(s[i]))
        i++;
    return i;
}

/* Length of the metric name at s, or 0. */
static size_t name_len(const char *s)
{
    size_t i = 0;
    char c = s[0];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':'))
        return 0;
    for (i = 1;; i++) {
        c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == ':'))
            return i;
    }
}

static size_t label_name_len(const char *s)
{
    char c = s[0];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'))
        return 0;
    size_t i = 1;
    for (;; i++) {
        c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return i;
    }
}

/* The end of a token: the next blank (or space in OpenMetrics) or the NUL. */
static size_t token_end(const am_expo_parser *p, const char *s, size_t i)
{
    if (is_om(p)) {
        while (s[i] && s[i] != ' ')
            i++;
    } else {
        while (s[i] && !is_blank(s[i]))
            i++;
    }
    return i;
}

/* Separator between tokens: one space in OpenMetrics, blanks in 0.0.4.
   Returns the index after it, or 0 when there is none. */
static size_t separator(const am_expo_parser *p, const char *s, size_t i)
{
    if (is_om(p))
        return s[i] == ' ' && s[i + 1] != ' ' ? i + 1 : 0;
    if (!is_blank(s[i]))
        return 0;
    return skip_blanks(s, i);
}

/*
** Parse a label set at s + *pos (at '{') into names[k], values[k] in place.
** what: "label" or "exemplar label", for messages.
*/
static am_err parse_labels(am_expo_parser *p, char *s, size_t *pos, const char **names,
                           const char **values, size_t max, size_t *n_out, const char *what)
{
    size_t i = *pos + 1, n = 0;
    bool om = is_om(p);
    for (;;) {
        if (!om)
            i = skip_blanks(s, i);
        if (s[i] == '}' && (n == 0 || !om)) {
            i++;
            break;
        }
        size_t ln = label_name_len(s + i);
        if (!ln)
            return bad(p, AM_EPROTO, "expected a %s name at column %zu", what, i + 1);
        char *name = s + i;
        size_t j = i + ln;
        if (!om)
            j = skip_blanks(s, j);
        if (s[j] != '=')
            return bad(p, AM_EPROTO, "expected '=' after %s name \"%.*s\"", what, (int)ln, name);
        j++;
        if (!om)
            j = skip_blanks(s, j);
        if (s[j] != '"')
            return bad(p, AM_EPROTO, "expected '\"' to open the value of %s \"%.*s\"", what,
                       (int)ln, name);
        name[ln] = '\0';
        j++;
        char *val = s + j;
        size_t vlen, end;
        if (am__unescape_label(val, val, &vlen, &end) != AM_OK) {
            if (!val[end])
                return bad(p, AM_EPROTO, "unterminated value of %s \"%s\"", what, name);
            char e = val[end + 1];
            return bad(p, AM_EPROTO, "invalid escape \\%c in the value of %s \"%s\"", e ? e : '0',
                       what, name);
        }
        if (end > p->o.max_label_value_bytes)
            return bad(p, AM_ELIMIT, "the value of %s \"%s\" is longer than %zu bytes", what, name,
                       p->o.max_label_value_bytes);
        j += end;
        if (!am__utf8_valid(val, vlen, NULL))
            return bad(p, AM_EPROTO, "the value of %s \"%s\" is not valid UTF-8", what, name);
        for (size_t k = 0; k < n; k++)
            if (strcmp(names[k], name) == 0)
                return bad(p, AM_EPROTO, "%s \"%s\" appears twice", what, name);
        if (n == max)
            return bad(p, AM_ELIMIT, "more than %zu %ss", max, what);
        names[n] = name;
        values[n] = val;
        n++;
        i = j + 1;
        if (!om)
            i = skip_blanks(s, i);
        if (s[i] == ',') {
            i++;
            if (om && s[i] == '}')
                return bad(p, AM_EPROTO, "a comma before '}' in a %s set", what);
            continue;
        }
        if (s[i] == '}') {
            i++;
            break;
        }
        return bad(p, AM_EPROTO, "expected ',' or '}' after the value of %s \"%s\"", what, name);
    }
    *pos = i;
    *n_out = n;
    return AM_OK;
}

/* ------------------------------------------------------------------ families */

static bool suffix_allowed(int type, const char *suf, bool om)
{
    switch (type) {
    case T_COUNTER:
        return om ? !strcmp(suf, "_total") || !strcmp(suf, "_created")
                  : !*suf || !strcmp(suf, "_total");
    case T_HISTOGRAM:
        return !strcmp(suf, "_bucket") || !strcmp(suf, "_count") || !strcmp(suf, "_sum") ||
               (om && !strcmp(suf, "_created"));
    case T_GAUGEHISTOGRAM:
        return !strcmp(suf, "_bucket") || !strcmp(suf, "_gcount") || !strcmp(suf, "_gsum");
    case T_SUMMARY:
        return !*suf || !strcmp(suf, "_count") || !strcmp(suf, "_sum") ||
               (om && !strcmp(suf, "_created"));
    case T_INFO:
        return !strcmp(suf, "_info");
    default:
        return !*suf;
    }
}

/* OpenMetrics: a family name may appear once (families are not interleaved). */
static am_err remember_family(am_expo_parser *p, const char *name, size_t n)
{
    am_err rc = am__map_put(&p->seen, am__hash64(0, name, n), name, n, p);
    if (rc == AM_EEXIST)
        return bad(p, AM_EPROTO, "family \"%.*s\" appears twice (interleaved)", (int)n, name);
    if (rc)
        return bad(p, AM_ENOMEM, "out of memory for family names");
    return AM_OK;
}

static am_err new_family(am_expo_parser *p, const char *name, size_t n)
{
    if (is_om(p)) {
        am_err rc = remember_family(p, name, n);
        if (rc)
            return rc;
    }
    p->has_family = true;
    p->has_help = p->has_type = p->has_unit = false;
    p->type = is_om(p) ? T_UNKNOWN : T_UNTYPED;
    p->fam_samples = 0;
    buf_set(&p->fam_name, name, n);
    buf_set(&p->fam_help, "", 0);
    buf_set(&p->fam_unit, "", 0);
    if (am_buf_err(&p->fam_name) || am_buf_err(&p->fam_help) || am_buf_err(&p->fam_unit))
        return bad(p, AM_ENOMEM, "out of memory for the family \"%.*s\"", (int)n, name);
    return AM_OK;
}

static int type_of(const char *s, bool om)
{
    for (int t = 0; t < N_TYPES; t++)
        if (!strcmp(s, type_names[t])) {
            if (om ? t == T_UNTYPED : t > T_UNTYPED)
                return -1;
            return t;
        }
    return -1;
}

/* Unescape HELP text in place; returns its length, or (size_t)-1. */
static size_t unescape_help(am_expo_parser *p, char *s)
{
    char *w = s;
    for (const char *r = s; *r; r++) {
        if (*r != '\\') {
            *w++ = *r;
            continue;
        }
        char e = r[1];
        if (e == '\\' || e == 'n' || (is_om(p) && e == '"')) {
            *w++ = e == 'n' ? '\n' : e;
            r++;
        } else if (is_om(p)) {
            return (size_t)-1;
        } else {
            *w++ = '\\'; /* kept as sent, as Python's parser does */
        }
    }
    *w = '\0';
    return (size_t)(w - s);
}

/* A HELP, TYPE or UNIT line: kind is its keyword, s + i the rest after the
   keyword and its separator. */
static am_err metadata(am_expo_parser *p, const char *kind, char *s, size_t i)
{
    bool om = is_om(p);
    size_t nl = name_len(s + i);
    if (!nl)
        return bad(p, AM_EPROTO, "expected a metric name after # %s", kind);
    char *name = s + i;
    i += nl;
    char *arg;
    if (s[i] == '\0') {
        arg = s + i;
    } else {
        size_t j = om ? (s[i] == ' ' ? i + 1 : 0) : (is_blank(s[i]) ? skip_blanks(s, i) : 0);
        if (!j)
            return bad(p, AM_EPROTO, "invalid character after the metric name in # %s", kind);
        arg = s + j;
    }
    name[nl] = '\0';
    if (p->has_family && !strcmp(buf_str(&p->fam_name), name)) {
        bool *seen = kind[0] == 'H' ? &p->has_help : kind[0] == 'T' ? &p->has_type : &p->has_unit;
        if (*seen)
            return bad(p, AM_EPROTO, "second # %s for \"%s\"", kind, name);
        if (p->fam_samples && (om || kind[0] == 'T'))
            return bad(p, AM_EPROTO, "# %s for \"%s\" after its samples", kind, name);
    } else {
        am_err rc = new_family(p, name, nl);
        if (rc)
            return rc;
    }
    if (kind[0] == 'H') {
        size_t n = unescape_help(p, arg);
        if (n == (size_t)-1)
            return bad(p, AM_EPROTO, "invalid escape in # HELP of \"%s\"", name);
        if (!am__utf8_valid(arg, n, NULL))
            return bad(p, AM_EPROTO, "# HELP of \"%s\" is not valid UTF-8", name);
        buf_set(&p->fam_help, arg, n);
        p->has_help = true;
    } else if (kind[0] == 'T') {
        int t = type_of(arg, om);
        if (t < 0)
            return bad(p, AM_EPROTO, "unknown type \"%.40s\" for \"%s\"", arg, name);
        p->type = t;
        p->has_type = true;
    } else {
        size_t ul = strlen(arg);
        if (ul && (ul + 1 >= nl || name[nl - ul - 1] != '_' || strcmp(name + nl - ul, arg)))
            return bad(p, AM_EPROTO, "metric \"%s\" does not end in its unit \"_%.40s\"", name,
                       arg);
        buf_set(&p->fam_unit, arg, ul);
        p->has_unit = true;
    }
    if (am_buf_err(&p->fam_name) || am_buf_err(&p->fam_help) || am_buf_err(&p->fam_unit))
        return bad(p, AM_ENOMEM, "out of memory for the metadata of \"%s\"", name);
    return AM_OK;
}

static am_err comment(am_expo_parser *p, char *s)
{
    bool om = is_om(p);
    size_t i;
    if (om) {
        if (!strcmp(s, "# EOF")) {
            p->eof_seen = true;
            return AM_OK;
        }
        if (s[1] != ' ')
            return bad(p, AM_EPROTO, "a comment must be # HELP, # TYPE, # UNIT or # EOF");
        i = 2;
    } else {
        i = skip_blanks(s, 1);
    }
    static const char *const kinds[] = {"HELP", "TYPE", "UNIT"};
    for (size_t k = 0; k < (om ? 3u : 2u); k++) {
        size_t kl = strlen(kinds[k]);
        if (strncmp(s + i, kinds[k], kl))
            continue;
        char c = s[i + kl];
        if (om && c != ' ')
            break;
        if (!om && !is_blank(c) && c != '\0')
            return AM_OK; /* "# HELPER": a plain comment */
        return metadata(p, kinds[k], s, om ? i + kl + 1 : skip_blanks(s, i + kl));
    }
    if (om)
        return bad(p, AM_EPROTO, "a comment must be # HELP, # TYPE, # UNIT or # EOF");
    return AM_OK; /* any other comment */
}

/* ------------------------------------------------------------------ samples */

static const char *label_value(const char *const *names, const char *const *values, size_t n,
                               const char *name)
{
    for (size_t k = 0; k < n; k++)
        if (!strcmp(names[k], name))
            return values[k];
    return NULL;
}

static am_err check_float_label(am_expo_parser *p, am_expo_sample *x, const char *label)
{
    const char *v = label_value(x->label_names, x->label_values, x->n_labels, label);
    if (!v)
        return bad(p, AM_EPROTO, "%s sample \"%s\" has no \"%s\" label", type_names[p->type],
                   x->name, label);
    double d;
    char tmp[64];
    size_t n = strlen(v);
    if (n >= sizeof tmp || (memcpy(tmp, v, n + 1), !parse_num(tmp, n, &d)))
        return bad(p, AM_EPROTO, "label %s=\"%.40s\" of \"%s\" is not a number", label, v, x->name);
    return AM_OK;
}

/* Which family the sample name belongs to; starts one when it is new. */
static am_err place(am_expo_parser *p, const char *name, size_t nl, const char **suffix)
{
    bool om = is_om(p);
    if (p->has_family) {
        const char *fam = buf_str(&p->fam_name);
        size_t fl = p->fam_name.len;
        if (nl >= fl && !memcmp(name, fam, fl)) {
            const char *suf = name + fl;
            if (suffix_allowed(p->type, suf, om)) {
                *suffix = suf;
                return AM_OK;
            }
            if (!*suf)
                return bad(p, AM_EPROTO, "sample \"%s\" needs a suffix in %s family \"%s\"", name,
                           type_names[p->type], fam);
        }
    }
    *suffix = "";
    return new_family(p, name, nl);
}

static am_err sample(am_expo_parser *p, char *s, am_expo_cb cb, void *ud)
{
    bool om = is_om(p);
    am_expo_sample x;
    memset(&x, 0, sizeof x);
    x.line = p->lineno;
    size_t nl = name_len(s);
    if (!nl)
        return bad(p, AM_EPROTO, "expected a metric name or '#' at the start");
    size_t i = nl;
    if (!om && s[skip_blanks(s, nl)] == '{')
        i = skip_blanks(s, nl);
    const char **names = p->lab, **values = p->lab + p->o.max_labels;
    if (s[i] == '{') {
        am_err rc = parse_labels(p, s, &i, names, values, p->o.max_labels, &x.n_labels, "label");
        if (rc)
            return rc;
    } else if (s[i] == '\0') {
        return bad(p, AM_EPROTO, "no value after the metric name");
    } else if (s[i] != ' ' && s[i] != '\t') {
        unsigned char c = (unsigned char)s[i];
        if (c > 0x20 && c < 0x7f)
            return bad(p, AM_EPROTO, "invalid character '%c' in metric name", c);
        return bad(p, AM_EPROTO, "invalid byte 0x%02x in metric name", c);
    }
    x.label_names = names;
    x.label_values = values;
    size_t j = separator(p, s, i);
    if (!j)
        return bad(p, AM_EPROTO, "expected a space and a value after the metric name");
    size_t e = token_end(p, s, j);
    if (e == j || !parse_num(s + j, e - j, &x.value))
        return bad(p, AM_EPROTO, "invalid value \"%.*s\"", (int)(e - j > 40 ? 40 : e - j), s + j);
    i = e;
    /* timestamp and exemplar */
    if (s[i]) {
        j = separator(p, s, i);
        if (!j)
            return bad(p, AM_EPROTO, "expected a space after the value");
        if (s[j] != '#') {
            e = token_end(p, s, j);
            bool ok = om ? parse_num(s + j, e - j, &x.timestamp) && x.timestamp == x.timestamp &&
                               x.timestamp - x.timestamp == 0
                         : parse_millis(s + j, e - j, &x.timestamp);
            if (!ok)
                return bad(p, AM_EPROTO, "invalid timestamp \"%.*s\"",
                           (int)(e - j > 40 ? 40 : e - j), s + j);
            x.has_timestamp = true;
            i = e;
            if (s[i]) {
                j = separator(p, s, i);
                if (!j || s[j] != '#')
                    return bad(p, AM_EPROTO, "unexpected text after the timestamp");
            }
        }
        if (s[i]) {
            if (!om)
                return bad(p, AM_EPROTO, "exemplars are OpenMetrics only");
            /* " # {labels} value [timestamp]" */
            if (s[j + 1] != ' ' || s[j + 2] != '{')
                return bad(p, AM_EPROTO, "expected \" # {\" to start an exemplar");
            i = j + 2;
            am_err rc = parse_labels(p, s, &i, p->ex_lab, p->ex_lab + EX_MAX_LABELS, EX_MAX_LABELS,
                                     &x.ex_n_labels, "exemplar label");
            if (rc)
                return rc;
            size_t runes = 0;
            for (size_t k = 0; k < x.ex_n_labels; k++) {
                size_t r1 = 0, r2 = 0;
                am__utf8_valid(p->ex_lab[k], strlen(p->ex_lab[k]), &r1);
                am__utf8_valid(p->ex_lab[EX_MAX_LABELS + k], strlen(p->ex_lab[EX_MAX_LABELS + k]),
                               &r2);
                runes += r1 + r2;
            }
            if (runes > 128)
                return bad(p, AM_EPROTO, "exemplar labels are longer than 128 characters");
            x.ex_label_names = p->ex_lab;
            x.ex_label_values = p->ex_lab + EX_MAX_LABELS;
            j = separator(p, s, i);
            e = j ? token_end(p, s, j) : j;
            if (!j || e == j || !parse_num(s + j, e - j, &x.ex_value))
                return bad(p, AM_EPROTO, "invalid exemplar value");
            i = e;
            if (s[i]) {
                j = separator(p, s, i);
                e = j ? token_end(p, s, j) : j;
                if (!j || e == j || !parse_num(s + j, e - j, &x.ex_timestamp) ||
                    x.ex_timestamp != x.ex_timestamp || x.ex_timestamp - x.ex_timestamp != 0)
                    return bad(p, AM_EPROTO, "invalid exemplar timestamp");
                x.ex_has_timestamp = true;
                if (s[e])
                    return bad(p, AM_EPROTO, "unexpected text after the exemplar");
            }
            x.has_exemplar = true;
        }
    }
    s[nl] = '\0';
    x.name = s;
    const char *suf;
    am_err rc = place(p, s, nl, &suf);
    if (rc)
        return rc;
    /* what the type asks of its samples */
    int t = p->type;
    bool bucket = !strcmp(suf, "_bucket");
    if (bucket && (rc = check_float_label(p, &x, "le")))
        return rc;
    if (t == T_SUMMARY && !*suf && (rc = check_float_label(p, &x, "quantile")))
        return rc;
    if (om) {
        bool must_count = (t == T_COUNTER && !strcmp(suf, "_total")) || bucket ||
                          !strcmp(suf, "_count") || !strcmp(suf, "_gcount");
        if (must_count && !(x.value >= 0))
            return bad(p, AM_EPROTO, "\"%s\" must not be negative or NaN", x.name);
        if (x.has_exemplar && !((t == T_COUNTER && !strcmp(suf, "_total")) || bucket))
            return bad(p, AM_EPROTO, "an exemplar on \"%s\", which is not a counter or bucket",
                       x.name);
        if (t == T_STATESET) {
            if (!label_value(x.label_names, x.label_values, x.n_labels, buf_str(&p->fam_name)))
                return bad(p, AM_EPROTO, "stateset sample \"%s\" has no \"%s\" label", x.name,
                           buf_str(&p->fam_name));
            if (x.value != 0 && x.value != 1)
                return bad(p, AM_EPROTO, "stateset sample \"%s\" is not 0 or 1", x.name);
        }
        if (t == T_INFO && x.value != 1)
            return bad(p, AM_EPROTO, "info sample \"%s\" is not 1", x.name);
    }
    p->fam_samples++;
    p->n_samples++;
    if (!cb)
        return AM_OK;
    x.family = buf_str(&p->fam_name);
    x.type = type_names[t];
    x.help = buf_str(&p->fam_help);
    x.unit = buf_str(&p->fam_unit);
    if (cb(ud, &x))
        p->stopped = true;
    return AM_OK;
}

/* ------------------------------------------------------------------ lines */

/* One line without its LF, in the line buffer (s[n] is writable). */
static am_err line(am_expo_parser *p, char *s, size_t n, am_expo_cb cb, void *ud)
{
    p->lineno++;
    if (p->eof_seen)
        return bad(p, AM_EPROTO, "text after # EOF");
    if (n > p->o.max_line_bytes)
        return bad(p, AM_ELIMIT, "longer than %zu bytes", p->o.max_line_bytes);
    if (memchr(s, '\0', n))
        return bad(p, AM_EPROTO, "a NUL byte");
    while (n && (s[n - 1] == '\r' || is_blank(s[n - 1])))
        n--;
    s[n] = '\0';
    size_t i = is_om(p) ? 0 : skip_blanks(s, 0);
    if (s[i] == '\0')
        return AM_OK;
    if (s[i] == '#')
        return comment(p, s + i);
    return sample(p, s + i, cb, ud);
}

am_err am__expo_parser_new(am_expo_format f, const am_expo_opts *opts, am_expo_parser **out)
{
    *out = NULL;
    if (f != AM_EXPO_PROMETHEUS && f != AM_EXPO_OPENMETRICS)
        return am__err(AM_EINVAL, "exposition parser: format must be 0.0.4 or OpenMetrics");
    am_expo_opts o = AM_EXPO_OPTS_INIT;
    if (opts)
        o = *opts;
    if (!o.max_line_bytes || !o.max_labels || !o.max_label_value_bytes || o.max_labels > 100000)
        return am__err(AM_EINVAL, "exposition parser: limits must be positive");
    am_expo_parser *p = am__calloc(1, sizeof *p);
    if (!p)
        return am__err(AM_ENOMEM, "out of memory for an exposition parser");
    p->lab = am__calloc(2 * o.max_labels, sizeof *p->lab);
    if (!p->lab) {
        am__free(p);
        return am__err(AM_ENOMEM, "out of memory for an exposition parser");
    }
    p->f = f;
    p->o = o;
    am_buf_init(&p->line, o.max_line_bytes + 2);
    am_buf_init(&p->fam_name, 0);
    am_buf_init(&p->fam_help, 0);
    am_buf_init(&p->fam_unit, 0);
    *out = p;
    return AM_OK;
}

void am__expo_parser_free(am_expo_parser *p)
{
    if (!p)
        return;
    am_buf_free(&p->line);
    am_buf_free(&p->fam_name);
    am_buf_free(&p->fam_help);
    am_buf_free(&p->fam_unit);
    am__map_free(&p->seen);
    am__free(p->lab);
    am__free(p);
}

size_t am__expo_n_samples(const am_expo_parser *p)
{
    return p->n_samples;
}

/* The line in the line buffer plus data[0..n), parsed. */
static am_err carried_line(am_expo_parser *p, const char *data, size_t n, am_expo_cb cb, void *ud)
{
    if (p->line.len + n > p->o.max_line_bytes) {
        p->lineno++;
        return bad(p, AM_ELIMIT, "longer than %zu bytes", p->o.max_line_bytes);
    }
    am_buf_append(&p->line, data, n);
    if (am_buf_err(&p->line))
        return bad(p, AM_ENOMEM, "out of memory for a line");
    am_err rc = line(p, p->line.p, p->line.len, cb, ud);
    p->line.len = 0;
    return rc;
}

am_err am__expo_feed(am_expo_parser *p, const char *data, size_t n, am_expo_cb cb, void *ud)
{
    if (p->err)
        return am__err(p->err, "%s", p->errmsg);
    size_t i = 0;
    while (i < n && !p->stopped) {
        const char *nl = memchr(data + i, '\n', n - i);
        if (!nl) {
            if (p->line.len + (n - i) > p->o.max_line_bytes) {
                p->lineno++;
                return bad(p, AM_ELIMIT, "longer than %zu bytes", p->o.max_line_bytes);
            }
            am_buf_append(&p->line, data + i, n - i);
            if (am_buf_err(&p->line))
                return bad(p, AM_ENOMEM, "out of memory for a line");
            return AM_OK;
        }
        size_t len = (size_t)(nl - (data + i));
        am_err rc = carried_line(p, data + i, len, cb, ud);
        if (rc)
            return rc;
        i += len + 1;
    }
    return AM_OK;
}

am_err am__expo_finish(am_expo_parser *p, am_expo_cb cb, void *ud)
{
    if (p->err)
        return am__err(p->err, "%s", p->errmsg);
    if (p->stopped)
        return AM_OK;
    if (p->line.len) {
        am_err rc = carried_line(p, "", 0, cb, ud);
        if (rc)
            return rc;
    }
    if (is_om(p) && !p->eof_seen && !p->stopped) {
        p->lineno++;
        return bad(p, AM_EPROTO, "no # EOF at the end");
    }
    return AM_OK;
}

/* Whether the last line of text is "# EOF" (blank lines after it make it
   0.0.4, where # EOF is a comment, as OpenMetrics allows nothing after). */
static bool ends_with_eof(const char *text, size_t len)
{
    if (len && text[len - 1] == '\n')
        len--;
    while (len && (text[len - 1] == '\r' || is_blank(text[len - 1])))
        len--;
    return len >= 5 && !memcmp(text + len - 5, "# EOF", 5) && (len == 5 || text[len - 6] == '\n');
}

am_err am__expo_parse(const char *text, size_t len, am_expo_format f, const am_expo_opts *opts,
                      am_expo_cb cb, void *ud, size_t *n_samples)
{
    if (n_samples)
        *n_samples = 0;
    if (f == AM_EXPO_AUTO)
        f = ends_with_eof(text, len) ? AM_EXPO_OPENMETRICS : AM_EXPO_PROMETHEUS;
    am_expo_parser *p;
    am_err rc = am__expo_parser_new(f, opts, &p);
    if (rc)
        return rc;
    rc = am__expo_feed(p, text, len, cb, ud);
    if (!rc)
        rc = am__expo_finish(p, cb, ud);
    if (n_samples)
        *n_samples = p->n_samples;
    am__expo_parser_free(p);
    return rc;
}

am_expo_format am__expo_format_of(const char *content_type)
{
    if (!content_type)
        return AM_EXPO_PROMETHEUS;
    while (is_blank(*content_type))
        content_type++;
    static const char om[] = "application/openmetrics-text";
    return strncasecmp(content_type, om, sizeof om - 1) ? AM_EXPO_PROMETHEUS : AM_EXPO_OPENMETRICS;
}
