/*
** ebr.h: epoch-based reclamation, so lookups can read shared tables without
** a lock while removals still give memory back.
**
**     am_tblock *t = am__ebr_enter();   read section: may see retired objects
**     ... read the table ...
**     am__ebr_exit(t);
**
** A writer unlinks an object, then am__ebr_retire()s it; it is freed once no
** thread that could have seen it is still inside a read section.
*/
#ifndef AM_CORE_EBR_H
#define AM_CORE_EBR_H

#include <stdint.h>

#include "cells.h"

typedef struct am_retired {
    struct am_retired *next;
    uint64_t epoch;
    void (*free_fn)(struct am_retired *r);
} am_retired;

/* Enter a read section (not nestable). NULL (out of memory): do not read. */
static inline am_tblock *am__ebr_enter(void)
{
    extern _Atomic uint64_t am__ebr_epoch;
    am_tblock *t = am__tblock_get();
    if (AM_UNLIKELY(!t))
        return NULL;
    /* seq_cst store: a full barrier, so the table loads that follow cannot
       be reordered before the epoch becomes visible to reclaimers. */
    atomic_store(&t->epoch, atomic_load(&am__ebr_epoch));
    return t;
}

static inline void am__ebr_exit(am_tblock *t)
{
    atomic_store_explicit(&t->epoch, 0, am_release);
}

/* Hand r to the reclaimer; free_fn(r) runs once it is safe. Never fails. */
void am__ebr_retire(am_retired *r, void (*free_fn)(am_retired *r));

/* Free whatever is safe to free now. */
void am__ebr_reclaim(void);

/* Free everything retired; only when no thread can be reading. */
void am__ebr_drain(void);

#endif
