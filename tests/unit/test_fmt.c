/*
** test_fmt.c: numbers written as Go's FormatFloat(v, 'g', -1, 64) writes
** them, and every one reads back as the same double; the SQL form.
*/
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"
#include "util/fmt.h"
#include "util/number.h"

typedef struct fmt_case {
    double v;
    const char *s;
} fmt_case;

static void check(const fmt_case *cases, size_t n, am_fmt_form form)
{
    for (size_t i = 0; i < n; i++) {
        char out[AM_FMT_MAX];
        size_t len = am__fmt_real(out, cases[i].v, form);
        AM_ASSERT_EQ(len, strlen(out));
        if (strcmp(out, cases[i].s) != 0)
            fail_msg("%.17g: got \"%s\", want \"%s\"", cases[i].v, out, cases[i].s);
        if (form == AM_FMT_GO) {
            char d[AM_FMT_MAX];
            am__fmt_double(d, cases[i].v);
            AM_ASSERT_STR_EQ(d, out);
        }
    }
}

static void test_table(void **state)
{
    (void)state;
    static const fmt_case cases[] = {
        {0, "0"},
        {-0.0, "0"},
        {1, "1"},
        {-1, "-1"},
        {10, "10"},
        {123456, "123456"},
        {999999, "999999"},
        {1000000, "1e+06"},
        {1234567, "1.234567e+06"},
        {1e21, "1e+21"},
        {0.005, "0.005"},
        {0.1, "0.1"},
        {0.25, "0.25"},
        {2.5, "2.5"},
        {0.0001, "0.0001"},
        {0.00001, "1e-05"},
        {1.5e-7, "1.5e-07"},
        {67108864, "6.7108864e+07"},
        {409.6, "409.6"},
        {81.92, "81.92"},
        {0.1 + 0.2, "0.30000000000000004"},
        {1.0 / 3.0, "0.3333333333333333"},
        {1e300, "1e+300"},
        {5e-324, "5e-324"},
        {1.7976931348623157e308, "1.7976931348623157e+308"},
        {9007199254740992.0, "9.007199254740992e+15"},
        {9007199254740991.0, "9.007199254740991e+15"},
        {NAN, "NaN"},
        {INFINITY, "+Inf"},
        {-INFINITY, "-Inf"},
        {1700000000.5, "1.7000000005e+09"},
        /* 15 and 16 digits rounded from the 17 (fmt.c): carries through
           nines, exact halves, 16 and 17 digits */
        {1e23, "1e+23"},
        {2.675, "2.675"},
        {4.35, "4.35"},
        {1.0000000000000002, "1.0000000000000002"},
        {123456789012345.6, "1.234567890123456e+14"},
        {0.9999999999999999, "0.9999999999999999"},
        {99999999999999.99, "9.999999999999998e+13"},
        {0.015625000000000003, "0.015625000000000003"},
        {1.2345678901234567e-5, "1.2345678901234568e-05"},
        {7.450580596923828e-9, "7.450580596923828e-09"},
        /* Edges of digits_exact (fmt.c) and of the formats, each
           as the snprintf way (am__fmt_digits_printf) wrote it before it:
           subnormals and the smallest normals, powers of ten, the ends of
           digits_exact's [1e-15, 2^53), integers past 2^53, the switches
           to exponents at 1e-4 and 1e6, exact halves at 15, 16, 17 digits. */
        {1e-323, "1e-323"},
        {2.2250738585072009e-308, "2.225073858507201e-308"},
        {2.2250738585072014e-308, "2.2250738585072014e-308"},
        {2.2250738585072019e-308, "2.225073858507202e-308"},
        {1e-320, "1e-320"},
        {1.2345678e-310, "1.2345678e-310"},
        {1e-16, "1e-16"},
        {1e-15, "1e-15"},
        {0.000999999999999, "0.000999999999999"},
        {0.001, "0.001"},
        {0.01, "0.01"},
        {1e15, "1e+15"},
        {1e16, "1e+16"},
        {1e17, "1e+17"},
        {1e22, "1e+22"},
        {1e-300, "1e-300"},
        {123456789012345.0, "1.23456789012345e+14"},
        {1234567890123456.0, "1.234567890123456e+15"},
        {9007199254740993.0, "9.007199254740992e+15"},
        {9007199254740994.0, "9.007199254740994e+15"},
        {18446744073709551616.0, "1.8446744073709552e+19"},
        {12345678901234567890.0, "1.2345678901234567e+19"},
        {999999.5, "999999.5"},
        {999999.9999999999, "999999.9999999999"},
        {1000000.5, "1.0000005e+06"},
        {0.00009999999999999999, "9.999999999999999e-05"},
        {0.00010000000000000002, "0.00010000000000000002"},
        {99999.99999999999, "99999.99999999999"},
        {1.5e-15, "1.5e-15"},
        {123456789012345.5, "1.234567890123455e+14"},
        {1234567890123456.5, "1.2345678901234565e+15"},
        {4503599627370495.5, "4.5035996273704955e+15"},
        {1234567890123456.25, "1.2345678901234562e+15"},
        {-1.5e-7, "-1.5e-07"},
        {9999999999999998.0, "9.999999999999998e+15"},
        {2.5e-16, "2.5e-16"},
        {4.35e-15, "4.35e-15"},
        {8.98846567431158e307, "8.98846567431158e+307"},
        {1e-14, "1e-14"},
        {1.2e-15, "1.2e-15"},
        {9.999999999999999e-16, "9.999999999999999e-16"},
        {-NAN, "NaN"},
        {-1e-300, "-1e-300"},
    };
    check(cases, sizeof cases / sizeof *cases, AM_FMT_GO);
}

static void test_roundtrip(void **state)
{
    (void)state;
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 200000; i++) {
        am_test_xorshift(&x);
        double v;
        memcpy(&v, &x, sizeof v);
        if (isnan(v))
            continue;
        char out[AM_FMT_MAX];
        size_t n = am__fmt_double(out, v);
        assert_true(n < AM_FMT_MAX);
        double back = strtod(out, NULL);
        if (isinf(v))
            assert_true(isinf(back));
        else if (back != v && !(v == 0 && back == 0))
            fail_msg("%a printed as %s reads back as %a", v, out, back);
    }
}

/* ---- am__fmt_digits (integers, digits_exact) against the snprintf way */

static uint64_t cmp_x = 0x2545f4914f6cdd1dull;

static uint64_t cmp_rand(void)
{
    return am_test_xorshift(&cmp_x);
}

/* How many values were compared, and how many of them digits_exact (not
   the integer path, not the snprintf fallback) wrote. */
typedef struct cmp_count {
    uint64_t all, exact;
} cmp_count;

/* Both digit generators on |v| (when finite and not 0), which must agree
   to the byte; every other form is made from these digits. */
static void cmp_one(double v, cmp_count *count)
{
    v = fabs(v);
    if (!(v > 0) || isinf(v))
        return;
    char a[24], b[24];
    int da, db;
    size_t na = am__fmt_digits(v, a, &da), nb = am__fmt_digits_printf(v, b, &db);
    if (na != nb || da != db || memcmp(a, b, na) != 0)
        fail_msg("%a: digits %.*s point %d, snprintf's %.*s point %d", v, (int)na, a, da, (int)nb,
                 b, db);
    count->all++;
    count->exact += v >= 1e-15 && v < 9007199254740992.0 && v != floor(v);
}

/* v and the doubles either side of it. */
static void cmp_near(double v, cmp_count *count)
{
    cmp_one(v, count);
    cmp_one(nextafter(v, INFINITY), count);
    cmp_one(nextafter(v, 0), count);
}

/* A decimal of 1..17 random significant digits at exponent ex. */
static double short_decimal_value(int ex)
{
    char dg[24], s[48];
    int nd = 1 + (int)(cmp_rand() % 17);
    snprintf(dg, sizeof dg, "%017llu", (unsigned long long)(cmp_rand() % 100000000000000000ull));
    dg[nd] = '\0';
    if (dg[0] == '0')
        dg[0] = '1';
    snprintf(s, sizeof s, "%c.%se%d", dg[0], dg + 1, ex);
    return strtod(s, NULL);
}

/* Random significand bits at a binary exponent in [lo, hi]. */
static double random_bits_at(int lo, int hi)
{
    uint64_t r = cmp_rand();
    uint64_t ex = (uint64_t)(1023 + lo + (int)(cmp_rand() % (uint64_t)(hi - lo + 1)));
    uint64_t bits = (ex << 52) | (r & ((1ull << 52) - 1));
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

/* One value of kind i % 6: any bits; any bits in digits_exact's range
   (2^-50 .. 2^53); short decimals there and anywhere; integers of every
   size; odd multiples of 2^-j, whose exact decimals end in 5 and so make
   the ties (15, 16 or 17 digits then a 5) the rounding must break evenly. */
static double cmp_value(uint64_t i)
{
    uint64_t r = cmp_rand();
    double v;
    switch (i % 6) {
    case 0:
        memcpy(&v, &r, sizeof v);
        return v;
    case 1:
        return random_bits_at(-50, 52);
    case 2:
        return short_decimal_value(i % 12 ? (int)(r % 34) - 17 : (int)(r % 640) - 330);
    case 3:
        return (double)(r >> (r % 64));
    case 4:
        return ldexp((double)(r >> 11), -(int)(cmp_rand() % 160));
    default:
        return ldexp((double)((r >> (11 + r % 40)) | 1), -(int)(1 + cmp_rand() % 12));
    }
}

/*
** digits_exact and the integer path write what snprintf and strtod do, for
** every kind of double: those of cmp_value, powers of 2 and 10, subnormals,
** the extremes, and each one's neighbours. AM_TEST_FMT_N raises the count
** (issue 14 ran it once with 17M, i.e. 51M+ values); the default is quick.
*/
static void test_digits_vs_printf(void **state)
{
    (void)state;
    const char *env = getenv("AM_TEST_FMT_N");
    uint64_t rounds = env ? strtoull(env, NULL, 10) : 40000;
    cmp_count count = {0, 0};
    for (uint64_t i = 0; i < rounds; i++)
        cmp_near(cmp_value(i), &count);
    for (int e = -1074; e <= 1023; e++)
        cmp_near(ldexp(1, e), &count);
    for (int e = -323; e <= 308; e++) {
        char s[16];
        snprintf(s, sizeof s, "1e%d", e);
        cmp_near(strtod(s, NULL), &count);
    }
    for (int i = 0; i < 2000; i++) {
        uint64_t r = cmp_rand() & ((1ull << 52) - 1); /* a subnormal */
        double v;
        memcpy(&v, &r, sizeof v);
        cmp_near(v, &count);
    }
    const double edges[] = {0,   -0.0, INFINITY, NAN, DBL_MAX, DBL_MIN, 1e-15, 9007199254740992.0,
                            0.1, 1e23, 5e-324};
    for (size_t i = 0; i < sizeof edges / sizeof *edges; i++)
        cmp_near(edges[i], &count);
    if (env)
        print_message("%llu values compared, %llu of them by digits_exact\n",
                      (unsigned long long)count.all, (unsigned long long)count.exact);
    assert_true(count.all > rounds && count.exact > rounds);
}

/* AM_FMT_SQL: the same digits, positional below 1e17 as %.17g is, and
   PostgreSQL's infinities; every value reads back exactly, and where %.17g
   wrote the shortest digits too, the text is %.17g's. */
static void test_sql(void **state)
{
    (void)state;
    static const fmt_case cases[] = {
        {0, "0"},
        {1, "1"},
        {1000000, "1000000"},
        {1234567, "1234567"},
        {1700000000.5, "1700000000.5"},
        {1700000000.123, "1700000000.123"}, /* %.17g: 1700000000.1229999 */
        {12345678901234567.0, "12345678901234568"},
        {1e17, "1e+17"},
        {-2.5e20, "-2.5e+20"},
        {0.0001, "0.0001"},
        {0.00001, "1e-05"},
        {0.1, "0.1"}, /* %.17g: 0.10000000000000001 */
        {NAN, "NaN"},
        {INFINITY, "Infinity"},
        {-INFINITY, "-Infinity"},
    };
    check(cases, sizeof cases / sizeof *cases, AM_FMT_SQL);
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 100000; i++) {
        am_test_xorshift(&x);
        double v;
        memcpy(&v, &x, sizeof v);
        if (!isfinite(v))
            continue;
        if (i % 2)
            v = ldexp(frexp(v, &(int){0}), (int)(x % 120)); /* 0.5 .. 2^120 */
        char out[AM_FMT_MAX], c[AM_FMT_MAX];
        size_t n = am__fmt_real(out, v, AM_FMT_SQL);
        assert_true(n < AM_FMT_MAX);
        if (strtod(out, NULL) != v)
            fail_msg("%a written as %s", v, out);
        /* exponent or not, as %.17g decides */
        snprintf(c, sizeof c, "%.17g", v);
        AM_ASSERT_EQ(strchr(out, 'e') != NULL, strchr(c, 'e') != NULL);
    }
}

static void test_millis(void **state)
{
    (void)state;
    static const struct {
        double v;
        const char *s;
    } cases[] = {{0, "0.000"},
                 {1700000000.5, "1700000000.500"},
                 {0.0004, "0.000"},
                 {0.0005, "0.001"},
                 {12.3456, "12.346"},
                 {1795541932.381, "1795541932.381"},
                 {999.9996, "1000.000"},
                 {-1, "-1.000"},
                 /* too long for %.3f in AM_FMT_MAX: the shortest double */
                 {1e300, "1e+300"},
                 {-1e300, "-1e+300"},
                 {NAN, "NaN"},
                 {INFINITY, "+Inf"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char out[AM_FMT_MAX];
        size_t n = am__fmt_millis(out, cases[i].v);
        AM_ASSERT_EQ(n, strlen(out));
        if (strcmp(out, cases[i].s) != 0)
            fail_msg("%.17g: got \"%s\", want \"%s\"", cases[i].v, out, cases[i].s);
    }
}

/* am__millis_value(v) is, bit for bit, what am__fmt_millis(v)'s text reads
   back as (how put_exemplar in encode/samples.c got it before). */
static void check_millis_value(double v)
{
    char t[AM_FMT_MAX];
    double want = v, got = am__millis_value(v);
    assert_true(am__num_parse(t, am__fmt_millis(t, v), AM_NUM_PLUS | AM_NUM_INF_NAN, &want));
    if (isnan(want) ? !isnan(got) : memcmp(&got, &want, sizeof got) != 0)
        fail_msg("%a (%s): got %a, want %a", v, t, got, want);
}

static void test_millis_value(void **state)
{
    (void)state;
    const double cases[] = {0,
                            -0.0,
                            0.0004,
                            0.0005,
                            0.0015,
                            12.3456,
                            999.9996,
                            1700000000.5,
                            1795541932.381,
                            1795541932.3815,
                            -1,
                            -0.0004,
                            -0.0625,
                            -12.3456,
                            -999999999999999.9,
                            1e15,
                            nextafter(1e15, 0),
                            9007199254740.993,
                            1e300,
                            -1e300,
                            NAN,
                            INFINITY,
                            -INFINITY,
                            DBL_MIN,
                            DBL_TRUE_MIN};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        check_millis_value(cases[i]);
    uint64_t x = 0x2545f4914f6cdd1du;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        /* unix times with any fraction; ties (k + 0.5 ms) and their neighbours;
           every magnitude up to 1e15 */
        double t = 1.5e9 + (double)(x % 600000000000u) / 1e6;
        double tie = (double)(x % 2000000000000u) / 1000.0 + 0.0005;
        double any = ldexp((double)(x >> 11), (int)(x % 61) - 56);
        check_millis_value(t);
        check_millis_value(tie);
        check_millis_value(nextafter(tie, 0));
        check_millis_value(nextafter(tie, 1e16));
        check_millis_value(any < 1e15 ? any : any / 1e5);
        check_millis_value(-t / 1e3);
    }
}

/* v as %lld writes it. */
static void check_int(int64_t v)
{
    char out[AM_FMT_MAX], want[32];
    size_t n = am__fmt_int(out, v);
    snprintf(want, sizeof want, "%lld", (long long)v);
    AM_ASSERT_EQ(n, strlen(out));
    AM_ASSERT_STR_EQ(out, want);
}

/* Integers as %lld writes them, the extremes included. */
static void test_int(void **state)
{
    (void)state;
    const int64_t cases[] = {0, 1, -1, 9, 10, -10, 123456789, INT64_MAX, INT64_MIN, -1000000};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        check_int(cases[i]);
    /* every magnitude, both signs: the 32-bit path and the 64-bit one */
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (int i = 0; i < 100000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        check_int((int64_t)(x >> (x % 64)));
    }
    /* each side of every power of ten: the digit count and the pairs */
    int64_t p = 1;
    for (int k = 0; k < 19; k++, p *= k < 19 ? 10 : 1) { /* 10^0 .. 10^18 */
        const int64_t near[] = {p - 1, p, p + 1, -p + 1, -p, -p - 1, p * 7 / 3};
        for (size_t i = 0; i < sizeof near / sizeof *near; i++)
            check_int(near[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_table),
                                       cmocka_unit_test(test_roundtrip),
                                       cmocka_unit_test(test_digits_vs_printf),
                                       cmocka_unit_test(test_sql),
                                       cmocka_unit_test(test_millis),
                                       cmocka_unit_test(test_millis_value),
                                       cmocka_unit_test(test_int)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
