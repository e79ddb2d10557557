/*
** test_spare.c: the exposition block kept between encodes (encode/spare.c)
** -- only the block last lent and only a large one is kept, the larger of
** two, taken back only when it holds what is wanted, dropped on request;
** and through the public calls, a second scrape writes into the block the
** first one's am_free() gave back.
*/
#include "testutil.h"

#include "encode/spare.h"
#include "util/alloc.h"

static void test_keeps_the_lent_block(void **state)
{
    (void)state;
    size_t cap = 0;
    char *p = am__malloc(AM_SPARE_MIN), *other = am__malloc(AM_SPARE_MIN);
    assert_non_null(p);
    assert_non_null(other);
    am__spare_lend(p, AM_SPARE_MIN);
    assert_null(am__spare_take(1, &cap)); /* lent, not back yet */
    assert_false(am__spare_return(other));
    assert_false(am__spare_return(NULL));
    assert_true(am__spare_return(p));
    assert_false(am__spare_return(p));                   /* back once: forgotten as lent */
    assert_null(am__spare_take(AM_SPARE_MIN + 1, &cap)); /* too small: stays kept */
    assert_ptr_equal(am__spare_take(AM_SPARE_MIN, &cap), p);
    AM_ASSERT_EQ(cap, AM_SPARE_MIN);
    assert_null(am__spare_take(1, &cap)); /* taken */
    am__free(p);
    am__free(other);
}

static void test_small_blocks_are_not_kept(void **state)
{
    (void)state;
    char *p = am__malloc(AM_SPARE_MIN - 1);
    assert_non_null(p);
    am__spare_lend(p, AM_SPARE_MIN - 1);
    assert_false(am__spare_return(p));
    am__free(p);
}

static void test_the_larger_is_kept(void **state)
{
    (void)state;
    size_t cap = 0;
    char *a = am__malloc(AM_SPARE_MIN), *b = am__malloc(2 * AM_SPARE_MIN);
    assert_non_null(a);
    assert_non_null(b);
    am__spare_lend(a, AM_SPARE_MIN);
    assert_true(am__spare_return(a));
    am__spare_lend(b, 2 * AM_SPARE_MIN);
    assert_true(am__spare_return(b)); /* a is freed (ASan would see it leak or twice) */
    char *c = am__malloc(AM_SPARE_MIN);
    assert_non_null(c);
    am__spare_lend(c, AM_SPARE_MIN);
    assert_true(am__spare_return(c)); /* smaller than b: c is freed */
    assert_ptr_equal(am__spare_take(1, &cap), b);
    AM_ASSERT_EQ(cap, 2 * AM_SPARE_MIN);
    am__free(b);
}

static void test_drop(void **state)
{
    (void)state;
    size_t cap = 0;
    char *p = am__malloc(AM_SPARE_MIN);
    assert_non_null(p);
    am__spare_lend(p, AM_SPARE_MIN);
    assert_true(am__spare_return(p));
    am__spare_drop(); /* frees p */
    assert_null(am__spare_take(1, &cap));
    p = am__malloc(AM_SPARE_MIN);
    assert_non_null(p);
    am__spare_lend(p, AM_SPARE_MIN);
    am__spare_drop(); /* forgets the lent block */
    assert_false(am__spare_return(p));
    am__free(p);
}

/* 40,000 series of ~70 bytes: an exposition of ~2.8 MB, past AM_SPARE_MIN. */
static am_registry *big_registry(void)
{
    static const char *const names[] = {"agent"};
    am_registry *r;
    AM_ASSERT_OK(am_registry_new(&r));
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.name = "agent_messages_total";
    o.help = "Messages an agent handled.";
    o.label_names = names;
    o.n_labels = 1;
    o.max_children = 40000;
    am_counter *c, *child;
    AM_ASSERT_OK(am_counter_new(r, &o, &c));
    for (int i = 0; i < 40000; i++) {
        char v[64];
        snprintf(v, sizeof v, "researcher-%08d.pool-west.example", i);
        AM_ASSERT_OK(am_counter_with(c, AM_LABELS(v), &child));
        am_counter_add(child, (uint64_t)i * 7919);
    }
    return r;
}

static void test_a_scrape_reuses_the_last_block(void **state)
{
    (void)state;
    am_registry *r = big_registry();
    char *t1, *t2, *t3;
    size_t n1, n2, n3;
    AM_ASSERT_OK(am_registry_encode(r, AM_FORMAT_PROMETHEUS, &t1, &n1));
    assert_true(n1 >= AM_SPARE_MIN);
    char *copy = am__strndup(t1, n1);
    assert_non_null(copy);
    am_free(t1);
    /* the second is sized by the first's length; the third fits it for sure */
    AM_ASSERT_OK(am_registry_encode(r, AM_FORMAT_PROMETHEUS, &t2, &n2));
    am_free(t2);
    /* kept, not freed (malloc could hand the same address out again) */
    size_t cap = 0;
    char *kept = am__spare_take(1, &cap);
    assert_ptr_equal(kept, t2);
    assert_true(cap > n2);
    am__spare_lend(kept, cap);
    assert_true(am__spare_return(kept));
    AM_ASSERT_OK(am_registry_encode(r, AM_FORMAT_PROMETHEUS, &t3, &n3));
    assert_ptr_equal(t3, t2);
    AM_ASSERT_EQ(n3, n1);
    assert_memory_equal(t3, copy, n1);
    AM_ASSERT_EQ(t3[n3], '\0');
    /* a block still out is not reused: another one comes */
    char *t4;
    AM_ASSERT_OK(am_registry_encode(r, AM_FORMAT_PROMETHEUS, &t4, NULL));
    assert_ptr_not_equal(t4, t3);
    am_free(t3);
    am_free(t4);
    am__free(copy);
    am_registry_free(r);
    am__spare_drop();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keeps_the_lent_block),
        cmocka_unit_test(test_small_blocks_are_not_kept), cmocka_unit_test(test_the_larger_is_kept),
        cmocka_unit_test(test_drop), cmocka_unit_test(test_a_scrape_reuses_the_last_block)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
