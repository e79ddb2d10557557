/*
** promql_fmt.c: Go's ways of writing and reading numbers and strings
** (promql_fmt.h).
**
** The shortest round-trip digits come from the core's am__fmt_digits, and
** 'f' places them as am__fmt_double does below 1e6: one digit generator
** and one placement in the project. Precision formats go through snprintf, which
** rounds like Go for %e/%f/%g except for the spelling of NaN and the
** infinities, handled first.
*/
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/fmt.h"
#include "../util/validate.h"
#include "promql_fmt.h"

static size_t special(char *out, double v)
{
    const char *s = isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf";
    size_t n = strlen(s);
    memcpy(out, s, n + 1);
    return n;
}

size_t am__fmt_go_f(char *out, double v)
{
    if (!isfinite(v))
        return special(out, v);
    size_t o = 0;
    if (signbit(v))
        out[o++] = '-';
    if (v == 0) {
        out[o++] = '0';
        out[o] = '\0';
        return o;
    }
    char d[24];
    int dp;
    size_t nd = am__fmt_digits(fabs(v), d, &dp);
    return o + am__fmt_place(out + o, d, nd, dp);
}

size_t am__fmt_go_E(char *out, double v)
{
    if (!isfinite(v))
        return special(out, v);
    size_t o = 0;
    if (signbit(v))
        out[o++] = '-';
    char d[24];
    int dp = 1;
    size_t nd = 1;
    if (v == 0)
        d[0] = '0';
    else
        nd = am__fmt_digits(fabs(v), d, &dp);
    out[o++] = d[0];
    if (nd > 1) {
        out[o++] = '.';
        memcpy(out + o, d + 1, nd - 1);
        o += nd - 1;
    }
    int e = v == 0 ? 0 : dp - 1;
    o += (size_t)snprintf(out + o, 8, "E%c%02d", e < 0 ? '-' : '+', e < 0 ? -e : e);
    return o;
}

size_t am__fmt_go_prec(char *out, size_t cap, double v, char verb, int prec)
{
    if (!isfinite(v)) {
        if (cap < 5)
            return 0;
        return special(out, v);
    }
    char fmt[16];
    snprintf(fmt, sizeof fmt, "%%.%d%c", prec < 0 ? 6 : prec, verb);
    int n = snprintf(out, cap, fmt, v);
    return n < 0 ? 0 : (size_t)n >= cap ? cap - 1 : (size_t)n;
}

/* ------------------------------------------------------------ quote */

static size_t utf8_rune(const unsigned char *s, size_t n, uint32_t *r)
{
    if (s[0] < 0x80) {
        *r = s[0];
        return 1;
    }
    size_t len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 0;
    if (!len || len > n || !am__utf8_valid((const char *)s, len, NULL))
        return 0;
    uint32_t c = s[0] & (0x3f >> (len - 1));
    for (size_t i = 1; i < len; i++)
        c = c << 6 | (s[i] & 0x3f);
    *r = c;
    return len;
}

/* unicode.IsPrint, approximately: controls, C1 controls and the soft
   hyphen are not; other valid runes are. */
static bool is_print(uint32_t r)
{
    return r >= 0x20 && r != 0x7f && !(r >= 0x80 && r < 0xa0) && r != 0xad;
}

void am__go_quote(am_buf *b, const char *str, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    am_buf_putc(b, '"');
    for (size_t i = 0; i < n;) {
        uint32_t r;
        size_t len = utf8_rune(s + i, n - i, &r);
        if (!len) {
            char e[4] = {'\\', 'x', hex[s[i] >> 4], hex[s[i] & 15]};
            am_buf_append(b, e, 4);
            i++;
            continue;
        }
        switch (r) {
        case '"':
            am_buf_append(b, "\\\"", 2);
            break;
        case '\\':
            am_buf_append(b, "\\\\", 2);
            break;
        case '\a':
            am_buf_append(b, "\\a", 2);
            break;
        case '\b':
            am_buf_append(b, "\\b", 2);
            break;
        case '\f':
            am_buf_append(b, "\\f", 2);
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
        case '\v':
            am_buf_append(b, "\\v", 2);
            break;
        default:
            if (is_print(r)) {
                am_buf_append(b, s + i, len);
            } else if (r < 0x80) {
                char e[4] = {'\\', 'x', hex[r >> 4], hex[r & 15]};
                am_buf_append(b, e, 4);
            } else if (r < 0x10000) {
                char e[6] = {'\\',       'u', hex[r >> 12], hex[(r >> 8) & 15], hex[(r >> 4) & 15],
                             hex[r & 15]};
                am_buf_append(b, e, 6);
            } else {
                char e[10] = {'\\',
                              'U',
                              '0',
                              '0',
                              hex[(r >> 20) & 15],
                              hex[(r >> 16) & 15],
                              hex[(r >> 12) & 15],
                              hex[(r >> 8) & 15],
                              hex[(r >> 4) & 15],
                              hex[r & 15]};
                am_buf_append(b, e, 10);
            }
        }
        i += len;
    }
    am_buf_putc(b, '"');
}

/* ------------------------------------------------------------ parse */

static bool word_ci(const char *s, size_t n, const char *w)
{
    if (strlen(w) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (tolower((unsigned char)s[i]) != w[i])
            return false;
    return true;
}

/* Digits (with Go's underscores between them) of s[*i..n) in base 10 or
   16; copies them without underscores into w. Returns the count. */
static size_t digits_run(const char *s, size_t n, size_t *i, bool hex, char *w, size_t *wn,
                         size_t wcap, bool *bad)
{
    size_t count = 0;
    bool prev_digit = false;
    while (*i < n) {
        char c = s[*i];
        bool is_d = hex ? isxdigit((unsigned char)c) : isdigit((unsigned char)c);
        if (c == '_') {
            if (!prev_digit || *i + 1 >= n ||
                !(hex ? isxdigit((unsigned char)s[*i + 1]) : isdigit((unsigned char)s[*i + 1])))
                *bad = true;
            (*i)++;
            continue;
        }
        if (!is_d)
            break;
        if (*wn + 1 < wcap)
            w[(*wn)++] = c;
        else
            *bad = true;
        prev_digit = true;
        count++;
        (*i)++;
    }
    return count;
}

bool am__go_parse_float(const char *s, size_t n, double *out)
{
    char w[512];
    size_t wn = 0, i = 0;
    bool bad = false;
    if (n == 0)
        return false;
    if (s[0] == '+' || s[0] == '-')
        w[wn++] = s[i++];
    const char *rest = s + i;
    size_t rn = n - i;
    if (word_ci(rest, rn, "inf") || word_ci(rest, rn, "infinity")) {
        *out = s[0] == '-' ? -INFINITY : INFINITY;
        return true;
    }
    if (word_ci(rest, rn, "nan")) {
        *out = NAN;
        return true;
    }
    bool hex = rn > 2 && rest[0] == '0' && (rest[1] == 'x' || rest[1] == 'X');
    if (hex) {
        w[wn++] = '0';
        w[wn++] = 'x';
        i += 2;
        if (i < n && s[i] == '_')
            i++; /* 0x_1p0 is Go syntax */
    }
    size_t nd = digits_run(s, n, &i, hex, w, &wn, sizeof w, &bad);
    if (i < n && s[i] == '.') {
        w[wn++] = '.';
        i++;
        nd += digits_run(s, n, &i, hex, w, &wn, sizeof w, &bad);
    }
    if (nd == 0 || bad)
        return false;
    if (i < n && (hex ? (s[i] == 'p' || s[i] == 'P') : (s[i] == 'e' || s[i] == 'E'))) {
        w[wn++] = s[i++];
        if (i < n && (s[i] == '+' || s[i] == '-'))
            w[wn++] = s[i++];
        if (digits_run(s, n, &i, false, w, &wn, sizeof w, &bad) == 0 || bad)
            return false;
    } else if (hex) {
        return false; /* a hexadecimal mantissa needs its p exponent */
    }
    if (i != n)
        return false;
    w[wn] = '\0';
    char *end;
    *out = strtod(w, &end);
    return *end == '\0';
}

bool am__go_parse_duration(const char *s, size_t n, int64_t *ms)
{
    /* units in descending order, each at most once: y w d h m s ms */
    static const struct {
        const char *u;
        int64_t ms;
    } UNITS[] = {{"y", 365LL * 24 * 3600 * 1000},
                 {"w", 7LL * 24 * 3600 * 1000},
                 {"d", 24LL * 3600 * 1000},
                 {"h", 3600LL * 1000},
                 {"m", 60LL * 1000},
                 {"s", 1000},
                 {"ms", 1}};
    if (n == 0)
        return false;
    if (n == 1 && s[0] == '0') {
        *ms = 0;
        return true;
    }
    int64_t total = 0;
    size_t i = 0, next_unit = 0;
    while (i < n) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        int64_t v = 0;
        while (i < n && isdigit((unsigned char)s[i])) {
            if (v > (INT64_MAX - 9) / 10)
                return false;
            v = v * 10 + (s[i] - '0');
            i++;
        }
        size_t ul = 0;
        while (i + ul < n && isalpha((unsigned char)s[i + ul]))
            ul++;
        size_t k = next_unit;
        while (k < sizeof UNITS / sizeof UNITS[0] &&
               !(strlen(UNITS[k].u) == ul && memcmp(UNITS[k].u, s + i, ul) == 0))
            k++;
        if (ul == 0 || k == sizeof UNITS / sizeof UNITS[0])
            return false;
        if (v > INT64_MAX / UNITS[k].ms || total > INT64_MAX - v * UNITS[k].ms)
            return false;
        total += v * UNITS[k].ms;
        next_unit = k + 1;
        i += ul;
    }
    *ms = total;
    return true;
}

void am__fmt_go_duration(am_buf *b, int64_t ms)
{
    if (ms == 0) {
        am_buf_append(b, "0s", 2);
        return;
    }
    if (ms < 0) {
        am_buf_putc(b, '-');
        ms = -ms;
    }
    static const struct {
        char u;
        int64_t ms;
    } UNITS[] = {{'y', 365LL * 24 * 3600 * 1000},
                 {'w', 7LL * 24 * 3600 * 1000},
                 {'d', 24LL * 3600 * 1000},
                 {'h', 3600LL * 1000},
                 {'m', 60LL * 1000},
                 {'s', 1000}};
    for (size_t k = 0; k < sizeof UNITS / sizeof UNITS[0]; k++) {
        int64_t v = ms / UNITS[k].ms;
        /* years and weeks only when the rest is a whole number of them */
        if ((UNITS[k].u == 'y' || UNITS[k].u == 'w') && ms % UNITS[k].ms != 0)
            continue;
        if (v) {
            am__buf_int(b, v);
            am_buf_putc(b, UNITS[k].u);
            ms -= v * UNITS[k].ms;
        }
    }
    if (ms) {
        am__buf_int(b, ms);
        am_buf_append(b, "ms", 2);
    }
}
