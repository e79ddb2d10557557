/*
** test_cells.c: the per-thread cells underneath -- runs never cross a page,
** released runs come back zeroed in every thread's block, exiting threads'
** values are kept, and all memory goes when the last run does.
*/
#include <pthread.h>

#include "testutil.h"
#include "core/cells.h"

static void test_alloc_release(void **state)
{
    (void)state;
    uint32_t a, b, c;
    AM_ASSERT_OK(am__cells_alloc(1, &a));
    assert_true(a >= AM_PAGE_CELLS); /* page 0 is reserved */
    AM_ASSERT_OK(am__cells_alloc(1000, &b));
    AM_ASSERT_OK(am__cells_alloc(100, &c)); /* does not fit behind b on b's page */
    AM_ASSERT_EQ(b >> AM_PAGE_SHIFT, (b + 999) >> AM_PAGE_SHIFT);
    AM_ASSERT_EQ(c >> AM_PAGE_SHIFT, (c + 99) >> AM_PAGE_SHIFT);
    AM_ASSERT_ERR(am__cells_alloc(0, &a), AM_EINVAL);
    AM_ASSERT_ERR(am__cells_alloc(AM_PAGE_CELLS + 1, &a), AM_EINVAL);

    am__cells_add_u(c + 5, 7);
    am__cells_add_d(c + 99, 0.25);
    double v[100];
    am__cells_rdlock();
    am__cells_sum(c, 100, v);
    am__cells_rdunlock();
    AM_ASSERT_DBL_EQ(v[5], 7);
    AM_ASSERT_DBL_EQ(v[99], 0.25);
    am__cells_release(c, 100);
    uint32_t d;
    AM_ASSERT_OK(am__cells_alloc(100, &d));
    AM_ASSERT_EQ(d, c); /* reused */
    am__cells_rdlock();
    am__cells_sum(d, 100, v);
    am__cells_rdunlock();
    AM_ASSERT_DBL_EQ(v[5], 0); /* and zeroed */
    AM_ASSERT_DBL_EQ(v[99], 0);
    am__cells_release(a, 1);
    am__cells_release(b, 1000);
    am__cells_release(d, 100);
}

typedef struct job {
    uint32_t slot;
    int n;
} job;

/* A run of two: a count, then a double. */
static void *adder(void *arg)
{
    job *j = arg;
    for (int i = 0; i < j->n; i++) {
        am__cells_add_u(j->slot, 1);
        am__cells_add_d(j->slot + 1, 0.5);
    }
    return NULL;
}

static void test_thread_exit_folds(void **state)
{
    (void)state;
    uint32_t s;
    AM_ASSERT_OK(am__cells_alloc(2, &s));
    job j = {s, 100000};
    for (int round = 0; round < 20; round++) {
        pthread_t t;
        pthread_create(&t, NULL, adder, &j);
        pthread_join(t, NULL);
    }
    /* The exited threads' counts and doubles were folded, each as its type. */
    double v[2];
    am__cells_rdlock();
    am__cells_sum(s, 2, v);
    am__cells_rdunlock();
    AM_ASSERT_DBL_EQ(v[0], 20 * 100000.0);
    AM_ASSERT_DBL_EQ(v[1], 20 * 100000 * 0.5);
    am__cells_release(s, 2);
}

static void test_many_pages(void **state)
{
    (void)state;
    enum { N = 5000 };
    static uint32_t slots[N];
    for (int i = 0; i < N; i++) {
        AM_ASSERT_OK(am__cells_alloc(13, &slots[i]));
        am__cells_add_d(slots[i] + 12, i);
        am__cells_add_u(slots[i] + 11, 2 * (uint64_t)i);
    }
    am__cells_rdlock();
    for (int i = 0; i < N; i++) {
        double v[13];
        am__cells_sum(slots[i], 13, v);
        AM_ASSERT_DBL_EQ(v[12], i);
        AM_ASSERT_DBL_EQ(v[11], 2.0 * i);
        AM_ASSERT_DBL_EQ(v[0], 0);
    }
    am__cells_rdunlock();
    for (int i = 0; i < N; i++)
        am__cells_release(slots[i], 13);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_alloc_release),
                                       cmocka_unit_test(test_thread_exit_folds),
                                       cmocka_unit_test(test_many_pages)};
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    am_shutdown();
    return rc;
}
