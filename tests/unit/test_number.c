/*
** test_number.c: am__num_parse and am__num_json_span -- what each grammar
** takes, what it refuses (a table of bad inputs per grammar), and that the
** conversion equals strtod's correctly rounded one for long inputs.
*/
#include <math.h>

#include "testutil.h"
#include "util/number.h"

static void ok(const char *s, unsigned flags, double want)
{
    double v = -12345;
    if (!am__num_parse(s, strlen(s), flags, &v))
        fail_msg("\"%s\" (flags %u) was refused", s, flags);
    if (isnan(want) ? !isnan(v) : v != want || signbit(v) != signbit(want))
        fail_msg("\"%s\" (flags %u) read as %.17g, expected %.17g", s, flags, v, want);
}

static void bad(const char *s, unsigned flags)
{
    double v = 42;
    if (am__num_parse(s, strlen(s), flags, &v))
        fail_msg("\"%s\" (flags %u) was taken as %.17g", s, flags, v);
    AM_ASSERT_DBL_EQ(v, 42); /* untouched */
}

static void test_loose(void **state)
{
    (void)state;
    ok("0", 0, 0);
    ok("-0", 0, -0.0);
    ok("42", 0, 42);
    ok("-17", 0, -17);
    ok("+3", AM_NUM_PLUS, 3);
    ok("1.5", 0, 1.5);
    ok(".5", 0, 0.5);
    ok("5.", 0, 5);
    ok("1e3", 0, 1000);
    ok("2.5E-3", 0, 0.0025);
    ok("007", 0, 7);
    ok("123456789012345", 0, 123456789012345.0);
    ok("1234567890123456789", 0, 1234567890123456789.0);
    ok("1e400", 0, INFINITY);
    ok("+Inf", AM_NUM_INF_NAN | AM_NUM_PLUS, INFINITY);
    ok("-inf", AM_NUM_INF_NAN, -INFINITY);
    ok("Infinity", AM_NUM_INF_NAN, INFINITY);
    ok("NaN", AM_NUM_INF_NAN, NAN);
    ok("nan", AM_NUM_INF_NAN, NAN);
}

static void test_loose_bad(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        unsigned flags;
    } t[] = {
        {"", 0},
        {"-", 0},
        {"+", AM_NUM_PLUS},
        {"+3", 0},
        {".", 0},
        {"e5", 0},
        {"1e", 0},
        {"1e+", 0},
        {"1.2.3", 0},
        {" 1", 0},
        {"1 ", 0},
        {"0x10", 0},
        {"1,5", 0},
        {"Inf", 0},
        {"NaN", 0},
        {"-NaN", AM_NUM_INF_NAN},
        {"infinit", AM_NUM_INF_NAN},
        {"1e400", AM_NUM_FINITE},
        {"-Inf", AM_NUM_INF_NAN | AM_NUM_FINITE},
        {"1_000", 0},
        {"--1", 0},
        {"1e5.5", 0},
        {"١", 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        bad(t[i].s, t[i].flags);
    char big[AM_NUM_MAX_TEXT + 2];
    memset(big, '1', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    bad(big, 0);
}

static void test_json(void **state)
{
    (void)state;
    unsigned j = AM_NUM_JSON | AM_NUM_FINITE;
    ok("0", j, 0);
    ok("-0.0", j, -0.0);
    ok("10", j, 10);
    ok("1.25e2", j, 125);
    ok("1E-2", j, 0.01);
    ok("1e+2", j, 100);
    static const char *const refused[] = {"01", "+1",  ".5",  "5.",  "1.e3",  "-",   "--1",
                                          "1e", "NaN", "Inf", "0x1", "1e400", "-.5", " 1"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        bad(refused[i], j);
}

static void test_json_span(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t n;
    } t[] = {{"12,", 2}, {"-0.5]", 4}, {"1e5}", 3}, {"0123", 1}, {"1.x", 0}, {"-x", 0},
             {"x", 0},   {"1e+", 0},   {"3.14", 4}, {"", 0},     {"-", 0},   {"7", 1}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (am__num_json_span(t[i].s, strlen(t[i].s)) != t[i].n)
            fail_msg("span of \"%s\" is %zu, expected %zu", t[i].s,
                     am__num_json_span(t[i].s, strlen(t[i].s)), t[i].n);
}

/* Long inputs go through strtod: the result must be its rounding. */
static void test_rounding(void **state)
{
    (void)state;
    static const char *const t[] = {"0.1",
                                    "2.2250738585072011e-308",
                                    "4.9406564584124654e-324",
                                    "1.7976931348623157e308",
                                    "9007199254740993",
                                    "123456789012345678901234567890",
                                    "0.30000000000000004441"};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        ok(t[i], AM_NUM_JSON, strtod(t[i], NULL));
}

/*
** Short decimals take the fast path (m / 10^k, no strtod): every one must
** be strtod's double, bit for bit -- the boundary lengths, signs, zeros,
** a leading '.', a trailing '.', and 200,000 random ones.
*/
static void test_fast_path(void **state)
{
    (void)state;
    static const char *const t[] = {"0.1",
                                    "-0.1",
                                    "0.0",
                                    "-0.0",
                                    "1.5",
                                    "123456789012345",
                                    "12345678901234.5",
                                    "1.23456789012345",
                                    "0.000000000000001",
                                    "999999999999999",
                                    "-99999999999999.9",
                                    "1733390000.123",
                                    "0.3",
                                    "2.675",
                                    "1234567890123456",
                                    "1.234567890123456",
                                    "0.0000000000000001"};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        ok(t[i], AM_NUM_JSON, strtod(t[i], NULL));
        ok(t[i], 0, strtod(t[i], NULL));
    }
    ok("5.", 0, 5);
    ok(".25", 0, 0.25);
    ok("-.5", 0, -0.5);
    uint64_t x = 88172645463325252u;
    char buf[40];
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int digits = 1 + (int)(x % 15), dot = (int)((x >> 8) % (unsigned)(digits + 1));
        uint64_t m = (x >> 16) % 1000000000000000u;
        char d[20];
        snprintf(d, sizeof d, "%0*llu", digits,
                 (unsigned long long)(m % (uint64_t)pow(10, digits)));
        snprintf(buf, sizeof buf, "%s%.*s%s%s", x & 1 ? "-" : "", dot ? dot : 1, dot ? d : "0",
                 dot < digits ? "." : "", d + dot);
        ok(buf, 0, strtod(buf, NULL)); /* leading zeros: the loose grammar */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loose),    cmocka_unit_test(test_loose_bad),
        cmocka_unit_test(test_json),     cmocka_unit_test(test_json_span),
        cmocka_unit_test(test_rounding), cmocka_unit_test(test_fast_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
