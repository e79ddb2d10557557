/*
** fmt.c: shortest round-trip formatting of doubles (see fmt.h).
**
** Integers below 2^53 -- nearly every counter and bucket count -- are
** written from their digits directly: no libc call. Other values try the
** correctly rounded 15-significant-digit form first; when that reads back
** exactly it is, trimmed, the shortest form (a shorter exact form would
** round to it), else 16 digits, else 17, which always round-trips; the 15
** and 16 digits are rounded from the one 17-digit conversion (issue 14:
** the demo's log lines spent a third of their cost in three snprintf).
** Subnormals, with fewer significant bits, search up from one digit.
** Values in [1e-4, 1e6) with at most nine decimals -- most timings and
** ratios -- are checked exactly (m / 10^k == v) and written from m.
** Since issue 14's second pass the 15/16/17-digit forms of every value
** in [1e-15, 2^53) are computed in 128-bit integers (digits_exact), with
** the very same result and no snprintf or strtod; the snprintf way stays
** for the rest and as the reference the tests hold the integers to.
*/
#include <float.h>
#include <stdbool.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "number.h"

/* Write e+XX / e-XX (three digits from 100 up) and a NUL; returns the
   length without it. printf's form of an exponent. */
static size_t put_exp(char *out, int ex)
{
    size_t o = 0;
    int a = ex < 0 ? -ex : ex;
    out[o++] = 'e';
    out[o++] = ex < 0 ? '-' : '+';
    if (a >= 100)
        out[o++] = (char)('0' + a / 100);
    out[o++] = (char)('0' + (a / 10) % 10);
    out[o++] = (char)('0' + a % 10);
    out[o] = '\0';
    return o;
}

/* buf is "[-]d.ddddde[+-]XX": its digits into d (trailing zeros trimmed),
   the decimal point's place into *dp. */
static size_t take_digits(const char *buf, char *d, int *dp)
{
    size_t n = 0;
    const char *p = buf;
    for (; *p && *p != 'e'; p++)
        if (*p != '.')
            d[n++] = *p;
    *dp = (int)strtol(p + 1, NULL, 10) + 1;
    while (n > 1 && d[n - 1] == '0')
        n--;
    return n;
}

/*
** The k-digit correctly rounded form of a normal v, from its 17-digit one
** (x17: "[-]d.dddddddddddddddde[+-]XX") by rounding those digits, into
** out as "%.*e" would write it; false when the dropped digits are exactly
** 5 then zeros, the one case where the 17-digit rounding may have moved v
** across the half-way point and the string cannot tell which way to go.
** Anywhere else rounding twice gives what rounding once does: the dropped
** part of x17 is within half a unit of its 17th digit from v's own, and
** that unit is a tenth or less of the half-way gap it would have to cross.
*/
static bool round_from_17(const char *x17, int k, char *out, size_t cap)
{
    const char *m = x17 + (x17[0] == '-');
    char dg[18];
    for (int i = 0, j = 0; i < 17; j++)
        if (m[j] != '.')
            dg[i++] = m[j];
    const char *e = strchr(m, 'e');
    long ex = strtol(e + 1, NULL, 10);
    bool up = dg[k] > '5';
    if (dg[k] == '5') {
        bool tail = false;
        for (int i = k + 1; i < 17; i++)
            tail |= dg[i] != '0';
        if (!tail)
            return false;
        up = true;
    }
    if (up) {
        int i = k - 1;
        for (; i >= 0 && dg[i] == '9'; i--)
            dg[i] = '0';
        if (i >= 0) {
            dg[i]++;
        } else { /* 99..9 became 100..0 */
            dg[0] = '1';
            ex++;
        }
    }
    size_t o = 0;
    if (x17[0] == '-')
        out[o++] = '-';
    out[o++] = dg[0];
    if (k > 1) {
        out[o++] = '.';
        memcpy(out + o, dg + 1, (size_t)k - 1);
        o += (size_t)k - 1;
    }
    if (o + 6 > cap)
        return false;
    put_exp(out + o, (int)ex);
    return true;
}

/*
** A normal v: the 15- then 16-digit forms, each kept when it reads back
** as v, else the 17 digits, which always do. One snprintf for all three
** (printf's exact conversion is most of the cost of a shortest form:
** ~2k instructions a call, where rounding a string is a few dozen), and
** a second only in round_from_17's exact-half case.
*/
static size_t digits_normal(double v, char *d, int *dp, char *buf)
{
    char x17[40];
    snprintf(x17, sizeof x17, "%.16e", v);
    for (int k = 15; k <= 16; k++) {
        if (!round_from_17(x17, k, buf, 40))
            snprintf(buf, 40, "%.*e", k - 1, v);
        if (strtod(buf, NULL) == v)
            return take_digits(buf, d, dp);
    }
    return take_digits(x17, d, dp);
}

/*
** EXACT DIGITS WITHOUT PRINTF. digits_normal's answer is, by definition:
** r15 = v correctly rounded to 15 significant digits (ties to even, as
** glibc's printf rounds an exact tie) if r15 reads back as v, else r16 if
** it does, else r17. digits_exact computes the same three numbers and the
** same "reads back" test in integers, so it writes the same digits (the
** tests compare the two over 50M+ doubles; fuzz_fmt_double keeps at it).
**
** Shortest: strtod rounds to nearest, so a decimal reads back as v exactly
** when it lies in v's rounding interval -- half an ulp either side (a
** quarter below when v is a power of two: the double below is nearer), the
** ends included when v's significand is even (ties go to even). That
** interval is under 2.3e-16 v wide, while two decimals of 15 or fewer
** significant digits are at least 1e-15 v apart: at most one of them is
** inside, and if one is, r15 (the nearest 15-digit one, or that decimal
** padded with zeros) is it. So a decimal of <= 15 digits reads back only
** if r15 does, and r15 with its trailing zeros trimmed is then the
** shortest; r16 and r17 come after.
**
** Exactly, in 128 bits: v = m 2^e2 with m < 2^53. With e10 = floor(log10
** v) and q = 16 - e10, v 10^q = 4m 5^q / 2^t, t = 2 - e2 - q, has exactly
** 17 digits before the point: a = floor of it (64 bits), rem its fraction
** (t bits). The rounding interval's ends are (4m + 2) 5^q / 2^t and
** (4m - 2 or 4m - 1) 5^q / 2^t in the same units, so whether rk, read as
** rk 10^(17-k) of those units, is inside is two integer comparisons of
** the ends' floors and remainders. Taken for 1e-15 <= v < 2^53: there q
** <= 31, so 5^q < 2^72 and (4m + 2) 5^q < 2^127, and t is 1..75 (e10 grows
** with e2 at 0.3 a step, q shrinks as fast, t = 2 - e2 - q > 0). Other
** values (beyond 2^53 only whole numbers, rare below 1e-15) take
** am__fmt_digits_printf. No libc: ~550 instructions (callgrind, -O2)
** for a 17-digit value that costs digits_normal ~6,100 -- the demo's log
** line durations (issue 14).
*/
#ifdef __SIZEOF_INT128__ /* GCC and Clang on 64-bit targets */
__extension__ typedef unsigned __int128 u128;

static const uint64_t POW10[18] = {1ull,
                                   10ull,
                                   100ull,
                                   1000ull,
                                   10000ull,
                                   100000ull,
                                   1000000ull,
                                   10000000ull,
                                   100000000ull,
                                   1000000000ull,
                                   10000000000ull,
                                   100000000000ull,
                                   1000000000000ull,
                                   10000000000000ull,
                                   100000000000000ull,
                                   1000000000000000ull,
                                   10000000000000000ull,
                                   100000000000000000ull};

/* 5^0 .. 5^27, the powers of five that fit 64 bits. */
static const uint64_t POW5[28] = {1ull,
                                  5ull,
                                  25ull,
                                  125ull,
                                  625ull,
                                  3125ull,
                                  15625ull,
                                  78125ull,
                                  390625ull,
                                  1953125ull,
                                  9765625ull,
                                  48828125ull,
                                  244140625ull,
                                  1220703125ull,
                                  6103515625ull,
                                  30517578125ull,
                                  152587890625ull,
                                  762939453125ull,
                                  3814697265625ull,
                                  19073486328125ull,
                                  95367431640625ull,
                                  476837158203125ull,
                                  2384185791015625ull,
                                  11920928955078125ull,
                                  59604644775390625ull,
                                  298023223876953125ull,
                                  1490116119384765625ull,
                                  7450580596923828125ull};

/* 5^q for q <= 31 (beyond 5^27 one 128-bit product). */
static u128 pow5(int q)
{
    return q <= 27 ? (u128)POW5[q] : (u128)POW5[27] * POW5[q - 27];
}

/* a + rem / 2^t (17 digits and a fraction) rounded to a multiple of u,
   ties to even; returns the multiple's count (a / u, or one more). */
static uint64_t round_at(uint64_t a, u128 rem, int t, uint64_t u)
{
    uint64_t c = a / u;
    u128 twice = ((u128)(a % u) << (t + 1)) + (rem << 1); /* 2 x dropped part */
    u128 unit = (u128)u << t;
    if (twice > unit || (twice == unit && (c & 1)))
        c++;
    return c;
}

/* One end of the rounding interval: floor (a) and whether it has a
   fraction, in the 17-digit units of v 10^q. */
typedef struct end {
    uint64_t a;
    bool frac;
} end;

static end end_of(u128 x, int t)
{
    end r = {(uint64_t)(x >> t), (x & (((u128)1 << t) - 1)) != 0};
    return r;
}

/* Whether y (in those units) reads back as v: inside [lo, hi], the ends
   only when closed (v's significand even). */
static bool inside(uint64_t y, end lo, end hi, bool closed)
{
    bool below_hi = closed ? y <= hi.a : (y < hi.a || (y == hi.a && hi.frac));
    bool above_lo = closed ? (y > lo.a || (y == lo.a && !lo.frac)) : y > lo.a;
    return below_hi && above_lo;
}

/* c (k digits, or 10^k after a carry) as digits and a point place. */
static size_t put_digits(uint64_t c, int k, int e10, char *d, int *dp)
{
    if (c == POW10[k]) { /* 9.99..9 rounded up: 1 of the next decade */
        d[0] = '1';
        *dp = e10 + 2;
        return 1;
    }
    for (int i = k - 1; i >= 0; i--, c /= 10)
        d[i] = (char)('0' + c % 10);
    size_t n = (size_t)k;
    while (n > 1 && d[n - 1] == '0')
        n--;
    *dp = e10 + 1;
    return n;
}

/* The digits of v as digits_normal would write them (see above), or 0
   when v is outside the range this handles. */
static size_t digits_exact(double v, char *d, int *dp)
{
    if (!(v >= 1e-15 && v < 9007199254740992.0))
        return 0;
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    int e2 = (int)(bits >> 52) - 1075; /* v > 0: no sign bit */
    uint64_t m = (bits & ((1ull << 52) - 1)) | (1ull << 52);
    /* v is in [2^(e2+52), 2^(e2+53)): e10 is floor((e2 + 52) log10 2) or
       one more; try the larger, step down when v 10^q has 16 digits. */
    int e10 = (int)floor((e2 + 52) * 0.30102999566398120) + 1;
    int q, t;
    u128 p, x;
    uint64_t a;
    for (;;) {
        q = 16 - e10;
        t = 2 - e2 - q;
        if (q < 0 || q > 31 || t < 1 || t > 120)
            return 0; /* not reached in the range above; kept for safety */
        p = pow5(q);
        x = (u128)(4 * m) * p;
        a = (uint64_t)(x >> t);
        if (a >= POW10[17])
            return 0; /* e10 too small: not reached either */
        if (a >= POW10[16])
            break;
        e10--;
    }
    u128 rem = x & (((u128)1 << t) - 1);
    end hi = end_of((u128)(4 * m + 2) * p, t);
    end lo = end_of((u128)(4 * m - (m == 1ull << 52 ? 1 : 2)) * p, t);
    bool closed = (m & 1) == 0;
    for (int k = 15; k <= 16; k++) {
        uint64_t u = POW10[17 - k];
        uint64_t c = round_at(a, rem, t, u);
        if (inside(c * u, lo, hi, closed))
            return put_digits(c, k, e10, d, dp);
    }
    return put_digits(round_at(a, rem, t, 1), 17, e10, d, dp);
}
#else
/* No 128-bit integers (a 32-bit target): every value takes the printf way. */
static size_t digits_exact(double v, char *d, int *dp)
{
    (void)v, (void)d, (void)dp;
    return 0;
}
#endif

/*
** The old way, and the reference: snprintf's correctly rounded 15, 16 and
** 17 digits (digits_normal), and for subnormals a search from one digit.
** am__fmt_digits takes it for what digits_exact does not cover (below
** 1e-15, from 2^53 up, subnormals); the tests and fuzz_fmt_double compare
** the two over every kind of double.
*/
size_t am__fmt_digits_printf(double v, char *d, int *dp)
{
    char buf[40];
    if (v >= DBL_MIN && v <= DBL_MAX)
        return digits_normal(v, d, dp, buf);
    /* Subnormals have fewer significant bits, so 15 digits may round-trip
       without being shortest: search from 1 digit up for them (and, as
       ever, for what is below DBL_MIN: negatives too). */
    for (int prec = v < DBL_MIN ? 0 : 14; prec <= 16; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec, v);
        if (prec == 16 || strtod(buf, NULL) == v)
            break;
    }
    return take_digits(buf, d, dp);
}

size_t am__fmt_digits(double v, char *d, int *dp)
{
    if (v < 9007199254740992.0 && v == floor(v)) {
        char tmp[24];
        size_t n = 0;
        for (uint64_t u = (uint64_t)v; u; u /= 10)
            tmp[n++] = (char)('0' + u % 10);
        *dp = (int)n;
        for (size_t i = 0; i < n; i++)
            d[i] = tmp[n - 1 - i];
        while (n > 1 && d[n - 1] == '0')
            n--;
        return n;
    }
    size_t n = digits_exact(v, d, dp);
    return n ? n : am__fmt_digits_printf(v, d, dp);
}

/*
** v in [1e-4, 1e6) that is m / 10^k exactly for some k <= 9: the common
** durations and ratios (0.25, 12.5, 0.001). m / 10^k with both exact is
** correctly rounded, so "m / 10^k == v" proves the decimal reads back as v,
** and the smallest such k gives the fewest digits: the text Go's shortest
** form has in this range (no exponent there), without snprintf and strtod.
** Returns the length written (no NUL), or 0 when v is not such a number.
*/
static size_t short_decimal(char *out, double v)
{
    static const double P10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
    for (int k = 0; k <= 9; k++) {
        double m = nearbyint(v * P10[k]);
        if (m >= 9007199254740992.0)
            return 0;
        if (m / P10[k] != v)
            continue;
        char d[24];
        size_t nd = 0, o = 0;
        for (uint64_t u = (uint64_t)m; u; u /= 10)
            d[nd++] = (char)('0' + u % 10); /* reversed */
        while (nd < (size_t)k + 1)
            d[nd++] = '0'; /* 0.0012: zeros before the digits */
        for (size_t i = nd; i > 0; i--) {
            if (i == (size_t)k && k)
                out[o++] = '.';
            out[o++] = d[i - 1];
        }
        return o;
    }
    return 0;
}

/* "00" .. "99": two digits per division (the store renders a few
   million integers a second into its rollup histograms) */
static const char DIGIT_PAIRS[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536"
    "37383940414243444546474849505152535455565758596061626364656667686970717273"
    "7475767778798081828384858687888990919293949596979899";

static size_t digits_u32(uint32_t u)
{
    if (u < 100000)
        return u < 100 ? 1 + (u >= 10) : u < 1000 ? 3 : u < 10000 ? 4 : 5;
    return u < 10000000 ? 6 + (u >= 1000000) : u < 100000000 ? 8 : u < 1000000000 ? 9 : 10;
}

/* x's digits at out, NUL-terminated; returns their count. */
static inline size_t put_u32(char *out, uint32_t x)
{
    size_t n = digits_u32(x);
    char *w = out + n;
    *w = '\0';
    while (x >= 100) {
        w -= 2;
        memcpy(w, DIGIT_PAIRS + 2 * (x % 100), 2);
        x /= 100;
    }
    if (x >= 10) {
        w -= 2;
        memcpy(w, DIGIT_PAIRS + 2 * x, 2);
    } else {
        *--w = (char)('0' + x);
    }
    return n;
}

size_t am__fmt_double(char *out, double v)
{
    return am__fmt_real(out, v, AM_FMT_GO);
}

static size_t fmt_real_rest(char *out, double v, am_fmt_form form);

size_t am__fmt_real(char *out, double v, am_fmt_form form)
{
    if (v >= 1 && v < 1e6 && v == (double)(uint32_t)v)
        return put_u32(out, (uint32_t)v); /* a count below a million, before any other test */
    return fmt_real_rest(out, v, form);
}

/* Everything else, out of line: the count's path above stays a leaf
   function without this one's stack. */
static __attribute__((noinline)) size_t fmt_real_rest(char *out, double v, am_fmt_form form)
{
    if (isnan(v)) {
        memcpy(out, "NaN", 4);
        return 3;
    }
    if (isinf(v)) {
        const char *t =
            form == AM_FMT_SQL ? (v > 0 ? "Infinity" : "-Infinity") : (v > 0 ? "+Inf" : "-Inf");
        size_t n = strlen(t);
        memcpy(out, t, n + 1);
        return n;
    }
    size_t o = 0;
    if (v < 0) {
        out[o++] = '-';
        v = -v;
    }
    if (v == 0) {
        out[0] = '0'; /* -0 too: Prometheus treats them alike */
        out[1] = '\0';
        return 1;
    }
    if (v < 1e6 && v == (double)(uint32_t)v)
        return o + put_u32(out + o, (uint32_t)v); /* a negative count */
    if (v >= 1e-4 && v < 1e6) {
        size_t n = short_decimal(out + o, v);
        if (n) {
            out[o + n] = '\0';
            return o + n;
        }
    }
    char d[24];
    int dp;
    size_t nd = am__fmt_digits(v, d, &dp);
    int exp = dp - 1;
    if (exp < -4 || exp >= (form == AM_FMT_SQL ? 17 : 6)) {
        out[o++] = d[0];
        if (nd > 1) {
            out[o++] = '.';
            memcpy(out + o, d + 1, nd - 1);
            o += nd - 1;
        }
        return o + put_exp(out + o, exp);
    }
    return o + am__fmt_place(out + o, d, nd, dp);
}

size_t am__fmt_place(char *out, const char *d, size_t nd, int dp)
{
    size_t o = 0;
    if (dp <= 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int i = 0; i < -dp; i++)
            out[o++] = '0';
        memcpy(out + o, d, nd);
        o += nd;
    } else if ((size_t)dp >= nd) {
        memcpy(out + o, d, nd);
        o += nd;
        for (size_t i = nd; i < (size_t)dp; i++)
            out[o++] = '0';
    } else {
        memcpy(out + o, d, (size_t)dp);
        o += (size_t)dp;
        out[o++] = '.';
        memcpy(out + o, d + dp, nd - (size_t)dp);
        o += nd - (size_t)dp;
    }
    out[o] = '\0';
    return o;
}

size_t am__fmt_millis(char *out, double v)
{
    if (!(v >= 0) || v >= 1e15) {
        /* %.3f of a huge value would not fit AM_FMT_MAX (snprintf would
           report the length it wanted): those, and NaN, as doubles. */
        if (v > -1e15 && v < 1e15)
            return (size_t)snprintf(out, AM_FMT_MAX, "%.3f", v);
        return am__fmt_double(out, v);
    }
    uint64_t ms = (uint64_t)llround(v * 1000.0);
    char tmp[24];
    size_t n = 0;
    for (int i = 0; i < 3; i++, ms /= 10)
        tmp[n++] = (char)('0' + ms % 10);
    tmp[n++] = '.';
    do {
        tmp[n++] = (char)('0' + ms % 10);
        ms /= 10;
    } while (ms);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
    return n;
}

double am__millis_value(double v)
{
    /* ms is exact as a double (below 2^53 every integer is; above, v *
       1000 was an integer already), and IEEE division rounds correctly:
       the double nearest the text's decimal ms / 1000, which is what a
       correct parse of that text returns */
    if (v >= 0 && v < 1e15)
        return (double)llround(v * 1000.0) / 1000.0;
    if (!(v > -1e15 && v < 1e15))
        return v; /* written as the shortest double (or NaN, +Inf), read back as v */
    /* negative: %.3f rounds the exact binary value, ties to even, where
       llround(v * 1000) would round a product; rare, so the text itself */
    char t[AM_FMT_MAX];
    double r = v;
    (void)am__num_parse(t, am__fmt_millis(t, v), AM_NUM_PLUS, &r);
    return r;
}

/* Above 2^32 (rare here): a digit at a time. */
static __attribute__((noinline)) size_t fmt_u64(char *out, uint64_t u)
{
    char tmp[24];
    size_t n = 0, o = 0;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    while (n)
        out[o++] = tmp[--n];
    out[o] = '\0';
    return o;
}

size_t am__fmt_int(char *out, int64_t v)
{
    /* through uint64_t: -INT64_MIN does not fit an int64_t */
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    size_t o = 0;
    if (v < 0)
        out[o++] = '-';
    if (u > UINT32_MAX)
        return o + fmt_u64(out + o, u);
    return o + put_u32(out + o, (uint32_t)u); /* 32-bit arithmetic, two digits a division */
}
