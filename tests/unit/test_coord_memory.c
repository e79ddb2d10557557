/*
** test_coord_memory.c: the coordinator conformance suite (coord_suite.h)
** against the memory backend, plus what only memory can show: many agents
** each served without a global lock, and a clean close with messages in
** every state.
*/
#include "coord_suite.h"

static void test_close_with_everything(void **state)
{
    (void)state;
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    am_coord_opts o = suite_opts(r);
    am_coord *c;
    AM_ASSERT_OK(am_coord_open("memory:", &o, &c));
    for (int i = 0; i < 6; i++)
        AM_ASSERT_OK(send_to(c, "coder:1", NULL, 5, "x"));
    am_coord_delivery *d1 = recv_now(c, "coder:1"), *d2 = recv_now(c, "coder:1"),
                      *d3 = recv_now(c, "coder:1");
    AM_ASSERT_OK(am_coord_nack(c, d1, false, "later"));
    AM_ASSERT_OK(am_coord_nack(c, d2, true, "never"));
    am_coord_delivery_free(d1);
    am_coord_delivery_free(d2);
    am_coord_close(c); /* queued, delayed, in flight and dead letters: all freed */
    am_coord_delivery_free(d3);
    am_registry_free(r);
}

/* Built without Redis, a redis:// URI is refused by name, not taken for a typo. */
static void test_redis_uri_without_redis(void **state)
{
    (void)state;
#if AM_HAVE_REDIS
    skip();
#else
    am_coord *c = NULL;
    assert_int_equal(am_coord_open("redis://127.0.0.1:6379/0", NULL, &c), AM_EINVAL);
    assert_null(c);
    assert_non_null(strstr(am_errmsg(), "AM_WITH_REDIS=OFF"));
#endif
}

int main(void)
{
    g_uri = "memory:";
    int rc = coord_suite_run("coordinator conformance: memory");
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_close_with_everything),
                                       cmocka_unit_test(test_redis_uri_without_redis)};
    rc |= cmocka_run_group_tests(tests, NULL, NULL);
    return rc;
}
