/*
** query.c: query strings -- split, percent-decode, validate.
**
** The parser owns its result in one allocation (arrays first, then the
** decoded strings), so a request's parameters cost one malloc and one free.
** Decoding never grows a string, so len bytes of input always fit. Every
** decoded name and value must be UTF-8 without NUL: handlers and the
** query API downstream can then treat them as ordinary C strings.
*/
#include <string.h>

#include "../util/alloc.h"
#include "../util/error.h"
#include "../util/validate.h"
#include "query.h"

size_t am__percent_decode(const char *s, size_t len, char *out, int plus_is_space)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= len)
                return (size_t)-1;
            int hi = am__hexval(s[i + 1]), lo = am__hexval(s[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return (size_t)-1;
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else if (c == '\0') {
            return (size_t)-1;
        } else {
            out[o++] = plus_is_space && c == '+' ? ' ' : c;
        }
    }
    out[o] = '\0';
    return o;
}

void am__query_free(am_query *q)
{
    am__free(q->mem);
    memset(q, 0, sizeof *q);
}

am_err am__query_parse(const char *q, size_t len, am_query *out)
{
    memset(out, 0, sizeof *out);
    if (len == 0)
        return AM_OK;
    size_t n = 1;
    for (size_t i = 0; i < len; i++)
        n += q[i] == '&';
    if (n > AM_QUERY_MAX_PARAMS)
        return am__err(AM_EINVAL, "query string has more than %d parameters", AM_QUERY_MAX_PARAMS);
    size_t arrays = 2 * n * sizeof(char *);
    char *mem = am__malloc(arrays + len + 2 * n);
    if (!mem)
        return am__err(AM_ENOMEM, "out of memory parsing the query string");
    char **names = (char **)mem, **values = names + n;
    char *w = mem + arrays;
    size_t k = 0;
    for (size_t start = 0; start <= len;) {
        size_t end = start;
        while (end < len && q[end] != '&')
            end++;
        if (end > start) { /* "a&&b": empty pieces are skipped */
            size_t eq = start;
            while (eq < end && q[eq] != '=')
                eq++;
            size_t vstart = eq < end ? eq + 1 : end;
            size_t nl = am__percent_decode(q + start, eq - start, w, 1);
            if (nl == (size_t)-1 || !am__utf8_valid(w, nl, NULL))
                goto bad_name;
            names[k] = w;
            w += nl + 1;
            size_t vl = am__percent_decode(q + vstart, end - vstart, w, 1);
            if (vl == (size_t)-1 || !am__utf8_valid(w, vl, NULL))
                goto bad_value;
            values[k++] = w;
            w += vl + 1;
        }
        start = end + 1;
    }
    out->names = names;
    out->values = values;
    out->n = k;
    out->mem = mem;
    return AM_OK;
bad_name:
    am__free(mem);
    return am__err(AM_EINVAL,
                   "query parameter %zu: name has a bad %%-escape, a NUL or invalid "
                   "UTF-8",
                   k + 1);
bad_value : {
    /* The name lives in mem: write the message before freeing it. */
    am_err rc = am__err(AM_EINVAL,
                        "query parameter \"%.64s\": value has a bad %%-escape, a NUL "
                        "or invalid UTF-8",
                        names[k]);
    am__free(mem);
    return rc;
}
}
