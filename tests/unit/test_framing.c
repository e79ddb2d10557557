/*
** test_framing.c: the Content-Length / Transfer-Encoding check, with a
** table of framings it must accept and a table of bad ones, each refused
** with the status and reason RFC 9112 calls for.
*/
#include "testutil.h"
#include "http/framing.h"

#define MAXF 4

typedef struct fcase {
    bool is_http10;
    const char *cl[MAXF], *te[MAXF];
    unsigned want;      /* 0, 400 or 501 */
    const char *reason; /* a part of *why */
} fcase;

static size_t count(const char *const *v)
{
    size_t n = 0;
    while (n < MAXF && v[n])
        n++;
    return n;
}

static void run(const fcase *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *why = NULL;
        unsigned st = am__http_framing(c[i].is_http10, c[i].cl, count(c[i].cl), c[i].te,
                                       count(c[i].te), &why);
        if (st != c[i].want)
            fail_msg("case %zu: %u, expected %u (%s)", i, st, c[i].want, why ? why : "-");
        if (st && (!why || !strstr(why, c[i].reason)))
            fail_msg("case %zu: reason \"%s\", expected \"%s\"", i, why ? why : "(null)",
                     c[i].reason);
    }
}

static void test_good(void **state)
{
    (void)state;
    static const fcase good[] = {
        {false, {NULL}, {NULL}, 0, NULL},
        {false, {"0"}, {NULL}, 0, NULL},
        {false, {"5"}, {NULL}, 0, NULL},
        {false, {"5", "5"}, {NULL}, 0, NULL},   /* the same value twice */
        {false, {"5, 5"}, {NULL}, 0, NULL},     /* as a list */
        {false, {"005", "5"}, {NULL}, 0, NULL}, /* the same number */
        {false, {"9999999999999999999"}, {NULL}, 0, NULL},
        {true, {"12"}, {NULL}, 0, NULL},
        {false, {NULL}, {"chunked"}, 0, NULL},
        {false, {NULL}, {"Chunked"}, 0, NULL},
        {false, {NULL}, {"CHUNKED"}, 0, NULL},
    };
    run(good, sizeof good / sizeof good[0]);
}

static void test_bad(void **state)
{
    (void)state;
    static const fcase bad[] = {
        /* Content-Length */
        {false, {"5", "6"}, {NULL}, 400, "conflicting Content-Length"},
        {false, {"5, 6"}, {NULL}, 400, "conflicting Content-Length"},
        {false, {"5", "5", "7"}, {NULL}, 400, "conflicting"},
        {false, {"0", "00000000000000000001"}, {NULL}, 400, "not a number"},
        {false, {"5,"}, {NULL}, 400, "not a number"},
        {false, {",5"}, {NULL}, 400, "not a number"},
        {false, {""}, {NULL}, 400, "not a number"},
        {false, {"-1"}, {NULL}, 400, "not a number"},
        {false, {"+5"}, {NULL}, 400, "not a number"},
        {false, {"5 5"}, {NULL}, 400, "not a number"},
        {false, {"0x10"}, {NULL}, 400, "not a number"},
        {false, {"5", "abc"}, {NULL}, 400, "not a number"},
        {false, {"12345678901234567890"}, {NULL}, 400, "not a number"}, /* 20 digits */
        /* Transfer-Encoding we do not speak: 501 */
        {false, {NULL}, {"gzip"}, 501, "other than chunked"},
        {false, {NULL}, {"gzip, chunked"}, 501, "other than chunked"},
        {false, {NULL}, {"chunked, gzip"}, 501, "other than chunked"},
        {false, {NULL}, {"identity"}, 501, "other than chunked"},
        {false, {NULL}, {"chunked;ext=1"}, 501, "other than chunked"},
        {false, {NULL}, {"chunked ; x"}, 501, "other than chunked"},
        {false, {NULL}, {"deflate", "chunked"}, 501, "other than chunked"},
        {false, {"5"}, {"gzip"}, 501, "other than chunked"},
        {true, {NULL}, {"compress"}, 501, "other than chunked"},
        /* malformed or ambiguous: 400 */
        {false, {NULL}, {"chunked, chunked"}, 400, "more than once"},
        {false, {NULL}, {"chunked", "chunked"}, 400, "more than once"},
        {false, {NULL}, {""}, 400, "empty"},
        {false, {NULL}, {" , ,"}, 400, "empty"},
        {false, {NULL}, {"chunked,"}, 400, "one field"},
        {false, {NULL}, {"", "chunked"}, 400, "one field"},
        {false, {NULL}, {"chu nked"}, 400, "not a list"},
        {false, {NULL}, {"chunked\x01"}, 400, "not a list"},
        {false, {NULL}, {"\"chunked\""}, 400, "not a list"},
        {false, {NULL}, {";chunked"}, 400, "not a list"},
        {false, {NULL}, {"\xc3\xa9"}, 400, "not a list"},
        {false, {"5"}, {"chunked"}, 400, "both Content-Length and Transfer-Encoding"},
        {false, {"0"}, {"chunked"}, 400, "both"},
        {true, {NULL}, {"chunked"}, 400, "HTTP/1.0"},
        {true, {"5"}, {"chunked"}, 400, "HTTP/1.0"},
    };
    run(bad, sizeof bad / sizeof bad[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_good), cmocka_unit_test(test_bad)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
