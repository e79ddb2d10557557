/*
** spare.c: the exposition block kept between encodes.
**
** WHY
** An exposition of 100,000 series is ~6 MB. Its block goes to the caller,
** who frees it with am_free() once sent; glibc unmaps a block that large
** (it was mmapped) and serves the next scrape's from its heap, whose new
** pages fault in one 4 KiB at a time: a process's second scrape took
** 130-500 page faults (tens of microseconds each on a virtual machine),
** more CPU than its first (issue 14). So am_free() hands the block of the
** last exposition back here instead, and the next encode whose last length
** fits writes into it: pages already faulted in (huge ones, walk.c and
** buf.c advised them), no allocation. A library may not tune malloc for
** the process (mallopt), so it keeps its own block.
**
** COST AND BOUNDS
** At most one block is kept, the larger when two come back, only blocks of
** AM_SPARE_MIN or more, and only the block last lent (am_encode's), so
** other memory passed to am_free() is freed as before. It is held until
** the next encode takes it, am_shutdown() or am_set_allocator(): memory
** the process would otherwise give back between scrapes.
**
** THREADING
** One mutex over the slots. am_free() of any other block reads the lent
** pointer only (an atomic load) before freeing it as before.
*/
#include <pthread.h>
#include <stdatomic.h>

#include "../util/alloc.h"
#include "../core/fork.h"
#include "spare.h"

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static void *_Atomic g_lent; /* the exposition last handed out */
static size_t g_lent_cap;
static char *g_kept; /* the block kept for the next encode */
static size_t g_kept_cap;

void am__spare_lend(char *p, size_t cap)
{
    if (!p || cap < AM_SPARE_MIN)
        return;
    am__lock(&g_lock);
    g_lent_cap = cap;
    atomic_store_explicit(&g_lent, p, memory_order_relaxed);
    am__unlock(&g_lock);
}

bool am__spare_return(void *p)
{
    if (!p || atomic_load_explicit(&g_lent, memory_order_relaxed) != p)
        return false;
    void *drop;
    am__lock(&g_lock);
    if (atomic_load_explicit(&g_lent, memory_order_relaxed) != p) { /* lost a race */
        am__unlock(&g_lock);
        return false;
    }
    atomic_store_explicit(&g_lent, NULL, memory_order_relaxed);
    if (g_kept && g_kept_cap >= g_lent_cap) {
        drop = p;
    } else {
        drop = g_kept;
        g_kept = p;
        g_kept_cap = g_lent_cap;
    }
    am__unlock(&g_lock);
    am__free(drop);
    return true;
}

char *am__spare_take(size_t want, size_t *cap)
{
    char *p = NULL;
    am__lock(&g_lock);
    if (g_kept && g_kept_cap >= want) {
        p = g_kept;
        *cap = g_kept_cap;
        g_kept = NULL;
    }
    am__unlock(&g_lock);
    return p;
}

void am__spare_drop(void)
{
    am__lock(&g_lock);
    char *p = g_kept;
    g_kept = NULL;
    atomic_store_explicit(&g_lent, NULL, memory_order_relaxed);
    am__unlock(&g_lock);
    am__free(p);
}
