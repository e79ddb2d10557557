/*
** query.h: parsing a URL query string into decoded name/value pairs.
*/
#ifndef AM_HTTP_QUERY_H
#define AM_HTTP_QUERY_H

#include <stddef.h>

#include "agentmon/common.h"

#define AM_QUERY_MAX_PARAMS 256

typedef struct am_query {
    char **names;
    char **values;
    size_t n;
    char *mem; /* one block holding the arrays and the decoded strings */
} am_query;

/*
** Parse q[0..len) ("a=1&b=x%20y&c"): names and values percent-decoded ('+'
** is a space), a name without '=' has the value "". Returns AM_OK, AM_EINVAL
** (bad %-escape, a NUL, invalid UTF-8 after decoding, more than
** AM_QUERY_MAX_PARAMS pairs; am_errmsg() says which) or AM_ENOMEM. On error
** *out is empty.
*/
am_err am__query_parse(const char *q, size_t len, am_query *out);
void am__query_free(am_query *q);

/* Percent-decode s[0..len) into out (room for len + 1); returns the length,
   or (size_t)-1 for a bad escape or an encoded NUL. */
size_t am__percent_decode(const char *s, size_t len, char *out, int plus_is_space);

#endif
