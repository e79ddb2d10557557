/*
** shm.h (internal): the layout of a shared-memory segment and what the
** files of src/shm share. The public API is include/agentmon/shm.h.
**
** FILE LAYOUT (offsets from the start, each region 64-byte aligned)
**   header            shm_hdr: sizes, offsets, the robust mutex, counters,
**                     the fold journal
**   procs[P]          a slot per process
**   families[F]       definitions (strings in the arena)
**   series[S]         one per label set
**   index[I]          open addressing (family, values) -> series + 1
**   arena             NUL-terminated strings and bounds, bump-allocated
**   rows[3 + P]       max_cells 64-bit cells each: two accumulator rows
**                     (folded values of dead processes; one current), the
**                     spill row (processes beyond P), then one per slot
**   exemplars[E]      seqlocked records
** Everything the file holds is written under the mutex and published with
** release stores (ready flags, counts, index entries); readers never lock.
** Cells 0 .. AM__SHM_DISCARD-1 of every row are never read: the handles of
** labelled families point there, so writing through one is harmless.
*/
#ifndef AM_SHM_SHM_H
#define AM_SHM_SHM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agentmon/shm.h"
#include "../util/atomic.h"
#include "../core/exemplar.h"
#include "../core/family.h"

#define AM__SHM_MAGIC "AGMSHM\001\000"
#define AM__SHM_VERSION 1u
#define AM__SHM_DISCARD (AM_MAX_BUCKETS + 2)
#define AM__SHM_ROW_ACC0 0u
#define AM__SHM_ROW_SPILL 2u
#define AM__SHM_ROW_SLOT0 3u
#define AM__SHM_EX_WORDS (AM_EXEMPLAR_TEXT / 8)

typedef struct shm_hdr {
    char magic[8];
    uint32_t version, hdr_bytes;
    uint64_t file_bytes;
    uint32_t max_procs, max_families, max_series, max_exemplars;
    uint64_t max_cells, arena_bytes;
    uint64_t index_slots; /* a power of two */
    uint64_t off_procs, off_families, off_series, off_index, off_arena, off_rows, off_ex;
    double created;
    pthread_mutex_t lock; /* PTHREAD_PROCESS_SHARED, PTHREAD_MUTEX_ROBUST */
    _Atomic uint32_t n_families, n_series, n_exemplars;
    _Atomic uint64_t arena_used, cells_used;
    _Atomic uint32_t acc;      /* the current accumulator row, 0 or 1 */
    _Atomic uint64_t fold_seq; /* odd while a fold moves values */
    _Atomic uint64_t folds;
    uint32_t j_phase, j_slot, j_src, j_dst; /* the fold journal */
} shm_hdr;

typedef struct shm_proc {
    _Atomic uint32_t state; /* 0 free, 1 claimed */
    _Atomic int32_t pid;
    uint64_t claimed_ns;
} shm_proc;

typedef struct shm_fam {
    _Atomic uint32_t ready;
    uint8_t type, mode, pad[2];
    uint32_t n_labels, n_bounds, n_cells, max_children, flags;
    uint32_t name_off, help_off, unit_off, json_off, labels_off, bounds_off;
    _Atomic uint32_t n_children;
    _Atomic uint32_t head, tail; /* its series, series index + 1 */
    _Atomic uint32_t overflow;   /* its overflow series + 1 */
    _Atomic uint32_t root;       /* the series of a family without labels + 1 */
} shm_fam;

typedef struct shm_series {
    _Atomic uint32_t ready;
    uint32_t fam, cell, hash;
    uint32_t values_off, values_len, n_values;
    uint32_t labels_off, labels_len;
    _Atomic uint32_t next; /* the family's next series + 1 */
    _Atomic uint32_t ex;   /* its first exemplar record + 1 */
    uint32_t pad;
    double created;
} shm_series;

typedef struct shm_ex {
    _Atomic uint32_t seq;
    _Atomic uint32_t len;
    _Atomic uint64_t lease_ns;
    _Atomic double value;
    _Atomic double ts;
    _Atomic uint64_t w[AM__SHM_EX_WORDS];
} shm_ex;

/* A handle: one series (or a labelled family's root) in this process. */
typedef struct am__shm_h {
    am_shm *s;
    uint32_t series; /* UINT32_MAX for a labelled family's root */
    uint32_t fam;
    uint32_t cell;
    uint8_t type, mode;
    const am_family *lf; /* the family's local definition (bounds) */
} am__shm_h;

struct am_shm {
    char *path;
    int fd;      /* the mapping's; also used to probe other slots' locks */
    int lock_fd; /* holds this process's slot lock, -1 when none */
    uint8_t *base;
    size_t size;
    shm_hdr *h;
    am_acell *_Atomic row; /* this process's row; NULL until claimed, after fork */
    _Atomic int slot;      /* -1: none (or the spill row); set under local */
    pid_t pid;
    pthread_mutex_t local; /* claims, handles, the local family cache */
    am__shm_h **handles;   /* [max_series] */
    am__shm_h **fam_roots; /* [max_families] */
    am_family **fams;      /* [max_families] local definitions */
    int refs;
    am_shm *next_open;
};

static inline shm_proc *am__shm_procs(const am_shm *s)
{
    return (shm_proc *)(s->base + s->h->off_procs);
}
static inline shm_fam *am__shm_fams(const am_shm *s)
{
    return (shm_fam *)(s->base + s->h->off_families);
}
static inline shm_series *am__shm_series(const am_shm *s)
{
    return (shm_series *)(s->base + s->h->off_series);
}
static inline _Atomic uint32_t *am__shm_index(const am_shm *s)
{
    return (_Atomic uint32_t *)(s->base + s->h->off_index);
}
static inline shm_ex *am__shm_ex(const am_shm *s)
{
    return (shm_ex *)(s->base + s->h->off_ex);
}
static inline am_acell *am__shm_row(const am_shm *s, uint32_t r)
{
    return (am_acell *)(s->base + s->h->off_rows + (uint64_t)r * s->h->max_cells * 8u);
}

/* An arena string (NUL-terminated), or "" for offset 0 or one out of range. */
const char *am__shm_str(const am_shm *s, uint32_t off);

/* Lock the segment's mutex, recovering a fold a dead holder left half done. */
void am__shm_lock(am_shm *s);
void am__shm_unlock(am_shm *s);

/* This process's row, claiming a slot on first use (the spill row when
   none is free). Never NULL. */
am_acell *am__shm_claim(am_shm *s);

/* Whether slot k is held by a live process (its lock is held). */
bool am__shm_slot_live(am_shm *s, uint32_t k);

/* Cells of series i are doubles at these offsets within its run: the
   mask of its family's type (bit j: cell j holds a double). */
bool am__shm_cell_is_double(const shm_fam *f, uint32_t j);

/* The local am_family of family i (built from its definition once). NULL
   only for no memory. Takes s->local. */
const am_family *am__shm_local_family(am_shm *s, uint32_t i);

/* Fold dead slots (all of them when k is UINT32_MAX, else slot k only);
   mutex held. Returns how many were folded. */
size_t am__shm_fold_dead(am_shm *s, uint32_t k);

/* Run read while no fold moves values (a seqlock); read returns false on
   failure (no retry). */
bool am__shm_read_stable(am_shm *s, bool (*read)(void *ud), void *ud);

#endif
