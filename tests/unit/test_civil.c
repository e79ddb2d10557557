/*
** test_civil.c: UTC calendar text both ways -- checked against timegm and
** gmtime_r over many instants, and a table of bad times.
*/
#define _GNU_SOURCE /* timegm */
#include <math.h>
#include <time.h>

#include "testutil.h"
#include "util/civil.h"

static void test_format_matches_gmtime(void **state)
{
    (void)state;
    for (int64_t t = 0; t < AM_CIVIL_MAX_SEC; t += 86400 * 97 + 3607) {
        char ours[20], libc[32];
        am__civil_format(t, ours);
        ours[19] = '\0';
        time_t tt = (time_t)t;
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(libc, sizeof libc, "%Y-%m-%dT%H:%M:%S", &tm);
        AM_ASSERT_STR_EQ(ours, libc);
        double back;
        char z[21];
        memcpy(z, ours, 19);
        memcpy(z + 19, "Z", 2);
        AM_ASSERT_OK(am__time_parse(z, 20, "t", &back));
        AM_ASSERT_DBL_EQ(back, (double)t);
    }
    char out[25];
    am__rfc3339_ms(1700000000.1234, out);
    AM_ASSERT_STR_EQ(out, "2023-11-14T22:13:20.123Z");
    am__rfc3339_ms(59.9996, out);
    AM_ASSERT_STR_EQ(out, "1970-01-01T00:01:00.000Z");
    am__rfc3339_ms(-1, out);
    AM_ASSERT_STR_EQ(out, "1970-01-01T00:00:00.000Z");
    am__rfc3339_ms(1e300, out);
    AM_ASSERT_STR_EQ(out, "9999-12-31T23:59:59.999Z");
}

static void test_parse(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        double want;
    } good[] = {
        {"0", 0},
        {"1700000000", 1700000000},
        {"1700000000.25", 1700000000.25},
        {"2023-11-14T22:13:20Z", 1700000000},
        {"2023-11-14t22:13:20z", 1700000000},
        {"2023-11-14 22:13:20Z", 1700000000},
        {"2023-11-14T22:13:20.5Z", 1700000000.5},
        {"2023-11-14T23:13:20+01:00", 1700000000},
        {"2023-11-14T17:13:20-05:00", 1700000000},
        {"2024-02-29T00:00:00Z", 1709164800},
        {"9999-12-31T23:59:59Z", 253402300799.0},
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        double t;
        AM_ASSERT_OK(am__time_parse(good[i].s, strlen(good[i].s), "start", &t));
        if (fabs(t - good[i].want) > 1e-6)
            fail_msg("%s gave %.6f, expected %.6f", good[i].s, t, good[i].want);
    }
    static const char *bad[] = {
        "",
        " ",
        "-1",
        "+5",
        "1e9",
        "1.",
        ".5",
        "1.2.3",
        "0x10",
        "now",
        "2023-11-14",
        "2023-11-14T22:13:20",
        "2023-11-14T22:13Z",
        "2023-13-01T00:00:00Z",
        "2023-00-01T00:00:00Z",
        "2023-02-29T00:00:00Z",
        "2100-02-29T00:00:00Z",
        "2023-04-31T00:00:00Z",
        "2023-11-14T24:00:00Z",
        "2023-11-14T23:60:00Z",
        "2023-11-14T23:00:60Z",
        "1969-12-31T23:59:59Z",
        "2023-11-14T22:13:20.Z",
        "2023-11-14T22:13:20.1234567890Z",
        "2023-11-14T22:13:20+0100",
        "2023-11-14T22:13:20+24:00",
        "2023-11-14T22:13:20Zjunk",
        "2023/11/14T22:13:20Z",
        "99999999999999999999999999999999999999",
        "1970-01-01T00:00:00+00:01",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        double t = 42;
        am_err rc = am__time_parse(bad[i], strlen(bad[i]), "start", &t);
        if (rc != AM_EINVAL)
            fail_msg("\"%s\" gave %s", bad[i], am_err_name(rc));
        AM_ASSERT_CONTAINS(am_errmsg(), "start");
        AM_ASSERT_DBL_EQ(t, 42);
    }
}

static void test_duration(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        double want;
    } good[] = {{"90", 90},          {"0.5", 0.5}, {"15d", 15 * 86400.0}, {"1h30m", 5400},
                {"500ms", 0.5},      {"1m1s", 61}, {"2w", 1209600},       {"1y", 31536000},
                {"1h1ms", 3600.001}, {"60s", 60}};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        double t;
        AM_ASSERT_OK(am__duration_parse(good[i].s, strlen(good[i].s), "step", &t));
        if (fabs(t - good[i].want) > 1e-9)
            fail_msg("%s gave %g, expected %g", good[i].s, t, good[i].want);
    }
    static const char *bad[] = {"",     "0",   "0s",  "-1", "1.5h", "h",   "1x",   "1h1h",
                                "1m1h", "1 h", "1hm", "ms", "1sm",  "1e3", "5mss", "10msx"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        double t = 42;
        am_err rc = am__duration_parse(bad[i], strlen(bad[i]), "step", &t);
        if (rc != AM_EINVAL)
            fail_msg("\"%s\" gave %s", bad[i], am_err_name(rc));
        AM_ASSERT_CONTAINS(am_errmsg(), "step");
        AM_ASSERT_DBL_EQ(t, 42);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_format_matches_gmtime),
                                       cmocka_unit_test(test_parse),
                                       cmocka_unit_test(test_duration)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
