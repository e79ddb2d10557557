/*
** test_hash.c: util/hash -- FNV-1a's published answers (its values are
** stored and shown, so they must never move), am__hash64 never 0 and
** sensitive to every byte, and am__map through growth, clearing, removal
** (against a model), borrowed keys and walks.
*/
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"
#include "util/hash.h"

/* Test vectors of the FNV reference (Landon Curt Noll's fnv_test.c). */
static void test_fnv1a64_vectors(void **state)
{
    (void)state;
    assert_true(am__fnv1a64(AM_FNV1A64_INIT, "", 0) == 0xcbf29ce484222325ull);
    assert_true(am__fnv1a64(AM_FNV1A64_INIT, "a", 1) == 0xaf63dc4c8601ec8cull);
    assert_true(am__fnv1a64(AM_FNV1A64_INIT, "foobar", 6) == 0x85944171f73967e8ull);
    /* chaining is concatenation */
    uint64_t h = am__fnv1a64(AM_FNV1A64_INIT, "foo", 3);
    assert_true(am__fnv1a64(h, "bar", 3) == 0x85944171f73967e8ull);
}

static void test_hash64(void **state)
{
    (void)state;
    char buf[40];
    memset(buf, 'x', sizeof buf);
    /* every length up to past two words; each byte flipped changes it */
    for (size_t n = 0; n <= sizeof buf; n++) {
        uint64_t h = am__hash64(7, buf, n);
        assert_true(h != 0);
        assert_true(h == am__hash64(7, buf, n));
        assert_true(h != am__hash64(8, buf, n)); /* the seed counts */
        for (size_t i = 0; i < n; i++) {
            buf[i] ^= 1;
            assert_true(am__hash64(7, buf, n) != h);
            buf[i] ^= 1;
        }
    }
    /* lengths are part of it: "" and "\0" differ */
    assert_true(am__hash64(0, "\0", 1) != am__hash64(0, "", 0));
}

static void test_map(void **state)
{
    (void)state;
    am__map m = {0};
    assert_null(am__map_find(&m, 1, "a", 1)); /* empty, no table yet */
    enum { N = 1000 };
    static int vals[N];
    char k[16];
    for (int i = 0; i < N; i++) {
        int n = snprintf(k, sizeof k, "k%d", i);
        AM_ASSERT_OK(am__map_put(&m, am__hash64(0, k, (size_t)n), k, (size_t)n, &vals[i]));
    }
    AM_ASSERT_EQ(m.n, N);
    assert_true(m.cap >= 2 * N); /* at most half full */
    for (int i = 0; i < N; i++) {
        int n = snprintf(k, sizeof k, "k%d", i);
        assert_ptr_equal(am__map_find(&m, am__hash64(0, k, (size_t)n), k, (size_t)n), &vals[i]);
    }
    /* same hash, other bytes: not found (a prefix, a longer key) */
    assert_null(am__map_find(&m, am__hash64(0, "k1", 2), "k", 1));
    assert_null(am__map_find(&m, am__hash64(0, "k1", 2), "k10", 3));
    /* a key that is there already: refused, the value kept */
    AM_ASSERT_ERR(am__map_put(&m, am__hash64(0, "k1", 2), "k1", 2, &vals[2]), AM_EEXIST);
    AM_ASSERT_EQ(m.n, N);
    assert_ptr_equal(am__map_find(&m, am__hash64(0, "k1", 2), "k1", 2), &vals[1]);
    /* an empty key is a key */
    AM_ASSERT_OK(am__map_put(&m, am__hash64(0, "", 0), "", 0, &vals[0]));
    assert_ptr_equal(am__map_find(&m, am__hash64(0, "", 0), "", 0), &vals[0]);
    size_t cap = m.cap;
    am__map_clear(&m);
    AM_ASSERT_EQ(m.n, 0);
    AM_ASSERT_EQ(m.cap, cap); /* the table stays */
    assert_null(am__map_find(&m, am__hash64(0, "k1", 2), "k1", 2));
    AM_ASSERT_OK(am__map_put(&m, am__hash64(0, "k1", 2), "k1", 2, &vals[1]));
    assert_ptr_equal(am__map_find(&m, am__hash64(0, "k1", 2), "k1", 2), &vals[1]);
    am__map_free(&m);
    am__map_free(&m); /* twice: a no-op */
}

/* Removal against a model: random puts and removals over a small key space,
   in a small table (long probe runs that wrap around), every key checked
   after every step; then the walk visits each entry once. */
static void test_map_del(void **state)
{
    (void)state;
    enum { K = 200 };
    static int vals[K];
    bool in[K] = {0};
    am__map m = {.first_cap = 16};
    uint64_t x = 88172645463325252ull;
    char k[16];
    for (int step = 0; step < 20000; step++) {
        int i = (int)(am_test_xorshift(&x) % K);
        int n = snprintf(k, sizeof k, "k%d", i);
        /* a weak hash on purpose: many collisions */
        uint64_t h = (uint64_t)(i % 37) * 5;
        if (in[i]) {
            assert_ptr_equal(am__map_del(&m, h, k, (size_t)n), &vals[i]);
            in[i] = false;
        } else {
            AM_ASSERT_OK(am__map_put(&m, h, k, (size_t)n, &vals[i]));
            in[i] = true;
        }
        if (step % 97)
            continue;
        size_t live = 0;
        for (int j = 0; j < K; j++) {
            int nj = snprintf(k, sizeof k, "k%d", j);
            void *v = am__map_find(&m, (uint64_t)(j % 37) * 5, k, (size_t)nj);
            assert_ptr_equal(v, in[j] ? &vals[j] : NULL);
            live += in[j];
        }
        AM_ASSERT_EQ(m.n, live);
    }
    assert_null(am__map_del(&m, 0, "absent", 6));
    size_t walked = 0, it = 0;
    for (am__map_slot *s; (s = am__map_next(&m, &it));)
        walked++;
    AM_ASSERT_EQ(walked, m.n);
    am__map_free(&m);
}

/* Borrowed keys are not copied; am__map_at replaces a value in place;
   first_cap sizes the first table; the walk order follows the hashes. */
static void test_map_borrowed(void **state)
{
    (void)state;
    static const char *const ids[] = {"alpha", "beta", "gamma", "delta"};
    int v[4], w;
    am__map m = {.is_key_borrowed = true, .first_cap = 256};
    for (int i = 0; i < 4; i++)
        AM_ASSERT_OK(am__map_put(&m, am__fnv1a64(AM_FNV1A64_INIT, ids[i], strlen(ids[i])), ids[i],
                                 strlen(ids[i]), &v[i]));
    AM_ASSERT_EQ(m.cap, 256);
    size_t it = 0;
    am__map_slot *s;
    while ((s = am__map_next(&m, &it))) {
        bool is_ours = false;
        for (int i = 0; i < 4; i++)
            is_ours |= s->key == ids[i]; /* the caller's pointer itself */
        assert_true(is_ours);
        AM_ASSERT_EQ(s->hash & 255, it - 1); /* no collisions among these four */
    }
    uint64_t h = am__fnv1a64(AM_FNV1A64_INIT, "beta", 4);
    am__map_slot *at = am__map_at(&m, h, "beta", 4);
    assert_non_null(at);
    static const char beta2[] = "beta";
    at->val = &w;
    at->key = beta2; /* equal bytes elsewhere */
    assert_ptr_equal(am__map_find(&m, h, "beta", 4), &w);
    assert_null(am__map_at(&m, h, "bet", 3));
    AM_ASSERT_OK(am__map_reserve(&m, 1000));
    assert_true(m.cap >= 2000);
    assert_ptr_equal(am__map_find(&m, h, "beta", 4), &w);
    am__map_free(&m); /* frees no key */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fnv1a64_vectors),
        cmocka_unit_test(test_hash64),
        cmocka_unit_test(test_map),
        cmocka_unit_test(test_map_del),
        cmocka_unit_test(test_map_borrowed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
