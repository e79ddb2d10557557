/*
** test_sysstat.c: the /proc sampler -- a system record the store accepts,
** with values within their ranges, and CPU from the second sample on.
*/
#include <math.h>
#include <unistd.h>

#include "testutil.h"
#include "serve/ingest/sysstat.h"

static const am_value *col(const am_record *r, am_sys_col c)
{
    return &r->vals[c];
}

static void test_sample(void **state)
{
    (void)state;
    am_sysstat s;
    am__sysstat_init(&s);
    assert_true(s.host[0]);
    am_record r;
    AM_ASSERT_OK(am__sysstat_sample(&s, NULL, 1700000000, &r));
    AM_ASSERT_EQ(r.table, AM_T_SYSTEM);
    assert_true(col(&r, AM_SYS_CPU_USAGE)->is_null); /* no interval yet */
    AM_ASSERT_STR_EQ(col(&r, AM_SYS_HOST)->v.s, s.host);
    AM_ASSERT_DBL_EQ(col(&r, AM_SYS_TIMESTAMP)->v.d, 1700000000);
    assert_true(strncmp(col(&r, AM_SYS_ID)->v.s, "sys-", 4) == 0);
    assert_true(col(&r, AM_SYS_MEMORY_USAGE)->v.d > 0);
    assert_true(col(&r, AM_SYS_DISK_USAGE)->v.d > 0);
    assert_true(col(&r, AM_SYS_LOAD_1M)->v.d >= 0);
    assert_true(col(&r, AM_SYS_NETWORK_RX_BYTES)->v.i >= 0);
    assert_true(col(&r, AM_SYS_NETWORK_LATENCY)->is_null); /* /proc cannot tell */
    char first[48];
    snprintf(first, sizeof first, "%s", col(&r, AM_SYS_ID)->v.s);
    for (volatile unsigned long i = 0; i < 20000000; i++) /* some CPU time to see */
        ;
    usleep(20000);
    AM_ASSERT_OK(am__sysstat_sample(&s, "/", 1700000010, &r));
    double cpu = col(&r, AM_SYS_CPU_USAGE)->v.d;
    assert_false(col(&r, AM_SYS_CPU_USAGE)->is_null);
    assert_true(cpu >= 0 && cpu <= 100);
    assert_true(strcmp(first, col(&r, AM_SYS_ID)->v.s) != 0); /* a new id each time */
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_sample)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
