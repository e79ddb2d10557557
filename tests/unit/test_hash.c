/*
** test_hash.c: util/hash -- FNV-1a's published answers (its values are
** stored and shown, so they must never move), am__hash64 never 0 and
** sensitive to every byte, and am__map through growth, clearing, removal
** (against a model), borrowed keys and walks; hash-keyed entries (probe,
** removal at a slot, wrap-around, walks that remove, tables from alloc, not zeroed).
*/
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"
#include "util/alloc.h"
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

/* Every entry reachable from its home without crossing an empty slot (the
   invariant backward-shift removal keeps), and n the count of entries. */
static void check_probes(const am__map *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->s[i].key)
            continue;
        n++;
        for (size_t j = m->s[i].hash & (m->cap - 1); j != i; j = (j + 1) & (m->cap - 1))
            assert_non_null(m->s[j].key);
    }
    AM_ASSERT_EQ(n, m->n);
}

/* Hash-keyed entries, case by case: an empty map; hash 0; several entries
   of one hash told apart by am__map_probe and removed by am__map_remove;
   removal where the run wraps past the table's end (no tombstone left:
   the slots come back empty); a walk that removes as it goes; puts during
   a walk after am__map_reserve (the table does not move); a table from
   alloc (filled with garbage: only keys are emptied), never freed by the
   map; a look-up and insert in one probe (am__map_put_at_h). */
static int allocs;
static void *count_alloc(void *ud, size_t n)
{
    allocs++;
    void *p = am__malloc(n);
    if (p)
        memset(p, 0xa5, n);
    /* keep every table to free at the end, as an arena would */
    void **keep = ud;
    for (int i = 0; i < 8; i++)
        if (!keep[i]) {
            keep[i] = p;
            break;
        }
    return p;
}

static void test_map_hkeyed(void **state)
{
    (void)state;
    int v[8];
    /* empty: nothing found, nothing removed, no table made */
    am__map m = {.first_cap = 16};
    size_t it = AM__MAP_PROBE_START;
    assert_null(am__map_find_h(&m, 0));
    assert_null(am__map_at_h(&m, 5));
    assert_null(am__map_del_h(&m, 5));
    assert_null(am__map_probe(&m, 5, &it));
    AM_ASSERT_EQ(m.cap, 0);
    /* hash 0 is a key like any other; the first table is first_cap */
    AM_ASSERT_OK(am__map_put_h(&m, 0, &v[0]));
    AM_ASSERT_EQ(m.cap, 16);
    assert_ptr_equal(am__map_find_h(&m, 0), &v[0]);
    assert_ptr_equal(am__map_del_h(&m, 0), &v[0]);
    assert_null(am__map_find_h(&m, 0));
    AM_ASSERT_EQ(m.n, 0);
    /* three entries of hash 3 and one of 19 (same home): probe yields the
       three in slot order, never 19's */
    AM_ASSERT_OK(am__map_put_h(&m, 3, &v[1]));
    AM_ASSERT_OK(am__map_put_h(&m, 19, &v[2]));
    AM_ASSERT_OK(am__map_put_h(&m, 3, &v[3]));
    AM_ASSERT_OK(am__map_put_h(&m, 3, &v[4]));
    void *seen[4] = {0};
    int k = 0;
    it = AM__MAP_PROBE_START;
    for (am__map_slot *sl; (sl = am__map_probe(&m, 3, &it));)
        seen[k++] = sl->val;
    AM_ASSERT_EQ(k, 3);
    assert_ptr_equal(seen[0], &v[1]);
    assert_ptr_equal(seen[1], &v[3]);
    assert_ptr_equal(seen[2], &v[4]);
    /* remove the middle one of hash 3: the others and 19 still found */
    it = AM__MAP_PROBE_START;
    am__map_slot *sl = am__map_probe(&m, 3, &it);
    sl = am__map_probe(&m, 3, &it);
    assert_ptr_equal(sl->val, &v[3]);
    am__map_remove(&m, sl);
    check_probes(&m);
    AM_ASSERT_EQ(m.n, 3);
    assert_ptr_equal(am__map_find_h(&m, 19), &v[2]);
    k = 0;
    it = AM__MAP_PROBE_START;
    for (am__map_slot *x; (x = am__map_probe(&m, 3, &it));)
        k++;
    AM_ASSERT_EQ(k, 2);
    am__map_clear(&m);
    /* wrap-around: homes at the last slot run into slots 0 and 1; removing
       the one at the end shifts them back, and removing all leaves every
       slot empty (no tombstones) */
    AM_ASSERT_OK(am__map_put_h(&m, 15, &v[0]));
    AM_ASSERT_OK(am__map_put_h(&m, 31, &v[1]));
    AM_ASSERT_OK(am__map_put_h(&m, 47, &v[2]));
    assert_ptr_equal(m.s[15].val, &v[0]);
    assert_ptr_equal(m.s[0].val, &v[1]);
    assert_ptr_equal(m.s[1].val, &v[2]);
    assert_ptr_equal(am__map_del_h(&m, 15), &v[0]);
    check_probes(&m);
    assert_ptr_equal(m.s[15].val, &v[1]); /* moved back across the end */
    assert_ptr_equal(m.s[0].val, &v[2]);
    assert_null(m.s[1].key);
    assert_ptr_equal(am__map_del_h(&m, 47), &v[2]);
    assert_ptr_equal(am__map_del_h(&m, 31), &v[1]);
    for (size_t i = 0; i < m.cap; i++)
        assert_null(m.s[i].key);
    /* a walk that removes as it goes, stepping back over the slot it
       emptied (dispatch's pattern): every entry seen, the map empty */
    for (uint64_t h = 0; h < 7; h++)
        AM_ASSERT_OK(am__map_put_h(&m, h * 16 + 14, &v[h])); /* one run from 14, wrapping */
    int removed = 0;
    it = 0;
    for (am__map_slot *x; (x = am__map_next(&m, &it));) {
        am__map_remove(&m, x);
        removed++;
        it--;
        check_probes(&m);
    }
    AM_ASSERT_EQ(removed, 7);
    AM_ASSERT_EQ(m.n, 0);
    /* puts during a walk after a reserve: the table does not move */
    AM_ASSERT_OK(am__map_reserve(&m, 8));
    am__map_slot *table = m.s;
    AM_ASSERT_OK(am__map_put_h(&m, 1, &v[0]));
    it = 0;
    for (am__map_slot *x; (x = am__map_next(&m, &it));)
        for (uint64_t h = 2; m.n < 8; h++)
            AM_ASSERT_OK(am__map_put_h(&m, h, &v[1]));
    assert_ptr_equal(m.s, table);
    AM_ASSERT_EQ(m.n, 8);
    am__map_free(&m);
    /* tables from alloc: used for every growth, never freed by the map */
    void *keep[8] = {0};
    am__map z = {.first_cap = 16, .alloc = count_alloc, .alloc_ud = keep};
    allocs = 0;
    for (uint64_t h = 0; h < 20; h++)
        AM_ASSERT_OK(am__map_put_h(&z, h * 0x9E3779B97F4A7C15ull, &v[0]));
    AM_ASSERT_EQ(allocs, 3); /* 16, 32, 64 */
    for (uint64_t h = 0; h < 20; h++)
        assert_ptr_equal(am__map_find_h(&z, h * 0x9E3779B97F4A7C15ull), &v[0]);
    /* one probe: absent, so the probe ends at the slot the entry takes */
    AM_ASSERT_OK(am__map_reserve(&z, z.n + 1));
    it = AM__MAP_PROBE_START;
    assert_null(am__map_probe(&z, 12345, &it));
    assert_null(z.s[it].key);
    am__map_put_at_h(&z, it, 12345, &v[5]);
    assert_ptr_equal(am__map_find_h(&z, 12345), &v[5]);
    AM_ASSERT_EQ(z.n, 21);
    check_probes(&z);
    am__map_free(&z);
    assert_null(z.s);
    for (int i = 0; i < 8; i++)
        am__free(keep[i]);
}

/* Hash-keyed entries against a model: many entries per hash, removals by
   probe and by hash, the probe invariant after every step. */
static void test_map_hkeyed_model(void **state)
{
    (void)state;
    enum { K = 300 };
    static int vals[K];
    bool in[K] = {0};
    am__map m = {.first_cap = 16};
    uint64_t x = 2463534242ull;
    for (int step = 0; step < 20000; step++) {
        int i = (int)(am_test_xorshift(&x) % K);
        uint64_t h = (uint64_t)(i % 23) * 7; /* collisions on purpose */
        if (in[i]) {
            size_t it = AM__MAP_PROBE_START;
            am__map_slot *sl;
            while ((sl = am__map_probe(&m, h, &it)) && sl->val != &vals[i])
                ;
            assert_non_null(sl);
            am__map_remove(&m, sl);
            in[i] = false;
        } else {
            AM_ASSERT_OK(am__map_put_h(&m, h, &vals[i]));
            in[i] = true;
        }
        if (step % 89 == 0) {
            check_probes(&m);
            for (int j = 0; j < K; j++) {
                size_t it = AM__MAP_PROBE_START;
                am__map_slot *sl;
                while ((sl = am__map_probe(&m, (uint64_t)(j % 23) * 7, &it)) && sl->val != &vals[j])
                    ;
                assert_true((sl != NULL) == in[j]);
            }
        }
    }
    am__map_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fnv1a64_vectors),
        cmocka_unit_test(test_hash64),
        cmocka_unit_test(test_map),
        cmocka_unit_test(test_map_del),
        cmocka_unit_test(test_map_borrowed),
        cmocka_unit_test(test_map_hkeyed),
        cmocka_unit_test(test_map_hkeyed_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
