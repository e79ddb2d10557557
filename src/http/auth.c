/*
** auth.c: bearer tokens and Basic credentials, compared in constant time.
**
** The comparison looks at every byte whatever the first difference, so the
** time an attacker measures says nothing about how much of a token was
** right. Basic credentials are decoded into a stack buffer: a header larger
** than that is simply refused, no allocation on this path.
*/
#include <string.h>
#include <strings.h>

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

bool am__auth_check(const char *bearer, const char *user, const char *password,
                    const char *header)
{
    if (!bearer && !user)
        return true;
    if (!header)
        return false;
    while (*header == ' ')
        header++;
    if (bearer) {
        if (strncasecmp(header, "Bearer ", 7) != 0)
            return false;
        const char *t = header + 7;
        while (*t == ' ')
            t++;
        return same(t, strlen(t), bearer, strlen(bearer));
    }
    if (strncasecmp(header, "Basic ", 6) != 0)
        return false;
    const char *b = header + 6;
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
    bool ok_pass = same(colon + 1, n - ulen - 1, password ? password : "",
                        password ? strlen(password) : 0);
    return ok_user & ok_pass;
}
