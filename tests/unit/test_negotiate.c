/*
** test_negotiate.c: Accept and Accept-Encoding tables, including what
** Prometheus, curl and browsers send, and malformed headers (which fall
** back to the defaults rather than failing a scrape).
*/
#include "testutil.h"
#include "http/negotiate.h"

static void test_format(void **state)
{
    (void)state;
    static const struct {
        const char *accept;
        am_format want;
    } cases[] = {
        {NULL, AM_FORMAT_PROMETHEUS},
        {"", AM_FORMAT_PROMETHEUS},
        {"*/*", AM_FORMAT_PROMETHEUS},
        {"text/plain", AM_FORMAT_PROMETHEUS},
        {"application/openmetrics-text", AM_FORMAT_OPENMETRICS},
        {"application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
         "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
         AM_FORMAT_OPENMETRICS},
        {"text/plain;version=0.0.4;q=1,application/openmetrics-text;q=0.5", AM_FORMAT_PROMETHEUS},
        {"application/openmetrics-text;q=0", AM_FORMAT_PROMETHEUS},
        {"APPLICATION/OpenMetrics-Text ; q=0.9, text/plain;q=0.9", AM_FORMAT_OPENMETRICS},
        {"text/html,application/xhtml+xml,*/*;q=0.8", AM_FORMAT_PROMETHEUS},
        {",,;;,", AM_FORMAT_PROMETHEUS},
        {"application/openmetrics-text;q=abc", AM_FORMAT_OPENMETRICS},
        {"application/openmetrics-text;q=7", AM_FORMAT_OPENMETRICS},
        {"application/openmetrics-textx", AM_FORMAT_PROMETHEUS},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        if (am__negotiate_format(cases[i].accept) != cases[i].want)
            fail_msg("case %zu: \"%s\"", i, cases[i].accept ? cases[i].accept : "NULL");
}

static void test_gzip(void **state)
{
    (void)state;
    static const struct {
        const char *ae;
        bool want;
    } cases[] = {
        {NULL, false},       {"", false},      {"gzip", true},         {"deflate, gzip", true},
        {"gzip;q=0", false}, {"*", true},      {"*;q=0", false},       {"gzip;q=0, *", false},
        {"identity", false}, {"x-gzip", true}, {"GZIP ; q=0.5", true}, {"br, *;q=0.1", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        if (am__accepts_gzip(cases[i].ae) != cases[i].want)
            fail_msg("case %zu: \"%s\"", i, cases[i].ae ? cases[i].ae : "NULL");
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_format), cmocka_unit_test(test_gzip)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
