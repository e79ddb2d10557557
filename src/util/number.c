/*
** number.c: decimal text to double (see number.h).
**
** DESIGN
** Three steps: the grammar is checked by hand (so that what is accepted is
** exactly what the caller's protocol allows, whatever strtod would also
** take); a plain integer of at most 15 digits is converted from its digits
** (exact: every such integer is a double); everything else is copied into
** a NUL-terminated buffer on the stack and converted by strtod_l in the C
** locale, which rounds correctly and ignores the process's LC_NUMERIC.
** Nothing allocates; the C locale object is made once per process.
*/
#define _GNU_SOURCE /* strtod_l */
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "number.h"

static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static locale_t c_locale;

static void c_locale_init(void)
{
    c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool word_is(const char *s, size_t n, const char *word)
{
    return strlen(word) == n && strncasecmp(s, word, n) == 0;
}

/* The end of the digits from s[i]. */
static size_t digits_end(const char *s, size_t n, size_t i)
{
    while (i < n && is_digit(s[i]))
        i++;
    return i;
}

size_t am__num_json_span(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-')
        i++;
    if (i == n || !is_digit(s[i]))
        return 0;
    i = s[i] == '0' ? i + 1 : digits_end(s, n, i);
    if (i < n && s[i] == '.') {
        size_t f = digits_end(s, n, i + 1);
        if (f == i + 1)
            return 0;
        i = f;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t e = i + 1;
        if (e < n && (s[e] == '+' || s[e] == '-'))
            e++;
        size_t end = digits_end(s, n, e);
        if (end == e)
            return 0;
        i = end;
    }
    return i;
}

/* [+-]digits[.digits][e[+-]digits] or [+-].digits..., the exposition's
   and StatsD's form; true when s[0..n) is exactly that. */
static bool loose_grammar(const char *s, size_t n, size_t i)
{
    size_t j = digits_end(s, n, i);
    size_t digits = j - i;
    if (j < n && s[j] == '.') {
        size_t f = digits_end(s, n, j + 1);
        digits += f - (j + 1);
        j = f;
    }
    if (!digits)
        return false;
    if (j < n && (s[j] == 'e' || s[j] == 'E')) {
        size_t e = j + 1;
        if (e < n && (s[e] == '+' || s[e] == '-'))
            e++;
        j = digits_end(s, n, e);
        if (j == e)
            return false;
    }
    return j == n;
}

bool am__num_parse(const char *s, size_t n, unsigned flags, double *out)
{
    if (!n || n > AM_NUM_MAX_TEXT)
        return false;
    size_t i = 0;
    bool neg = false;
    if (s[0] == '-' || (s[0] == '+' && (flags & AM_NUM_PLUS))) {
        neg = s[0] == '-';
        i = 1;
    }
    if (i == n)
        return false;
    if (flags & AM_NUM_INF_NAN) {
        if (word_is(s + i, n - i, "inf") || word_is(s + i, n - i, "infinity")) {
            if (flags & AM_NUM_FINITE)
                return false;
            *out = neg ? -INFINITY : INFINITY;
            return true;
        }
        if (word_is(s + i, n - i, "nan")) {
            if (i != 0) /* no sign on NaN */
                return false;
            *out = NAN;
            return true;
        }
    }
    if (flags & AM_NUM_JSON) {
        if (s[0] == '+' || am__num_json_span(s, n) != n)
            return false;
    } else if (!loose_grammar(s, n, i)) {
        return false;
    }
    /*
    ** The common case, without strtod (which costs ~850 instructions a
    ** call): at most 15 digits, a '.' maybe, no exponent. The digits are
    ** an integer m < 10^15 < 2^53 and the fraction's length k <= 15, so m
    ** and 10^k are exact doubles and m / 10^k is one correctly rounded
    ** division: the very double strtod returns (Clinger's fast path).
    */
    if (n - i <= 16) {
        static const double POW10[16] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                         1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
        size_t j = i, n_digits = 0, n_frac = 0;
        bool has_dot = false;
        uint64_t v = 0;
        for (; j < n && n_digits <= 15; j++) {
            if (s[j] == '.' && !has_dot) {
                has_dot = true;
                continue;
            }
            if (!is_digit(s[j]))
                break;
            v = v * 10 + (uint64_t)(s[j] - '0');
            n_digits++;
            n_frac += has_dot;
        }
        if (j == n && n_digits <= 15) {
            double d = (double)v / POW10[n_frac];
            *out = neg ? -d : d;
            return true;
        }
    }
    char tmp[AM_NUM_MAX_TEXT + 1];
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    pthread_once(&c_locale_once, c_locale_init);
    char *end;
    double v = c_locale ? strtod_l(tmp, &end, c_locale) : strtod(tmp, &end);
    if (end != tmp + n)
        return false;
    if ((flags & AM_NUM_FINITE) && !isfinite(v))
        return false;
    *out = v;
    return true;
}

int64_t am__num_to_int64_go(double v)
{
    /* 2^63 is exact as a double; anything at or past it, and NaN, fails the test. */
    if (v >= -9223372036854775808.0 && v < 9223372036854775808.0)
        return (int64_t)v;
    return INT64_MIN;
}
