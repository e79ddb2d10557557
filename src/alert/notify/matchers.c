/*
** matchers.c: Alertmanager's label matchers -- routes, inhibit rules and
** silences select alerts with them.
**
** DESIGN
** The text form is Alertmanager 0.25's (pkg/labels/parse.go): a list of
** `name op value`, comma-separated, optionally in braces; op = != =~ !~;
** a value is a double-quoted Go string or bare text up to the next comma
** or closing brace (trimmed). Regexes are anchored "^(?:re)$" as
** Alertmanager anchors them and compiled by regex.c (RE2 syntax: what
** RE2 lacks is refused, as for PromQL). A missing label matches as "".
*/
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "../../util/alloc.h"
#include "../../util/error.h"
#include "notify.h"

void am__amatchers_free(am_amatcher *m, size_t n)
{
    for (size_t i = 0; m && i < n; i++) {
        am__free(m[i].name);
        am__free(m[i].value);
        am__regex_free(m[i].re);
    }
    am__free(m);
}

am_err am__amatcher_make(const char *name, const char *value, am_amatch_op op, am_amatcher *out,
                         char *err, size_t cap)
{
    memset(out, 0, sizeof *out);
    if (!am__label_name_ok(name)) {
        snprintf(err, cap, "invalid label name \"%.100s\"", name);
        return AM_EINVAL;
    }
    if (op == AM_AM_RE || op == AM_AM_NRE) {
        char why[256];
        if (am__regex_new(value, &out->re, why, sizeof why)) {
            snprintf(err, cap, "invalid regular expression \"%.100s\": %s", value, why);
            return AM_EINVAL;
        }
    }
    out->name = am__strdup(name);
    out->value = am__strdup(value);
    out->op = op;
    if (!out->name || !out->value) {
        am__free(out->name);
        am__free(out->value);
        am__regex_free(out->re);
        memset(out, 0, sizeof *out);
        snprintf(err, cap, "out of memory");
        return AM_ENOMEM;
    }
    return AM_OK;
}

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

/* A Go double-quoted string at p (the quote); unescaped into out. */
static const char *quoted(const char *p, am_buf *out)
{
    p++;
    while (*p && *p != '"') {
        if (*p != '\\') {
            am_buf_putc(out, *p++);
            continue;
        }
        p++;
        switch (*p) {
        case 'n':
            am_buf_putc(out, '\n');
            break;
        case 't':
            am_buf_putc(out, '\t');
            break;
        case 'r':
            am_buf_putc(out, '\r');
            break;
        case '\\':
        case '"':
        case '\'':
            am_buf_putc(out, *p);
            break;
        default:
            return NULL; /* what else Go allows is never needed here */
        }
        p++;
    }
    return *p == '"' ? p + 1 : NULL;
}

am_err am__amatchers_parse(const char *s, am_amatcher **m, size_t *n, char *err, size_t cap)
{
    /* as labels.ParseMatchers: trimmed, then a leading '{' and a trailing
       '}' each trimmed on its own; nothing left is no matchers */
    size_t len = strlen(s);
    char *text = am__malloc(len + 1);
    if (!text) {
        snprintf(err, cap, "out of memory");
        return AM_ENOMEM;
    }
    const char *b = skip_ws(s);
    size_t bl = strlen(b);
    while (bl && (b[bl - 1] == ' ' || b[bl - 1] == '\t' || b[bl - 1] == '\n' || b[bl - 1] == '\r'))
        bl--;
    if (bl && *b == '{')
        b++, bl--;
    if (bl && b[bl - 1] == '}')
        bl--;
    memcpy(text, b, bl);
    text[bl] = '\0';
    const char *p = skip_ws(text);
    size_t cap_m = *n;
    am_err rc = AM_OK;
    while (*p && !rc) {
        const char *ns = p;
        while (isalnum((unsigned char)*p) || *p == '_' || *p == ':')
            p++;
        size_t nl = (size_t)(p - ns);
        p = skip_ws(p);
        am_amatch_op op = AM_AM_EQ;
        if (p[0] == '=' && p[1] == '~')
            op = AM_AM_RE, p += 2;
        else if (p[0] == '!' && p[1] == '~')
            op = AM_AM_NRE, p += 2;
        else if (p[0] == '!' && p[1] == '=')
            op = AM_AM_NEQ, p += 2;
        else if (p[0] == '=')
            op = AM_AM_EQ, p += 1;
        else
            nl = 0;
        if (!nl) {
            snprintf(err, cap, "bad matcher format: %.100s", s);
            rc = AM_EINVAL;
            break;
        }
        p = skip_ws(p);
        am_buf v;
        am_buf_init(&v, 0);
        am_buf_puts(&v, "");
        if (*p == '"') {
            p = quoted(p, &v);
            if (!p) {
                am_buf_free(&v);
                snprintf(err, cap,
                         "bad matcher format: unterminated or badly escaped value: %.100s", s);
                rc = AM_EINVAL;
                break;
            }
        } else {
            const char *vs = p;
            while (*p && *p != ',')
                p++;
            const char *ve = p;
            while (ve > vs && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            am_buf_append(&v, vs, (size_t)(ve - vs));
        }
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(nl < 255 ? nl : 255), ns);
        am_amatcher *nm = am__grow(*m, &cap_m, *n + 1, sizeof **m, 4);
        if (!nm || am_buf_err(&v)) {
            am_buf_free(&v);
            snprintf(err, cap, "out of memory");
            rc = AM_ENOMEM;
            break;
        }
        *m = nm;
        rc = am__amatcher_make(name, v.p, op, &(*m)[*n], err, cap);
        am_buf_free(&v);
        if (rc)
            break;
        (*n)++;
        p = skip_ws(p);
        if (*p == ',') {
            p = skip_ws(p + 1);
            if (!*p) {
                snprintf(err, cap, "bad matcher format: a trailing comma: %.100s", s);
                rc = AM_EINVAL;
            }
        } else if (*p) {
            snprintf(err, cap, "bad matcher format: %.100s", s);
            rc = AM_EINVAL;
        }
    }
    am__free(text);
    return rc;
}

bool am__amatchers_ok(const am_amatcher *m, size_t n, const am_lset *l)
{
    for (size_t i = 0; i < n; i++) {
        const char *v = am__labels_val(l, m[i].name);
        bool ok;
        switch (m[i].op) {
        case AM_AM_EQ:
            ok = strcmp(v, m[i].value) == 0;
            break;
        case AM_AM_NEQ:
            ok = strcmp(v, m[i].value) != 0;
            break;
        case AM_AM_RE:
            ok = am__regex_match(m[i].re, v, strlen(v));
            break;
        default:
            ok = !am__regex_match(m[i].re, v, strlen(v));
        }
        if (!ok)
            return false;
    }
    return true;
}

void am__amatcher_fmt(am_buf *b, const am_amatcher *m)
{
    static const char *const OPS[] = {"=", "!=", "=~", "!~"};
    am_buf_printf(b, "%s%s\"", m->name, OPS[m->op]);
    for (const char *c = m->value; *c; c++) {
        if (*c == '"' || *c == '\\')
            am_buf_putc(b, '\\');
        if (*c == '\n')
            am_buf_puts(b, "\\n");
        else
            am_buf_putc(b, *c);
    }
    am_buf_putc(b, '"');
}
