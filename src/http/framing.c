/*
** framing.c: does a request say unambiguously where its body ends?
**
** libmicrohttpd 0.9.75 decides a body's length from the first
** Content-Length field and the first Transfer-Encoding field and looks no
** further. Measured on it before this check existed:
**   - two different Content-Length fields: the first wins, 200 -- the
**     request-smuggling ambiguity RFC 9112 section 6.3 says to refuse (400);
**   - "Transfer-Encoding: gzip" (or "gzip, chunked", or "chunked,
**     chunked"): not chunked, so the body is "until the connection closes";
**     the server waits for the client forever (to the idle timeout) instead
**     of answering 501 (RFC 9112 section 6.1);
**   - Transfer-Encoding and Content-Length together, or Transfer-Encoding
**     in an HTTP/1.0 request: accepted, chunked, the connection kept --
**     both are refused here (400), as RFC 9112 allows and as proxies in
**     front of us may frame the message differently.
** This is a pure function over the field values (libmicrohttpd's, with
** surrounding whitespace removed), called when the headers are complete
** and before any body byte is read, so a refusal is immediate.
**
** What is accepted is exactly what libmicrohttpd will then frame the same
** way: no Transfer-Encoding and every Content-Length element the same
** number; or one Transfer-Encoding field whose value is "chunked" (any
** case) and no Content-Length.
*/
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "framing.h"

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* The elements of a comma-separated field value: calls each with the
   element trimmed of OWS (empty elements included). */
typedef bool (*element_fn)(const char *s, size_t n, void *ud);

static bool each_element(const char *v, element_fn fn, void *ud)
{
    for (;;) {
        const char *end = strchr(v, ',');
        size_t n = end ? (size_t)(end - v) : strlen(v);
        const char *s = v;
        while (n && is_ows(*s)) {
            s++;
            n--;
        }
        while (n && is_ows(s[n - 1]))
            n--;
        if (!fn(s, n, ud))
            return false;
        if (!end)
            return true;
        v = end + 1;
    }
}

typedef struct cl_state {
    bool has_value;
    uint64_t value;
    const char *why;
} cl_state;

static bool cl_element(const char *s, size_t n, void *ud)
{
    cl_state *st = ud;
    if (n == 0 || n > 19) {
        st->why = "Content-Length is not a number";
        return false;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            st->why = "Content-Length is not a number";
            return false;
        }
        v = v * 10 + (uint64_t)(s[i] - '0'); /* 19 digits cannot wrap */
    }
    if (st->has_value && v != st->value) {
        st->why = "conflicting Content-Length values";
        return false;
    }
    st->has_value = true;
    st->value = v;
    return true;
}

typedef struct te_state {
    size_t n_chunked, n_codings;
    bool is_unsupported, is_malformed, is_chunked_last;
} te_state;

static bool te_element(const char *s, size_t n, void *ud)
{
    te_state *st = ud;
    if (n == 0)
        return true; /* "a, , b": empty list elements are allowed and ignored */
    size_t t = 0;
    while (t < n && is_tchar((unsigned char)s[t]))
        t++;
    size_t after = t;
    while (after < n && is_ows(s[after]))
        after++;
    if (t == 0 || (after < n && s[after] != ';')) {
        st->is_malformed = true; /* a coding is a token, then nothing or ";params" */
        return true;
    }
    st->n_codings++;
    /* chunked takes no parameters: "chunked;x=1" is a coding we do not know */
    bool chunked = t == 7 && strncasecmp(s, "chunked", 7) == 0 && t == n;
    if (chunked)
        st->n_chunked++;
    else
        st->is_unsupported = true;
    st->is_chunked_last = chunked;
    return true;
}

unsigned am__http_framing(bool is_http10, const char *const *cl, size_t n_cl, const char *const *te,
                          size_t n_te, const char **why)
{
    cl_state cs = {0};
    for (size_t i = 0; i < n_cl; i++)
        if (!each_element(cl[i], cl_element, &cs)) {
            *why = cs.why;
            return 400;
        }
    if (n_te == 0)
        return 0;
    te_state ts = {0};
    for (size_t i = 0; i < n_te; i++)
        each_element(te[i], te_element, &ts);
    if (ts.is_malformed) {
        *why = "Transfer-Encoding is not a list of transfer codings";
        return 400;
    }
    if (ts.is_unsupported) {
        *why = "a transfer coding other than chunked is not supported";
        return 501;
    }
    if (ts.n_chunked != 1 || !ts.is_chunked_last) {
        *why = ts.n_chunked ? "chunked is applied more than once" : "Transfer-Encoding is empty";
        return 400;
    }
    if (is_http10) {
        *why = "Transfer-Encoding in an HTTP/1.0 request";
        return 400;
    }
    if (n_cl) {
        *why = "both Content-Length and Transfer-Encoding";
        return 400;
    }
    if (n_te != 1 || strcasecmp(te[0], "chunked") != 0) {
        *why = "Transfer-Encoding must be one field \"chunked\"";
        return 400;
    }
    return 0;
}
