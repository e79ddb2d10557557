/*
** segment.c: the shared-memory segment -- creating and attaching to the
** file, the robust mutex and its recovery, process slots and their
** liveness, and folding a dead process's row into the accumulator.
**
** ATTACH. One open() + flock(LOCK_EX) serialises creators and attachers:
** the first finds an empty file, sizes it (ftruncate; posix_fallocate with
** AM_SHM_PREFAULT), maps it, writes the header and the magic last; the
** others map it and check the header against the file (magic, version, a
** layout recomputed from its sizes, counts within bounds) before trusting
** an offset in it. A process opens a path once; a second am_shm_open()
** shares the same am_shm.
**
** SLOTS AND LIVENESS. A process's first write claims a free slot under the
** segment's mutex and holds an F_OFD_SETLK write lock on byte file_size+k,
** on a file description of its own (opened through /proc/self/fd, so a
** child's inherited descriptor is not it). The kernel drops the lock when
** the process dies, however it dies. Anyone probes slot k with F_OFD_GETLK
** on the mapping's descriptor: no conflicting lock, no live process. A child
** after fork() forgets its parent's slot (pthread_atfork) and closes its
** copy of the lock descriptor, which leaves the parent's lock in place.
**
** FOLDING. When no slot is free, a claimed slot whose process is dead is
** folded: its row and the current accumulator row are combined into the
** other accumulator row (counts added, gauges by mode), the current
** accumulator switches to it, then the dead row and the old accumulator are
** zeroed and the slot freed. Readers see either the state before (old
** accumulator + the dead row) or after (new accumulator, no row): a
** sequence counter, odd during the fold, makes them retry. The steps are
** journalled in the header (phase, slot, source, destination); the robust
** mutex tells the next holder when a holder died (EOWNERDEAD), and it redoes
** the copy (it only writes the destination) or finishes the switch (its
** steps are idempotent).
*/
#define _GNU_SOURCE /* F_OFD_*, posix_fallocate */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agentmon/timer.h"
#include "../util/alloc.h"
#include "../util/error.h"
#include "shm.h"

static pthread_mutex_t g_open_lock = PTHREAD_MUTEX_INITIALIZER;
static am_shm *g_open;
static pthread_once_t g_fork_once = PTHREAD_ONCE_INIT;

/* ------------------------------------------------------------------ */
/* Layout                                                              */
/* ------------------------------------------------------------------ */

typedef struct layout {
    uint64_t procs, families, series, index, arena, rows, ex, total, index_slots;
} layout;

static uint64_t align64(uint64_t x)
{
    return (x + 63u) & ~(uint64_t)63u;
}

static uint64_t pow2_at_least(uint64_t x)
{
    uint64_t p = 1;
    while (p < x)
        p <<= 1;
    return p;
}

static void compute_layout(uint64_t procs, uint64_t fams, uint64_t series, uint64_t cells,
                           uint64_t ex, uint64_t arena, layout *l)
{
    l->index_slots = pow2_at_least(series * 2);
    l->procs = align64(sizeof(shm_hdr));
    l->families = align64(l->procs + procs * sizeof(shm_proc));
    l->series = align64(l->families + fams * sizeof(shm_fam));
    l->index = align64(l->series + series * sizeof(shm_series));
    l->arena = align64(l->index + l->index_slots * sizeof(uint32_t));
    l->rows = align64(l->arena + arena);
    l->ex = align64(l->rows + (AM__SHM_ROW_SLOT0 + procs) * cells * 8u);
    l->total = align64(l->ex + ex * sizeof(shm_ex));
    l->total = (l->total + 4095u) & ~(uint64_t)4095u;
}

static am_err sizes_of(const am_shm_opts *o, uint64_t *p, uint64_t *f, uint64_t *s, uint64_t *c,
                       uint64_t *e, uint64_t *a)
{
    *p = o && o->max_procs ? o->max_procs : 64;
    *f = o && o->max_families ? o->max_families : 1024;
    *s = o && o->max_series ? o->max_series : 65536;
    *c = o && o->max_cells ? o->max_cells : 262144;
    *e = o && o->max_exemplars ? o->max_exemplars : 8192;
    *a = o && o->arena_bytes ? o->arena_bytes : 8u << 20;
    if (*p > 4096 || *f > (1u << 20) || *s > (1u << 26) || *c > (1ull << 31) ||
        *c < AM__SHM_DISCARD + 2 || *e > (1u << 24) || *a > (1ull << 31) || *a < 4096)
        return am__err(AM_EINVAL,
                       "shm sizes out of range (procs 1..4096, families <= 2^20, series <= "
                       "2^26, cells %d..2^31, exemplars <= 2^24, arena 4096..2^31 bytes)",
                       AM__SHM_DISCARD + 2);
    return AM_OK;
}

/* ------------------------------------------------------------------ */
/* The mutex and recovery                                              */
/* ------------------------------------------------------------------ */

static uint64_t lock_off(const am_shm *s, uint32_t k)
{
    return s->h->file_bytes + k;
}

bool am__shm_cell_is_double(const shm_fam *f, uint32_t j)
{
    switch (f->type) {
    case AM_TYPE_GAUGE:
        return j == 0;
    case AM_TYPE_HISTOGRAM:
        return j == f->n_bounds + 1;
    default: /* counter, summary: a count, then a double */
        return j == 1;
    }
}

static double bits_d(uint64_t u)
{
    return am_bits_to_double(u);
}

/* dst = src (+) row for one series; the gauge cells are value, stamp. */
static void combine(const shm_fam *f, am_acell *dst, am_acell *src, am_acell *row)
{
    if (f->type == AM_TYPE_GAUGE) {
        uint64_t sv = am_cell_get_u(&src[0]), ss = am_cell_get_u(&src[1]);
        uint64_t rv = am_cell_get_u(&row[0]), rs = am_cell_get_u(&row[1]);
        uint64_t v = sv, st = ss;
        bool take = false;
        switch (f->mode) {
        case AM_SHM_GAUGE_SUM:
            v = am_double_to_bits(bits_d(sv) + bits_d(rv));
            st = ss > rs ? ss : rs;
            break;
        case AM_SHM_GAUGE_MAX:
            take = rs && (!ss || bits_d(rv) > bits_d(sv));
            break;
        case AM_SHM_GAUGE_MIN:
            take = rs && (!ss || bits_d(rv) < bits_d(sv));
            break;
        case AM_SHM_GAUGE_MOSTRECENT:
            take = rs > ss;
            break;
        default: /* the live modes and ALL: a dead process's value goes */
            break;
        }
        if (take) {
            v = rv;
            st = rs;
        }
        atomic_store_explicit(&dst[0], v, am_relaxed);
        atomic_store_explicit(&dst[1], st, am_relaxed);
        return;
    }
    for (uint32_t j = 0; j < f->n_cells; j++) {
        uint64_t a = am_cell_get_u(&src[j]), b = am_cell_get_u(&row[j]);
        uint64_t v =
            am__shm_cell_is_double(f, j) ? am_double_to_bits(bits_d(a) + bits_d(b)) : a + b;
        atomic_store_explicit(&dst[j], v, am_relaxed);
    }
}

/* Phase 1: write the destination accumulator from source + the dead row. */
static void fold_copy(am_shm *s)
{
    shm_hdr *h = s->h;
    am_acell *dst = am__shm_row(s, h->j_dst), *src = am__shm_row(s, h->j_src);
    am_acell *row = am__shm_row(s, AM__SHM_ROW_SLOT0 + h->j_slot);
    uint32_t n = atomic_load_explicit(&h->n_series, am_acquire);
    shm_series *sv = am__shm_series(s);
    shm_fam *fv = am__shm_fams(s);
    for (uint32_t i = 0; i < n; i++) {
        if (!atomic_load_explicit(&sv[i].ready, am_acquire) || sv[i].fam >= h->max_families)
            continue;
        const shm_fam *f = &fv[sv[i].fam];
        if (sv[i].cell + (uint64_t)f->n_cells > h->max_cells)
            continue;
        combine(f, dst + sv[i].cell, src + sv[i].cell, row + sv[i].cell);
    }
}

static void zero_row(am_shm *s, uint32_t r)
{
    uint64_t used = atomic_load_explicit(&s->h->cells_used, am_acquire);
    am_acell *row = am__shm_row(s, r);
    for (uint64_t c = AM__SHM_DISCARD; c < used && c < s->h->max_cells; c++)
        atomic_store_explicit(&row[c], 0, am_relaxed);
}

/* Phase 2: switch to the destination, clear the dead row and the old
   accumulator, free the slot. Every step can be done again safely. */
static void fold_finish(am_shm *s)
{
    shm_hdr *h = s->h;
    h->j_phase = 2;
    atomic_thread_fence(memory_order_seq_cst);
    atomic_store_explicit(&h->acc, h->j_dst, memory_order_seq_cst);
    zero_row(s, AM__SHM_ROW_SLOT0 + h->j_slot);
    zero_row(s, h->j_src);
    shm_proc *p = &am__shm_procs(s)[h->j_slot];
    atomic_store_explicit(&p->pid, 0, am_relaxed);
    atomic_store_explicit(&p->state, 0, am_release);
    atomic_fetch_add(&h->folds, 1);
    atomic_thread_fence(memory_order_seq_cst);
    h->j_phase = 0;
    if (atomic_load(&h->fold_seq) & 1)
        atomic_fetch_add_explicit(&h->fold_seq, 1, am_release);
}

static void fold_slot(am_shm *s, uint32_t k)
{
    shm_hdr *h = s->h;
    h->j_slot = k;
    h->j_src = atomic_load(&h->acc) & 1u;
    h->j_dst = h->j_src ^ 1u;
    atomic_thread_fence(memory_order_seq_cst);
    h->j_phase = 1;
    if (!(atomic_load(&h->fold_seq) & 1))
        atomic_fetch_add_explicit(&h->fold_seq, 1, memory_order_seq_cst);
    fold_copy(s);
    fold_finish(s);
}

/* A holder died with the mutex: finish what the journal says it was doing. */
static void recover(am_shm *s)
{
    shm_hdr *h = s->h;
    if (h->j_slot >= h->max_procs || h->j_src > 1 || h->j_dst > 1 || h->j_src == h->j_dst)
        h->j_phase = 0; /* never started (or garbage): nothing was moved */
    if (h->j_phase == 1) {
        fold_copy(s);
        fold_finish(s);
    } else if (h->j_phase == 2) {
        fold_finish(s);
    }
    if (atomic_load(&h->fold_seq) & 1)
        atomic_fetch_add_explicit(&h->fold_seq, 1, am_release);
}

void am__shm_lock(am_shm *s)
{
    int rc = pthread_mutex_lock(&s->h->lock);
    /* Folds only run under the mutex: with it held, a journal entry or an
       odd sequence is what a dead holder left (or a damaged file). */
    if (rc == EOWNERDEAD || s->h->j_phase != 0 || (atomic_load(&s->h->fold_seq) & 1))
        recover(s);
    if (rc == EOWNERDEAD)
        pthread_mutex_consistent(&s->h->lock);
}

void am__shm_unlock(am_shm *s)
{
    pthread_mutex_unlock(&s->h->lock);
}

bool am__shm_read_stable(am_shm *s, bool (*read)(void *ud), void *ud)
{
    shm_hdr *h = s->h;
    for (unsigned tries = 0;; tries++) {
        uint64_t a = atomic_load_explicit(&h->fold_seq, am_acquire);
        if (a & 1) {
            if (tries > 2000) { /* a folder may have died: recover through the mutex */
                am__shm_lock(s);
                am__shm_unlock(s);
                tries = 0;
            }
            sched_yield();
            continue;
        }
        if (!read(ud))
            return false;
        atomic_thread_fence(am_acquire);
        if (atomic_load_explicit(&h->fold_seq, am_relaxed) == a)
            return true;
    }
}

/* ------------------------------------------------------------------ */
/* Slots                                                               */
/* ------------------------------------------------------------------ */

bool am__shm_slot_live(am_shm *s, uint32_t k)
{
    /* Our own slot: we hold it (slot is set once the lock is taken). */
    if ((int)k == atomic_load_explicit(&s->slot, am_acquire))
        return true;
    struct flock fl = {0};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = (off_t)lock_off(s, k);
    fl.l_len = 1;
    if (fcntl(s->fd, F_OFD_GETLK, &fl) != 0)
        return true; /* cannot tell: keep it */
    return fl.l_type != F_UNLCK;
}

size_t am__shm_fold_dead(am_shm *s, uint32_t only)
{
    size_t n = 0;
    shm_proc *p = am__shm_procs(s);
    for (uint32_t k = 0; k < s->h->max_procs; k++) {
        if ((only != UINT32_MAX && k != only) ||
            atomic_load_explicit(&p[k].state, am_acquire) != 1 || am__shm_slot_live(s, k))
            continue;
        fold_slot(s, k);
        n++;
    }
    return n;
}

/* Take slot k's lock on a description of our own. */
static int take_lock(am_shm *s, uint32_t k)
{
    char self[64];
    snprintf(self, sizeof self, "/proc/self/fd/%d", s->fd);
    int fd = open(self, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        fd = open(s->path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct flock fl = {0};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = (off_t)lock_off(s, k);
    fl.l_len = 1;
    if (fcntl(fd, F_OFD_SETLK, &fl) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

am_acell *am__shm_claim(am_shm *s)
{
    pthread_mutex_lock(&s->local);
    am_acell *row = atomic_load_explicit(&s->row, am_acquire);
    if (row) {
        pthread_mutex_unlock(&s->local);
        return row;
    }
    am__shm_lock(s);
    shm_proc *p = am__shm_procs(s);
    uint32_t k = UINT32_MAX;
    for (uint32_t i = 0; i < s->h->max_procs && k == UINT32_MAX; i++)
        if (atomic_load_explicit(&p[i].state, am_acquire) == 0)
            k = i;
    for (uint32_t i = 0; i < s->h->max_procs && k == UINT32_MAX; i++)
        if (atomic_load_explicit(&p[i].state, am_acquire) == 1 && !am__shm_slot_live(s, i)) {
            fold_slot(s, i);
            k = i;
        }
    int fd = k == UINT32_MAX ? -1 : take_lock(s, k);
    if (fd >= 0) {
        atomic_store_explicit(&p[k].pid, (int32_t)getpid(), am_relaxed);
        p[k].claimed_ns = am_now_ns();
        atomic_store_explicit(&p[k].state, 1, am_release);
        s->lock_fd = fd;
        atomic_store_explicit(&s->slot, (int)k, am_release);
        row = am__shm_row(s, AM__SHM_ROW_SLOT0 + k);
    } else {
        row = am__shm_row(s, AM__SHM_ROW_SPILL); /* shared, never folded */
        atomic_store_explicit(&s->slot, -1, am_relaxed);
    }
    am__shm_unlock(s);
    atomic_store_explicit(&s->row, row, am_release);
    pthread_mutex_unlock(&s->local);
    return row;
}

/* ------------------------------------------------------------------ */
/* Fork                                                                */
/* ------------------------------------------------------------------ */

static void fork_prepare(void)
{
    pthread_mutex_lock(&g_open_lock);
}

static void fork_parent(void)
{
    pthread_mutex_unlock(&g_open_lock);
}

static void fork_child(void)
{
    static const pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    for (am_shm *s = g_open; s; s = s->next_open) {
        memcpy(&s->local, &fresh, sizeof fresh); /* another thread may have held it */
        atomic_store_explicit(&s->row, NULL, am_relaxed);
        atomic_store_explicit(&s->slot, -1, am_relaxed);
        if (s->lock_fd >= 0)
            close(s->lock_fd); /* the parent's lock stays the parent's */
        s->lock_fd = -1;
        s->pid = getpid();
    }
    memcpy(&g_open_lock, &fresh, sizeof fresh);
}

static void register_fork(void)
{
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/* ------------------------------------------------------------------ */
/* Opening                                                             */
/* ------------------------------------------------------------------ */

static am_err init_header(am_shm *s, uint64_t p, uint64_t f, uint64_t se, uint64_t c, uint64_t e,
                          uint64_t a, const layout *l)
{
    shm_hdr *h = s->h;
    h->version = AM__SHM_VERSION;
    h->hdr_bytes = sizeof(shm_hdr);
    h->file_bytes = l->total;
    h->max_procs = (uint32_t)p;
    h->max_families = (uint32_t)f;
    h->max_series = (uint32_t)se;
    h->max_exemplars = (uint32_t)e;
    h->max_cells = c;
    h->arena_bytes = a;
    h->index_slots = l->index_slots;
    h->off_procs = l->procs;
    h->off_families = l->families;
    h->off_series = l->series;
    h->off_index = l->index;
    h->off_arena = l->arena;
    h->off_rows = l->rows;
    h->off_ex = l->ex;
    h->created = am_unix_time();
    pthread_mutexattr_t ma;
    if (pthread_mutexattr_init(&ma) || pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED) ||
        pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST) || pthread_mutex_init(&h->lock, &ma))
        return am__err(AM_EIO, "cannot make the segment's process-shared robust mutex");
    pthread_mutexattr_destroy(&ma);
    atomic_store(&h->arena_used, 8); /* offset 0 means "none" */
    atomic_store(&h->cells_used, AM__SHM_DISCARD);
    atomic_thread_fence(memory_order_seq_cst);
    memcpy(h->magic, AM__SHM_MAGIC, sizeof h->magic); /* last: the segment is ready */
    return AM_OK;
}

/* Whether an existing file is a segment we can trust the offsets of. */
static am_err check_header(const shm_hdr *h, uint64_t file_size)
{
    if (file_size < sizeof(shm_hdr) || memcmp(h->magic, AM__SHM_MAGIC, sizeof h->magic) != 0)
        return am__err(AM_EINVAL, "not an agentmon shared-memory segment (bad magic)");
    if (h->version != AM__SHM_VERSION || h->hdr_bytes != sizeof(shm_hdr))
        return am__err(AM_EINVAL, "segment version %u (header %u bytes); this library has %u (%zu)",
                       h->version, h->hdr_bytes, AM__SHM_VERSION, sizeof(shm_hdr));
    am_shm_opts o = AM_SHM_OPTS_INIT;
    o.max_procs = h->max_procs;
    o.max_families = h->max_families;
    o.max_series = h->max_series;
    o.max_cells = h->max_cells;
    o.max_exemplars = h->max_exemplars;
    o.arena_bytes = h->arena_bytes;
    uint64_t p, f, se, c, e, a;
    if (!h->max_procs || !h->max_families || !h->max_series || !h->max_exemplars ||
        sizes_of(&o, &p, &f, &se, &c, &e, &a) != AM_OK)
        return am__err(AM_EINVAL, "segment header has sizes out of range");
    layout l;
    compute_layout(p, f, se, c, e, a, &l);
    if (l.total != h->file_bytes || h->file_bytes != file_size || l.procs != h->off_procs ||
        l.families != h->off_families || l.series != h->off_series || l.index != h->off_index ||
        l.arena != h->off_arena || l.rows != h->off_rows || l.ex != h->off_ex ||
        l.index_slots != h->index_slots)
        return am__err(AM_EINVAL, "segment header does not match its file (%llu bytes)",
                       (unsigned long long)file_size);
    if (atomic_load(&h->n_families) > h->max_families ||
        atomic_load(&h->n_series) > h->max_series ||
        atomic_load(&h->n_exemplars) > h->max_exemplars ||
        atomic_load(&h->arena_used) > h->arena_bytes ||
        atomic_load(&h->cells_used) > h->max_cells || atomic_load(&h->acc) > 1)
        return am__err(AM_EINVAL, "segment header has counts beyond its sizes");
    return AM_OK;
}

static void free_local(am_shm *s)
{
    if (s->handles)
        for (uint32_t i = 0; s->h && i < s->h->max_series; i++)
            am__free(s->handles[i]);
    if (s->fam_roots)
        for (uint32_t i = 0; s->h && i < s->h->max_families; i++)
            am__free(s->fam_roots[i]);
    if (s->fams)
        for (uint32_t i = 0; s->h && i < s->h->max_families; i++)
            am__family_free(s->fams[i]);
    am__free(s->handles);
    am__free(s->fam_roots);
    am__free(s->fams);
}

static void destroy(am_shm *s)
{
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    free_local(s);
    if (s->base)
        munmap(s->base, s->size);
    if (s->fd >= 0)
        close(s->fd);
    pthread_mutex_destroy(&s->local);
    am__free(s->path);
    am__free(s);
}

static am_err attach(am_shm *s, const am_shm_opts *o)
{
    if (flock(s->fd, LOCK_EX) != 0)
        return am__err(AM_EIO, "flock %s: %s", s->path, strerror(errno));
    am_err rc = AM_OK;
    struct stat st;
    if (fstat(s->fd, &st) != 0) {
        rc = am__err(AM_EIO, "fstat %s: %s", s->path, strerror(errno));
        goto out;
    }
    bool creating = st.st_size == 0;
    uint64_t p, f, se, c, e, a;
    layout l;
    if (creating) {
        if ((rc = sizes_of(o, &p, &f, &se, &c, &e, &a)))
            goto out;
        compute_layout(p, f, se, c, e, a, &l);
        if (ftruncate(s->fd, (off_t)l.total) != 0) {
            rc = am__err(AM_EIO, "ftruncate %s: %s", s->path, strerror(errno));
            goto out;
        }
        if (o && (o->flags & AM_SHM_PREFAULT)) {
            int err = posix_fallocate(s->fd, 0, (off_t)l.total);
            if (err) {
                if (ftruncate(s->fd, 0) != 0) {
                    /* leave it: the next open sees an empty file or a bad one */
                }
                rc = am__err(err == ENOSPC ? AM_ENOMEM : AM_EIO, "allocating %s: %s", s->path,
                             strerror(err));
                goto out;
            }
        }
        s->size = l.total;
    } else {
        s->size = (size_t)st.st_size;
    }
    s->base = mmap(NULL, s->size, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
    if (s->base == MAP_FAILED) {
        s->base = NULL;
        rc = am__err(AM_EIO, "mmap %s: %s", s->path, strerror(errno));
        goto out;
    }
    s->h = (shm_hdr *)s->base;
    if (creating)
        rc = init_header(s, p, f, se, c, e, a, &l);
    else
        rc = check_header(s->h, (uint64_t)st.st_size);
out:
    flock(s->fd, LOCK_UN);
    return rc;
}

am_err am_shm_open(const char *path, const am_shm_opts *o, am_shm **out)
{
    if (!path || !*path || !out)
        return am__err(AM_EINVAL, "path or out pointer is NULL");
    if (o && (o->flags & ~AM_SHM_PREFAULT))
        return am__err(AM_EINVAL, "unknown shm flags 0x%x", o->flags);
    pthread_once(&g_fork_once, register_fork);
    pthread_mutex_lock(&g_open_lock);
    for (am_shm *s = g_open; s; s = s->next_open)
        if (strcmp(s->path, path) == 0) {
            s->refs++;
            *out = s;
            pthread_mutex_unlock(&g_open_lock);
            return AM_OK;
        }
    am_shm *s = am__calloc(1, sizeof *s);
    am_err rc = AM_ENOMEM;
    if (!s || !(s->path = am__strdup(path)))
        goto fail;
    s->fd = -1;
    s->lock_fd = -1;
    atomic_store_explicit(&s->slot, -1, am_relaxed);
    s->pid = getpid();
    s->refs = 1;
    pthread_mutex_init(&s->local, NULL);
    s->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->fd < 0) {
        rc = am__err(AM_EIO, "open %s: %s", path, strerror(errno));
        goto fail;
    }
    if ((rc = attach(s, o)))
        goto fail;
    rc = AM_ENOMEM;
    s->handles = am__calloc(s->h->max_series, sizeof *s->handles);
    s->fam_roots = am__calloc(s->h->max_families, sizeof *s->fam_roots);
    s->fams = am__calloc(s->h->max_families, sizeof *s->fams);
    if (!s->handles || !s->fam_roots || !s->fams)
        goto fail;
    s->next_open = g_open;
    g_open = s;
    pthread_mutex_unlock(&g_open_lock);
    *out = s;
    return AM_OK;
fail:
    pthread_mutex_unlock(&g_open_lock);
    if (s)
        destroy(s);
    return rc == AM_ENOMEM ? am__err(AM_ENOMEM, "out of memory opening %s", path) : rc;
}

void am_shm_close(am_shm *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&g_open_lock);
    if (--s->refs > 0) {
        pthread_mutex_unlock(&g_open_lock);
        return;
    }
    for (am_shm **pp = &g_open; *pp; pp = &(*pp)->next_open)
        if (*pp == s) {
            *pp = s->next_open;
            break;
        }
    pthread_mutex_unlock(&g_open_lock);
    destroy(s); /* closing the lock descriptor gives the slot up */
}

const char *am__shm_str(const am_shm *s, uint32_t off)
{
    uint64_t used = atomic_load_explicit(&s->h->arena_used, am_acquire);
    if (off == 0 || off >= used || used > s->h->arena_bytes)
        return "";
    const char *p = (const char *)s->base + s->h->off_arena + off;
    return memchr(p, '\0', used - off) ? p : "";
}

am_err am_shm_stats_get(am_shm *s, am_shm_stats *out)
{
    if (!s || !out)
        return am__err(AM_EINVAL, "segment or out pointer is NULL");
    shm_hdr *h = s->h;
    *out = (am_shm_stats){0};
    shm_proc *p = am__shm_procs(s);
    for (uint32_t k = 0; k < h->max_procs; k++) {
        if (atomic_load_explicit(&p[k].state, am_acquire) != 1)
            continue;
        if (am__shm_slot_live(s, k))
            out->procs_live++;
        else
            out->procs_dead++;
    }
    out->max_procs = h->max_procs;
    out->families = atomic_load(&h->n_families);
    out->max_families = h->max_families;
    out->series = atomic_load(&h->n_series);
    out->max_series = h->max_series;
    out->cells = atomic_load(&h->cells_used);
    out->max_cells = h->max_cells;
    out->exemplars = atomic_load(&h->n_exemplars);
    out->max_exemplars = h->max_exemplars;
    out->arena_bytes = atomic_load(&h->arena_used);
    out->max_arena_bytes = h->arena_bytes;
    out->folds = atomic_load(&h->folds);
    out->file_bytes = h->file_bytes;
    return AM_OK;
}

am_err am_shm_reclaim(am_shm *s, size_t *n)
{
    if (!s)
        return am__err(AM_EINVAL, "segment is NULL");
    am__shm_lock(s);
    size_t k = am__shm_fold_dead(s, UINT32_MAX);
    am__shm_unlock(s);
    if (n)
        *n = k;
    return AM_OK;
}
