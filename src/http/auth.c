/*
** auth.c: bearer tokens and Basic credentials, compared in constant time.
**
** The comparison looks at every byte whatever the first difference, so the
** time an attacker measures says nothing about how much of a token was
** right; and every credential set of a route is compared, not only up to
** the first that matches. Basic credentials are decoded into a stack
** buffer: a header larger than that is simply refused, no allocation on
** this path.
**
** A route's credentials come from the public am_http_auth chain, checked
** and deep-copied once when the route is added (am__creds_copy). What is
** refused there can never match a request, or would match too much: an
** empty token (then "Bearer " got in), an empty password, a token with a
** space or control character (libmicrohttpd trims header values, so it
** could never match), a Basic user with ':' (RFC 7617: the user ends at
** the first colon).
*/
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../util/alloc.h"
#include "../util/error.h"
#include "auth.h"

static bool same(const char *a, size_t alen, const char *b, size_t blen)
{
    unsigned char diff = (unsigned char)(alen != blen);
    size_t n = alen < blen ? alen : blen;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

size_t am__base64_decode(const char *s, size_t len, char *out)
{
    while (len && s[len - 1] == '=')
        len--;
    if (len % 4 == 1)
        return (size_t)-1;
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int v = c >= 'A' && c <= 'Z'   ? c - 'A'
                : c >= 'a' && c <= 'z' ? c - 'a' + 26
                : c >= '0' && c <= '9' ? c - '0' + 52
                : c == '+'             ? 62
                : c == '/'             ? 63
                                       : -1;
        if (v < 0)
            return (size_t)-1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[o] = '\0';
    return o;
}

static bool bearer_ok(const char *bearer, const char *h)
{
    if (strncasecmp(h, "Bearer ", 7) != 0)
        return false;
    const char *t = h + 7;
    while (*t == ' ')
        t++;
    return same(t, strlen(t), bearer, strlen(bearer));
}

static bool basic_ok(const char *user, const char *password, const char *h)
{
    if (strncasecmp(h, "Basic ", 6) != 0)
        return false;
    const char *b = h + 6;
    while (*b == ' ')
        b++;
    size_t blen = strlen(b);
    char dec[512];
    if (blen > (sizeof dec - 1) / 3 * 4)
        return false;
    size_t n = am__base64_decode(b, blen, dec);
    if (n == (size_t)-1)
        return false;
    const char *colon = memchr(dec, ':', n);
    if (!colon)
        return false;
    size_t ulen = (size_t)(colon - dec);
    bool ok_user = same(dec, ulen, user, strlen(user));
    bool ok_pass =
        same(colon + 1, n - ulen - 1, password ? password : "", password ? strlen(password) : 0);
    return ok_user & ok_pass;
}

bool am__auth_check(const char *bearer, const char *user, const char *password, const char *header)
{
    if (!bearer && !user)
        return true;
    if (!header)
        return false;
    while (*header == ' ')
        header++;
    bool ok = false;
    if (bearer)
        ok |= bearer_ok(bearer, header);
    if (user)
        ok |= basic_ok(user, password, header);
    return ok;
}

bool am__creds_check(const am_creds *c, const char *header)
{
    if (!c->n)
        return true;
    bool ok = false;
    for (size_t i = 0; i < c->n; i++)
        ok |= am__auth_check(c->v[i].bearer, c->v[i].user, c->v[i].password, header);
    return ok;
}

am_err am__secret_check(const char *s, const char *what, unsigned flags)
{
    if (!*s) {
        if (flags & AM_SECRET_EMPTY_OK)
            return AM_OK;
        return am__err(AM_EINVAL, "%s is empty", what);
    }
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        size_t off = (size_t)(p - (const unsigned char *)s);
        if ((flags & AM_SECRET_TOKEN) && (*p <= 0x20 || *p >= 0x7f))
            return am__err(AM_EINVAL, "%s has a space, control or non-ASCII byte at offset %zu",
                           what, off);
        if (*p < 0x20 || *p == 0x7f)
            return am__err(AM_EINVAL, "%s has a control character at offset %zu", what, off);
        if ((flags & AM_SECRET_USER) && *p == ':')
            return am__err(AM_EINVAL, "%s contains ':' (not allowed in basic auth)", what);
    }
    return AM_OK;
}

static am_err check_entry(const am_http_auth *a, size_t i)
{
    char what[64];
    am_err rc;
    if (!a->bearer_token && !a->basic_user && !a->basic_password)
        return am__err(AM_EINVAL, "credentials %zu: neither a bearer token nor a Basic user", i);
    if (!a->basic_user != !a->basic_password)
        return am__err(AM_EINVAL, "credentials %zu: Basic auth needs both a user and a password",
                       i);
    snprintf(what, sizeof what, "credentials %zu: bearer token", i);
    if (a->bearer_token && (rc = am__secret_check(a->bearer_token, what, AM_SECRET_TOKEN)))
        return rc;
    if (!a->basic_user)
        return AM_OK;
    snprintf(what, sizeof what, "credentials %zu: Basic user", i);
    if ((rc = am__secret_check(a->basic_user, what, AM_SECRET_USER)))
        return rc;
    snprintf(what, sizeof what, "credentials %zu: Basic password", i);
    return am__secret_check(a->basic_password, what, 0);
}

void am__creds_free(am_creds *c)
{
    for (size_t i = 0; i < c->n; i++) {
        am__free(c->v[i].bearer);
        am__free(c->v[i].user);
        am__free(c->v[i].password);
    }
    am__free(c->v);
    *c = (am_creds){0};
}

static char *dup_or_null(const char *s, bool *oom)
{
    if (!s)
        return NULL;
    char *d = am__strdup(s);
    if (!d)
        *oom = true;
    return d;
}

am_err am__creds_copy(const am_http_auth *a, am_creds *out)
{
    *out = (am_creds){0};
    if (!a || (!a->bearer_token && !a->basic_user && !a->basic_password && !a->next))
        return AM_OK; /* open */
    size_t n = 0;
    am_err rc;
    for (const am_http_auth *e = a; e; e = e->next, n++) {
        if (n == AM_AUTH_MAX)
            return am__err(AM_EINVAL, "more than %d credentials in one list (or a loop)",
                           AM_AUTH_MAX);
        if ((rc = check_entry(e, n)))
            return rc;
    }
    if (!(out->v = am__calloc(n, sizeof *out->v)))
        return am__err(AM_ENOMEM, "out of memory copying credentials");
    bool oom = false;
    for (const am_http_auth *e = a; e; e = e->next) {
        am_cred *c = &out->v[out->n++];
        c->bearer = dup_or_null(e->bearer_token, &oom);
        c->user = dup_or_null(e->basic_user, &oom);
        c->password = dup_or_null(e->basic_password, &oom);
        out->has_bearer |= e->bearer_token != NULL;
        out->has_basic |= e->basic_user != NULL;
    }
    if (oom) {
        am__creds_free(out);
        return am__err(AM_ENOMEM, "out of memory copying credentials");
    }
    return AM_OK;
}
