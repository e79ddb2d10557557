/*
** fault_alloc.h: a counting allocator for the out-of-memory tests -- it
** counts the allocations live and made, and fails the g_fail_at-th one
** (1-based; 0: none), setting g_failed. Install it with
**     am_allocator a = {t_malloc, t_realloc, t_free};
**     am_set_allocator(&a);
** and run a scenario with g_fail_at = 1, 2, ... until one completes
** without g_failed (fault_each does that for a scenario that is one
** function; include testutil.h first). Atomics, so tests whose library threads allocate
** (the breaker's, the pusher's) can use it as the others do.
*/
#ifndef AM_FAULT_ALLOC_H
#define AM_FAULT_ALLOC_H

#include <stdatomic.h>
#include <stdlib.h>

static atomic_long g_live;    /* allocations not yet freed */
static atomic_long g_count;   /* allocations so far (while g_fail_at is set) */
static atomic_long g_fail_at; /* fail this allocation (1-based); 0 = never */
static atomic_int g_failed;   /* an allocation was failed */

/* Whether this allocation is the one to fail (and say so). */
static inline int fault_now(void)
{
    long at = atomic_load(&g_fail_at);
    if (!at || atomic_fetch_add(&g_count, 1) + 1 != at)
        return 0;
    atomic_store(&g_failed, 1);
    return 1;
}

static inline void *t_malloc(size_t n)
{
    if (fault_now())
        return NULL;
    void *p = malloc(n);
    if (p)
        atomic_fetch_add(&g_live, 1);
    return p;
}

static inline void *t_realloc(void *p, size_t n)
{
    if (!p)
        return t_malloc(n);
    return fault_now() ? NULL : realloc(p, n);
}

static inline void t_free(void *p)
{
    if (p)
        atomic_fetch_sub(&g_live, 1);
    free(p);
}

/* Run scenario once to warm up (the thread's own blocks exist before
   counting), then with allocation 1, 2, ... failing until it runs without
   reaching one: each run must leak nothing, and the last return AM_OK.
   Returns how many allocations were failed in turn. */
static inline long fault_each(am_err (*scenario)(void))
{
    AM_ASSERT_OK(scenario());
    long baseline = g_live, k;
    for (k = 1;; k++) {
        g_fail_at = k;
        g_count = 0;
        g_failed = 0;
        am_err rc = scenario();
        if (g_live != baseline)
            fail_msg("fail_at=%ld leaked %ld allocation(s)", k, g_live - baseline);
        if (!g_failed) {
            AM_ASSERT_EQ(rc, AM_OK);
            break;
        }
    }
    g_fail_at = 0;
    return k - 1;
}

#endif
