/*
** validate.h: the Prometheus data model's rules for names and values.
**
** Each check returns AM_OK or AM_EINVAL with a sentence (via am__err) that
** names the offending input and what role it played ("label name", ...).
*/
#ifndef AM_CORE_VALIDATE_H
#define AM_CORE_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

#include "agentmon/common.h"

/* Whether s[0..n) is well-formed UTF-8 (no overlongs, surrogates, > U+10FFFF);
 *runes (optional) receives the number of code points. */
bool am__utf8_valid(const char *s, size_t n, size_t *runes);

/* [a-zA-Z_:][a-zA-Z0-9_:]* and not starting with "__". */
am_err am__check_metric_name(const char *s, const char *what);
/* [a-zA-Z_][a-zA-Z0-9_]* and not starting with "__". */
am_err am__check_label_name(const char *s, const char *what);
/* Non-NULL, valid UTF-8, at most max bytes. */
am_err am__check_text(const char *s, size_t max, const char *what);
/* Dotted JSON alias: [a-zA-Z_:][a-zA-Z0-9_:.]*. */
am_err am__check_json_name(const char *s);

/* The value of the hex digit c, either case, or -1 (percent-escapes, URIs,
   trace ids in events; W3C traceparent wants lowercase and checks itself). */
static inline int am__hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#endif
