/*
** render.c: escapers for label values, HELP text and JSON strings, and the
** one unescaper of label values (the exposition parser's, the exemplar
** readers' and the query API's match[]).
**
** Inputs are already validated UTF-8, so bytes >= 0x80 pass through; only
** ASCII needs escaping. The common case (nothing to escape) is one scan and
** one copy.
*/
#include <string.h>

#include "render.h"

size_t am__escape_label(char *dst, const char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        const char *e = NULL;
        if (c == '\\')
            e = "\\\\";
        else if (c == '"')
            e = "\\\"";
        else if (c == '\n')
            e = "\\n";
        if (e) {
            if (dst) {
                dst[o] = e[0];
                dst[o + 1] = e[1];
            }
            o += 2;
        } else {
            if (dst)
                dst[o] = c;
            o++;
        }
    }
    return o;
}

size_t am__render_pairs(char *dst, const char *const *names, const char *const *values, size_t n,
                        size_t stride)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        const char *name = names[i * stride], *val = values[i * stride];
        size_t nl = strlen(name);
        if (dst) {
            if (i)
                dst[o] = ',';
            memcpy(dst + o + (i ? 1 : 0), name, nl);
        }
        o += (i ? 1 : 0) + nl;
        if (dst) {
            dst[o] = '=';
            dst[o + 1] = '"';
        }
        o += 2;
        o += am__escape_label(dst ? dst + o : NULL, val, strlen(val));
        if (dst)
            dst[o] = '"';
        o++;
    }
    return o;
}

am_err am__unescape_label(char *dst, const char *s, size_t *len, size_t *end)
{
    /* the common case, no escape: one scan, and one copy when not in place */
    size_t plain = strcspn(s, "\"\\");
    if (dst != s)
        memcpy(dst, s, plain);
    const char *r = s + plain;
    char *w = dst + plain;
    for (;;) {
        char c = *r;
        if (c == '"')
            break;
        if (c == '\0') {
            *end = (size_t)(r - s);
            return AM_EPROTO;
        }
        if (c == '\\') {
            char e = r[1];
            if (e == '\\' || e == '"') {
                *w++ = e;
            } else if (e == 'n') {
                *w++ = '\n';
            } else {
                *end = (size_t)(r - s);
                return AM_EPROTO;
            }
            r += 2;
            continue;
        }
        *w++ = *r++;
    }
    *end = (size_t)(r - s);
    *len = (size_t)(w - dst);
    *w = '\0';
    return AM_OK;
}

void am__buf_label_value(am_buf *b, const char *s, size_t n)
{
    size_t len = am__escape_label(NULL, s, n);
    if (len == n) {
        am_buf_append(b, s, n);
        return;
    }
    char *w = am_buf_reserve(b, len);
    if (!w)
        return;
    am__escape_label(w, s, n);
    b->len += len;
    b->p[b->len] = '\0';
}

void am__buf_help(am_buf *b, const char *s, bool om)
{
    const char *run = s;
    for (const char *p = s; *p; p++) {
        const char *e = NULL;
        if (*p == '\\')
            e = "\\\\";
        else if (*p == '\n')
            e = "\\n";
        else if (om && *p == '"')
            e = "\\\"";
        if (e) {
            am_buf_append(b, run, (size_t)(p - run));
            am_buf_append(b, e, 2);
            run = p + 1;
        }
    }
    am_buf_puts(b, run);
}

void am__buf_json_escape(am_buf *b, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    switch (c) {
    case '"':
        am_buf_append(b, "\\\"", 2);
        break;
    case '\\':
        am_buf_append(b, "\\\\", 2);
        break;
    case '\n':
        am_buf_append(b, "\\n", 2);
        break;
    case '\r':
        am_buf_append(b, "\\r", 2);
        break;
    case '\t':
        am_buf_append(b, "\\t", 2);
        break;
    default: {
        char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        am_buf_append(b, u, 6);
    }
    }
}

void am__buf_json_string(am_buf *b, const char *s, size_t n)
{
    am_buf_putc(b, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        am_buf_append(b, s + run, i - run);
        run = i + 1;
        am__buf_json_escape(b, c);
    }
    am_buf_append(b, s + run, n - run);
    am_buf_putc(b, '"');
}
