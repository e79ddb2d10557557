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

/* A registry scraped on one thread while coordinators open and close on
   another: the scrape reads the queue lengths of every open coordinator
   of the registry, and must never meet one whose backend is not open yet
   (am_coord_open put it on the scrape list before opening the backend:
   the demo's alerting thread crashed on it, about one start in 80). */
typedef struct scraper {
    am_registry *r;
    atomic_bool stop;
    atomic_uint scrapes;
} scraper;

static void *scrape_loop(void *p)
{
    scraper *s = p;
    while (!atomic_load(&s->stop)) {
        char *text;
        size_t len;
        if (am_encode(&s->r, 1, AM_FORMAT_PROMETHEUS, &text, &len) == AM_OK)
            am_free(text);
        s->scrapes++;
    }
    return NULL;
}

static void test_scrape_while_opening(void **state)
{
    (void)state;
    scraper s = {0};
    AM_ASSERT_OK(am_registry_new(&s.r));
    am_coord_opts o = suite_opts(s.r);
    am_coord *keep; /* the families exist, and one coordinator is always there */
    AM_ASSERT_OK(am_coord_open("memory:", &o, &keep));
    AM_ASSERT_OK(send_to(keep, "coder:1", NULL, 5, "x"));
    pthread_t th;
    atomic_init(&s.stop, false);
    assert_int_equal(pthread_create(&th, NULL, scrape_loop, &s), 0);
    /* on until the scraper has been through its loop once: on a busy
       machine it may get no core before 3000 opens are done */
    for (int i = 0; i < 3000 || atomic_load(&s.scrapes) == 0; i++) {
        am_coord *c;
        AM_ASSERT_OK(am_coord_open("memory:", &o, &c));
        am_coord_close(c);
    }
    atomic_store(&s.stop, true);
    pthread_join(th, NULL);
    assert_true(s.scrapes > 0);
    am_coord_close(keep);
    am_registry_free(s.r);
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
                                       cmocka_unit_test(test_scrape_while_opening),
                                       cmocka_unit_test(test_redis_uri_without_redis)};
    rc |= cmocka_run_group_tests(tests, NULL, NULL);
    return rc;
}
