/*
** testutil.h: what every unit test shares -- cmocka, typed assertions that
** print am_errmsg() on failure, encoding to a string, and golden files.
**
** Golden files live in tests/unit/golden/; run a test with
** AM_UPDATE_GOLDEN=1 to rewrite them after an intended change, and review
** the diff.
*/
#ifndef AM_TESTUTIL_H
#define AM_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agentmon/agentmon.h"

#define AM_ASSERT_OK(call)                                                                         \
    do {                                                                                           \
        am_err rc_ = (call);                                                                       \
        if (rc_ != AM_OK)                                                                          \
            fail_msg("%s returned %s: %s", #call, am_err_name(rc_), am_errmsg());                  \
    } while (0)

#define AM_ASSERT_ERR(call, code)                                                                  \
    do {                                                                                           \
        am_err rc_ = (call);                                                                       \
        if (rc_ != (code))                                                                         \
            fail_msg("%s returned %s, expected %s (%s)", #call, am_err_name(rc_),                  \
                     am_err_name(code), am_errmsg());                                              \
    } while (0)

#define AM_ASSERT_EQ(a, b) assert_int_equal((a), (b))
#define AM_ASSERT_DBL_EQ(a, b)                                                                     \
    do {                                                                                           \
        double a_ = (a), b_ = (b);                                                                 \
        if (!(a_ == b_))                                                                           \
            fail_msg("%s == %.17g, expected %.17g", #a, a_, b_);                                   \
    } while (0)
#define AM_ASSERT_STR_EQ(a, b) assert_string_equal((a), (b))
#define AM_ASSERT_CONTAINS(hay, needle)                                                            \
    do {                                                                                           \
        if (!strstr((hay), (needle)))                                                              \
            fail_msg("expected to find \"%s\" in:\n%s", (needle), (hay));                          \
    } while (0)
#define AM_ASSERT_LACKS(hay, needle)                                                               \
    do {                                                                                           \
        if (strstr((hay), (needle)))                                                               \
            fail_msg("did not expect \"%s\" in:\n%s", (needle), (hay));                            \
    } while (0)

/* Encode r in format f; owned result, free with am_free(). */
__attribute__((noinline, unused)) static char *am_test_encode(am_registry *r, am_format f)
{
    char *text = NULL;
    size_t len = 0;
    AM_ASSERT_OK(am_registry_encode(r, f, &text, &len));
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    return text;
}

static inline char *am_test_read_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, fp);
    s[got] = '\0';
    fclose(fp);
    return s;
}

/* Compare text with tests/unit/golden/name (or rewrite it). */
static inline void am_test_golden(const char *name, const char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", AM_GOLDEN_DIR, name);
    if (getenv("AM_UPDATE_GOLDEN")) {
        FILE *fp = fopen(path, "wb");
        assert_non_null(fp);
        fputs(text, fp);
        fclose(fp);
        return;
    }
    char *want = am_test_read_file(path);
    if (!want)
        fail_msg("golden file %s is missing (run with AM_UPDATE_GOLDEN=1)", path);
    if (strcmp(want, text) != 0) {
        fprintf(stderr, "---- expected (%s)\n%s---- got\n%s----\n", path, want, text);
        free(want);
        fail_msg("output differs from golden file %s", path);
    }
    free(want);
}

/* A fixed clock for byte-exact output. */
extern double (*am__time_hook)(void);
static inline double am_test_fixed_time(void)
{
    return 1700000000.5;
}

/* The next of Marsaglia's xorshift64 (x never 0): repeatable "random"
   inputs for the tests that sweep many values. */
static inline uint64_t am_test_xorshift(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

#endif
