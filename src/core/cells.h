/*
** cells.h: where metric values live -- per-thread cells, summed when read.
**
** Every counter and histogram series owns a run of cell slots (a count and
** a fraction for a counter; a count per bucket and the sum for a
** histogram). Cells hold counts (uint64) or doubles; the last cell of a run
** may be a double, the others are counts. Each thread that writes has its own
** block of cell pages, indexed by slot, so a write is a plain add to memory
** no other thread writes. Reading a series sums its slot over every thread's
** block plus the "dead" block, which holds what exited threads wrote (a
** thread's cells are folded into it when the thread exits, so totals never
** go back). See cells.c for the full design.
*/
#ifndef AM_CORE_CELLS_H
#define AM_CORE_CELLS_H

#include <stdbool.h>
#include <stdint.h>

#include "agentmon/common.h"
#include "../util/atomic.h"

#define AM_PAGE_SHIFT 10
#define AM_PAGE_CELLS (1u << AM_PAGE_SHIFT)
#define AM_PAGE_MASK (AM_PAGE_CELLS - 1)
/* Slots of page 0 are never handed out: labelled family roots point there. */
#define AM_SLOT_DISCARD 0u

typedef am_acell *_Atomic am_pageptr;

typedef struct am_tblock {
    am_pageptr *_Atomic dir; /* page directory, owned by the block */
    _Atomic uint32_t ndir;   /* entries in dir */
    _Atomic uint64_t epoch;  /* EBR: 0 = outside a read section */
    struct am_tblock *next, *prev;
} am_tblock;

/*
** The calling thread's block; an empty static block until its first write.
** No tls_model attribute: a program that links the static library gets the
** local-exec access anyway (the linker relaxes it), and the shared library
** and modules built on the static one (the Python extension) stay loadable
** with dlopen(), which initial-exec forbids once the library's thread-local
** data outgrows glibc's small static-TLS reserve for dlopen. CMake compiles
** with -mtls-dialect=gnu2 where it exists, so a dlopen'ed copy pays a
** TLS-descriptor call, not __tls_get_addr.
*/
extern __thread am_tblock *am__tls_block;

/* Pointer to the calling thread's cell for slot, or NULL if not yet there. */
static inline am_acell *am__cell_fast(uint32_t slot)
{
    am_tblock *t = am__tls_block;
    uint32_t pg = slot >> AM_PAGE_SHIFT;
    if (AM_LIKELY(pg < atomic_load_explicit(&t->ndir, am_relaxed))) {
        am_acell *p =
            atomic_load_explicit(&atomic_load_explicit(&t->dir, am_relaxed)[pg], am_relaxed);
        if (AM_LIKELY(p != NULL))
            return p + (slot & AM_PAGE_MASK);
    }
    return NULL;
}

/*
** The calling thread's cell for slot, allocating its block/page on first
** use; NULL only when that allocation failed.
*/
am_acell *am__cell_slow(uint32_t slot);

/* The shared dead-block cell of slot; valid for every allocated slot. */
am_acell *am__cell_dead(uint32_t slot);

/* The out-of-line rest of am__cells_add_u/_d: first write of this thread
   to the page, or no memory for it (then the shared dead cell takes it). */
void am__cells_add_u_slow(uint32_t slot, uint64_t v);
void am__cells_add_d_slow(uint32_t slot, double v);

/* Add to slot from the calling thread. Never fail, never lose the value. */
static inline void am__cells_add_u(uint32_t slot, uint64_t v)
{
    am_acell *c = am__cell_fast(slot);
    if (AM_LIKELY(c != NULL))
        am_cell_add_own_u(c, v);
    else
        am__cells_add_u_slow(slot, v);
}

static inline void am__cells_add_d(uint32_t slot, double v)
{
    am_acell *c = am__cell_fast(slot);
    if (AM_LIKELY(c != NULL))
        am_cell_add_own_d(c, v);
    else
        am__cells_add_d_slow(slot, v);
}

/*
** Allocate a run of n (1..AM_PAGE_CELLS) zeroed slots that does not cross a
** page; its last cell holds a double, the others counts. Returns AM_OK or
** AM_ENOMEM. Thread-safe (takes the cells lock).
*/
am_err am__cells_alloc(uint32_t n, uint32_t *slot);

/* Give a run back; its cells are zeroed in every block. Thread-safe. */
void am__cells_release(uint32_t slot, uint32_t n);

/* Read lock for summing; held across a whole encode. */
void am__cells_rdlock(void);
void am__cells_rdunlock(void);

/*
** Sum the run [slot, slot+n) over all blocks into out[] (counts converted
** to double, the last cell read as a double); needs the read lock.
*/
void am__cells_sum(uint32_t slot, uint32_t n, double *out);

/* The calling thread's block, created if needed; NULL on ENOMEM. */
am_tblock *am__tblock_get(void);

/*
** Walk every live block under the cells read lock (for EBR).
** fn returns false to stop.
*/
void am__tblocks_each(bool (*fn)(am_tblock *t, void *arg), void *arg);

/* Free the calling thread's block and, when no slot is live, all cells. */
void am__cells_shutdown(void);

#endif
