/*
** labels.c: canonical label text (see labels.h), made and split again.
*/
#include <string.h>

#include "labels.h"
#include "../../util/error.h"
#include "../../util/render.h"

void am__labels_pair(am_buf *b, const char *name, const char *value)
{
    am_buf_puts(b, name);
    am_buf_puts(b, "=\"");
    am__buf_label_value(b, value, strlen(value));
    am_buf_putc(b, '"');
}

void am__labels_canonical(am_buf *b, const char *const *names, const char *const *values, size_t n)
{
    if (!n)
        return;
    if (n > AM_LABELS_MAX) {
        if (!b->err)
            b->err = AM_ELIMIT;
        return;
    }
    /* label sets are small: a selection sort by name, over indexes */
    size_t order[AM_LABELS_MAX], m = n;
    for (size_t i = 0; i < m; i++)
        order[i] = i;
    for (size_t i = 0; i < m; i++)
        for (size_t j = i + 1; j < m; j++)
            if (strcmp(names[order[j]], names[order[i]]) < 0) {
                size_t t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
    am_buf_putc(b, '{');
    for (size_t i = 0; i < m; i++) {
        if (i)
            am_buf_putc(b, ',');
        am__labels_pair(b, names[order[i]], values[order[i]]);
    }
    am_buf_putc(b, '}');
}

am_err am__labels_split(const char *text, char *scratch, size_t cap, const char **names,
                        const char **values, size_t max, size_t *n)
{
    const char *p = text;
    size_t o = 0;
    *n = 0;
    if (!*p)
        return AM_OK;
    if (*p++ != '{')
        return am__err(AM_EINVAL, "label text does not start with '{'");
    while (*p != '}') {
        if (*n == max)
            return am__err(AM_ELIMIT, "label text holds more than %zu pairs", max);
        const char *name = p;
        while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
               (p > name && *p >= '0' && *p <= '9'))
            p++;
        if (p == name || p[0] != '=' || p[1] != '"')
            return am__err(AM_EINVAL, "label text: a name=\" is expected at byte %zu",
                           (size_t)(name - text));
        size_t nl = (size_t)(p - name);
        if (o + nl + 1 > cap)
            return am__err(AM_ELIMIT, "label text: scratch of %zu bytes is too small", cap);
        memcpy(scratch + o, name, nl);
        scratch[o + nl] = '\0';
        names[*n] = scratch + o;
        o += nl + 1;
        values[*n] = scratch + o;
        for (p += 2; *p != '"'; p++) {
            char c = *p;
            if (!c)
                return am__err(AM_EINVAL, "label text: a value is not closed");
            if (c == '\\') {
                c = *++p;
                if (c == 'n')
                    c = '\n';
                else if (c != '\\' && c != '"')
                    return am__err(AM_EINVAL, "label text: bad escape at byte %zu",
                                   (size_t)(p - text));
            }
            if (o + 1 >= cap)
                return am__err(AM_ELIMIT, "label text: scratch of %zu bytes is too small", cap);
            scratch[o++] = c;
        }
        scratch[o++] = '\0';
        (*n)++;
        p++;
        if (*p == ',' && p[1] != '}')
            p++;
        else if (*p != '}')
            return am__err(AM_EINVAL, "label text: ',' or '}' expected at byte %zu",
                           (size_t)(p - text));
    }
    if (p[1])
        return am__err(AM_EINVAL, "label text: bytes after '}'");
    return AM_OK;
}
