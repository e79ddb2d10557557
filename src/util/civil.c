/*
** civil.c: UTC calendar conversions (see civil.h), with Howard Hinnant's
** days-from-civil algorithms, which are exact over the whole range with
** integer arithmetic only.
*/
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "civil.h"
#include "error.h"

static void put2(char *p, unsigned v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

void am__civil_format(int64_t sec, char out[19])
{
    int64_t days = sec / 86400, rem = sec % 86400;
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    unsigned d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    unsigned m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    y += m <= 2;
    put2(out, (unsigned)(y / 100));
    put2(out + 2, (unsigned)(y % 100));
    out[4] = '-';
    put2(out + 5, m);
    out[7] = '-';
    put2(out + 8, d);
    out[10] = 'T';
    put2(out + 11, (unsigned)(rem / 3600));
    out[13] = ':';
    put2(out + 14, (unsigned)(rem / 60 % 60));
    out[16] = ':';
    put2(out + 17, (unsigned)(rem % 60));
}

void am__rfc3339_ms(double t, char out[25])
{
    /* whole milliseconds first, so 59.9996 s rounds into the next minute */
    double ms_total = t >= 0 ? floor(t * 1000.0 + 0.5) : 0;
    if (ms_total > (double)AM_CIVIL_MAX_SEC * 1000.0 + 999.0)
        ms_total = (double)AM_CIVIL_MAX_SEC * 1000.0 + 999.0;
    int64_t all = (int64_t)ms_total;
    unsigned ms = (unsigned)(all % 1000);
    am__civil_format(all / 1000, out);
    out[19] = '.';
    out[20] = (char)('0' + ms / 100);
    put2(out + 21, ms % 100);
    out[23] = 'Z';
    out[24] = '\0';
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool digits(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return true;
}

static bool leap(unsigned y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* RFC 3339 date-time; false when s is not one. */
static bool parse_rfc3339(const char *s, size_t n, double *out)
{
    static const unsigned mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    unsigned Y, M, D, h, mi, sec;
    if (n < 20 || !digits(s, 4, &Y) || s[4] != '-' || !digits(s + 5, 2, &M) || s[7] != '-' ||
        !digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
        !digits(s + 17, 2, &sec))
        return false;
    if (Y < 1970 || M < 1 || M > 12 || D < 1 || D > mdays[M - 1] + (M == 2 && leap(Y) ? 1u : 0u) ||
        h > 23 || mi > 59 || sec > 59)
        return false;
    size_t i = 19;
    double frac = 0, scale = 0.1;
    if (i < n && s[i] == '.') {
        size_t start = ++i;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, scale /= 10)
            frac += (s[i] - '0') * scale;
        if (i == start || i - start > 9)
            return false;
    }
    if (i >= n)
        return false;
    int64_t offset = 0;
    if (s[i] == 'Z' || s[i] == 'z') {
        i++;
    } else if (s[i] == '+' || s[i] == '-') {
        unsigned oh, om;
        if (n - i != 6 || !digits(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
            !digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
            return false;
        offset = (int64_t)(oh * 3600 + om * 60) * (s[i] == '+' ? 1 : -1);
        i += 6;
    } else {
        return false;
    }
    if (i != n)
        return false;
    int64_t t = days_from_civil(Y, M, D) * 86400 + h * 3600 + mi * 60 + sec - offset;
    *out = (double)t + frac;
    return true;
}

/* Unix seconds: digits with an optional fraction; no sign, no exponent. */
static bool parse_unix(const char *s, size_t n, double *out)
{
    char tmp[40];
    size_t dots = 0, ndig = 0;
    if (n == 0 || n >= sizeof tmp)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.')
            dots++;
        else if (s[i] >= '0' && s[i] <= '9')
            ndig++;
        else
            return false;
    }
    if (dots > 1 || ndig == 0 || s[0] == '.' || s[n - 1] == '.')
        return false;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    *out = strtod(tmp, NULL);
    return true;
}

am_err am__time_parse(const char *s, size_t n, const char *what, double *out)
{
    double t;
    if (!parse_unix(s, n, &t) && !parse_rfc3339(s, n, &t))
        return am__err(AM_EINVAL,
                       "%s \"%.*s\" is not a time: give RFC 3339 (2026-11-24T21:00:00Z) or unix "
                       "seconds",
                       what, (int)(n > 64 ? 64 : n), s);
    if (!(t >= 0 && t < (double)AM_CIVIL_MAX_SEC + 1))
        return am__err(AM_EINVAL, "%s \"%.*s\" is outside 1970-01-01 .. 9999-12-31", what,
                       (int)(n > 64 ? 64 : n), s);
    *out = t;
    return AM_OK;
}

am_err am__duration_parse(const char *s, size_t n, const char *what, double *out)
{
    static const struct {
        const char *unit;
        double secs;
    } UNITS[] = {{"y", 31536000}, {"w", 604800}, {"d", 86400}, {"h", 3600},
                 {"m", 60},       {"s", 1},      {"ms", 0.001}};
    double t;
    if (parse_unix(s, n, &t)) {
        if (!(t > 0))
            return am__err(AM_EINVAL, "%s \"%.*s\" must be more than zero", what, (int)n, s);
        *out = t;
        return AM_OK;
    }
    double total = 0;
    size_t i = 0, last = 0; /* units must come largest first, each once */
    while (i < n) {
        size_t d = i;
        double v = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9' && i - d < 12)
            v = v * 10 + (s[i++] - '0');
        size_t u = 0;
        if (i > d) {
            for (u = 0; u < sizeof UNITS / sizeof UNITS[0]; u++) {
                size_t l = strlen(UNITS[u].unit);
                /* "m" must not take the m of "ms" */
                if (n - i >= l && memcmp(s + i, UNITS[u].unit, l) == 0 &&
                    !(l == 1 && s[i] == 'm' && i + 1 < n && s[i + 1] == 's'))
                    break;
            }
        }
        if (i == d || u == sizeof UNITS / sizeof UNITS[0] || (last && u < last)) {
            return am__err(AM_EINVAL,
                           "%s \"%.*s\" is not a duration: give seconds or units like 15d, "
                           "1h30m, 500ms",
                           what, (int)(n > 64 ? 64 : n), s);
        }
        last = u + 1;
        total += v * UNITS[u].secs;
        i += strlen(UNITS[u].unit);
    }
    if (!(total > 0))
        return am__err(AM_EINVAL, "%s \"%.*s\" must be more than zero", what,
                       (int)(n > 64 ? 64 : n), s);
    *out = total;
    return AM_OK;
}
