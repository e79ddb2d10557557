/*
** atomic.h: the atomics the library uses, in one place (STYLE rule 6).
**
** A cell is a 64-bit word holding either a count (uint64) or a double's
** bits. Counts are what most writes are (inc, a bucket), and an integer
** add is half the latency of a floating-point one in a load-add-store chain.
** A cell written by one thread only (its own per-thread cell) is updated
** with a relaxed load and store: no lock prefix, the cost of a plain add,
** and still a data-race-free read for the summing thread. Cells that
** several threads may write use fetch_add or a compare-and-swap loop.
*/
#ifndef AM_CORE_ATOMIC_H
#define AM_CORE_ATOMIC_H

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#define AM_LIKELY(x) __builtin_expect(!!(x), 1)
#define AM_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* Bytes between what two threads write, so that neither's writes move the
   other's cache line (x86-64 and most ARM cores: 64-byte lines). A pad, not
   an alignment: blocks come from am__malloc, which may be the user's. */
#define AM_CACHE_LINE 64

#define am_relaxed memory_order_relaxed
#define am_acquire memory_order_acquire
#define am_release memory_order_release

typedef _Atomic uint64_t am_acell;

static inline double am_bits_to_double(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static inline uint64_t am_double_to_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static inline uint64_t am_cell_get_u(am_acell *c)
{
    return atomic_load_explicit(c, am_relaxed);
}

static inline double am_cell_get_d(am_acell *c)
{
    return am_bits_to_double(atomic_load_explicit(c, am_relaxed));
}

/* Add to a cell only the calling thread writes. */
static inline void am_cell_add_own_u(am_acell *c, uint64_t v)
{
    atomic_store_explicit(c, atomic_load_explicit(c, am_relaxed) + v, am_relaxed);
}

static inline void am_cell_add_own_d(am_acell *c, double v)
{
    double d = am_bits_to_double(atomic_load_explicit(c, am_relaxed)) + v;
    atomic_store_explicit(c, am_double_to_bits(d), am_relaxed);
}

/* Add to a cell any thread may write. */
static inline void am_cell_add_shared_u(am_acell *c, uint64_t v)
{
    atomic_fetch_add_explicit(c, v, am_relaxed);
}

static inline void am_cell_add_shared_d(am_acell *c, double v)
{
    uint64_t old = atomic_load_explicit(c, am_relaxed);
    while (!atomic_compare_exchange_weak_explicit(
        c, &old, am_double_to_bits(am_bits_to_double(old) + v), am_relaxed, am_relaxed))
        ;
}

/* A shared double outside the cells (a gauge's value). */
static inline void am_atomic_add_double(_Atomic double *p, double v)
{
    double old = atomic_load_explicit(p, am_relaxed);
    while (!atomic_compare_exchange_weak_explicit(p, &old, old + v, am_relaxed, am_relaxed))
        ;
}

#endif
