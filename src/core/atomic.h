/*
** atomic.h: the atomics the library uses, in one place (STYLE rule 6).
**
** Cells are doubles. A cell written by one thread only (its own per-thread
** cell) is updated with a relaxed load and store: no lock prefix, the cost
** of a plain add, and still a data-race-free read for the summing thread.
** Cells that several threads may write use a compare-and-swap loop.
*/
#ifndef AM_CORE_ATOMIC_H
#define AM_CORE_ATOMIC_H

#include <stdatomic.h>
#include <stdint.h>

#define AM_LIKELY(x) __builtin_expect(!!(x), 1)
#define AM_UNLIKELY(x) __builtin_expect(!!(x), 0)

#define am_relaxed memory_order_relaxed
#define am_acquire memory_order_acquire
#define am_release memory_order_release

typedef _Atomic double am_acell;

static inline double am_cell_get(am_acell *c)
{
    return atomic_load_explicit(c, am_relaxed);
}

static inline void am_cell_put(am_acell *c, double v)
{
    atomic_store_explicit(c, v, am_relaxed);
}

/* Add to a cell only the calling thread writes. */
static inline void am_cell_add_own(am_acell *c, double v)
{
    atomic_store_explicit(c, atomic_load_explicit(c, am_relaxed) + v, am_relaxed);
}

/* Add to a cell any thread may write. */
static inline void am_cell_add_shared(am_acell *c, double v)
{
    double old = atomic_load_explicit(c, am_relaxed);
    while (!atomic_compare_exchange_weak_explicit(c, &old, old + v, am_relaxed, am_relaxed))
        ;
}

#endif
