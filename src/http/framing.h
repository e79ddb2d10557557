/*
** framing.h: checking the headers that frame a request's body
** (Content-Length, Transfer-Encoding) before libmicrohttpd reads it.
** A pure function, unit-tested with a table of bad inputs and fuzzed.
*/
#ifndef AM_HTTP_FRAMING_H
#define AM_HTTP_FRAMING_H

#include <stdbool.h>
#include <stddef.h>

/*
** am__http_framing: 0 when the request's body may be read as
** libmicrohttpd frames it, else the status to answer at once -- 400
** (conflicting, malformed or ambiguous framing) or 501 (a transfer coding
** other than chunked) -- with *why a constant sentence saying which.
** is_http10: the request line said HTTP/1.0 (or older). cl[0..n_cl) and
** te[0..n_te): every Content-Length and Transfer-Encoding field value, in
** order, surrounding whitespace removed; any bytes but NUL.
*/
unsigned am__http_framing(bool is_http10, const char *const *cl, size_t n_cl, const char *const *te,
                          size_t n_te, const char **why);

#endif
