/*
** cells.c: per-thread value cells, the slot allocator, and thread exit.
**
** DESIGN
** A "slot" is a process-wide index naming one 64-bit cell: a count, or
** the bits of a double for the last cell of a run (a counter's fractional
** part, a histogram's sum); a bitmap remembers which, for folding. Series get runs of
** slots from a simple allocator: a high-water mark plus one free list per
** run length, runs never crossing a page of AM_PAGE_CELLS slots. Page 0 is
** reserved (AM_SLOT_DISCARD) for handles that must not be exposed.
**
** Each writing thread owns an am_tblock: a directory of pages, each page a
** zeroed array of AM_PAGE_CELLS cells. A write is:
**     block = TLS; page = block->dir[slot >> 10]; page[slot & 1023] += v
** with relaxed loads and stores and no lock prefix, because only the owner
** writes its cells. The first write of a thread to a page allocates that
** page (under the write lock); every later write allocates nothing.
**
** The dead block has a page for every page in use, allocated when the slot
** run is allocated, so it never has to allocate later. It receives the cells
** of exiting threads (folded in by the pthread key destructor) and, should a
** thread fail to get memory for its own page, that write, by CAS. A value is
** therefore dead + sum(live blocks), exact under any thread churn.
**
** LOCKING
** One rwlock, taken inside the fork gate (fork.h) like every core lock.
** Readers (sums, EBR scans) take it shared; the slow path, thread exit,
** slot allocation and release take it exclusive. The hot path takes
** nothing. A thread's directory is replaced only by its owner, under
** the write lock, so the owner may read it unlocked; other threads read it
** under the read lock. The dead directory is read without the lock on the
** OOM fallback path, so old dead directories are kept until all slots are
** gone rather than freed when replaced.
**
** RELEASE
** Releasing a run zeroes its cells in every block, so a reused run starts
** at 0. When the last live run goes, every page is freed, so a process that
** frees its registries gives all cell memory back.
*/
#include <pthread.h>
#include <string.h>

#include "../util/alloc.h"
#include "cells.h"
#include "fork.h"

typedef struct dirhdr {
    struct dirhdr *next_old;
    am_pageptr e[];
} dirhdr;

typedef struct freelist {
    uint32_t *v;
    uint32_t n, cap;
} freelist;

static pthread_rwlock_t g_lock = PTHREAD_RWLOCK_INITIALIZER;
static am_tblock g_empty;
__thread am_tblock *am__tls_block = &g_empty;

static am_tblock *g_blocks; /* live thread blocks */
static am_tblock g_dead;    /* cells of exited threads, and OOM fallback */
static dirhdr *g_dead_old;  /* replaced dead directories, freed at reset */
static uint32_t g_hw = AM_PAGE_CELLS;
static uint64_t g_live; /* slots in live runs */
static freelist g_free[AM_PAGE_CELLS + 1];
static uint64_t *g_fbits; /* bit s set: slot s holds a double */
static size_t g_fbits_words;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_key_t g_key;

#define AM_MAX_SLOTS (1u << 30)

static dirhdr *hdr_of(am_pageptr *e)
{
    return e ? (dirhdr *)((char *)e - offsetof(dirhdr, e)) : NULL;
}

/* Make t's directory hold at least n entries. Write lock held. */
static bool dir_ensure(am_tblock *t, uint32_t n, bool keep_old)
{
    uint32_t have = atomic_load_explicit(&t->ndir, am_relaxed);
    if (n <= have)
        return true;
    uint32_t cap = have ? have * 2 : 8;
    while (cap < n)
        cap *= 2;
    dirhdr *h = am__calloc(1, sizeof(dirhdr) + (size_t)cap * sizeof(am_pageptr));
    if (!h)
        return false;
    am_pageptr *old = atomic_load_explicit(&t->dir, am_relaxed);
    for (uint32_t i = 0; i < have; i++)
        atomic_store_explicit(&h->e[i], atomic_load_explicit(&old[i], am_relaxed), am_relaxed);
    /* Publish entries before the new size, so an unlocked reader never
       indexes past the directory it loaded. */
    atomic_store_explicit(&t->dir, h->e, am_release);
    atomic_store_explicit(&t->ndir, cap, am_release);
    dirhdr *oh = hdr_of(old);
    if (oh) {
        if (keep_old) {
            oh->next_old = g_dead_old;
            g_dead_old = oh;
        } else {
            am__free(oh);
        }
    }
    return true;
}

static am_acell *page_get(am_tblock *t, uint32_t pg)
{
    if (pg >= atomic_load_explicit(&t->ndir, am_acquire))
        return NULL;
    am_pageptr *d = atomic_load_explicit(&t->dir, am_acquire);
    return d ? atomic_load_explicit(&d[pg], am_relaxed) : NULL;
}

/* Ensure t has page pg; write lock held. */
static am_acell *page_ensure(am_tblock *t, uint32_t pg, bool keep_old)
{
    if (!dir_ensure(t, pg + 1, keep_old))
        return NULL;
    am_pageptr *d = atomic_load_explicit(&t->dir, am_relaxed);
    am_acell *p = atomic_load_explicit(&d[pg], am_relaxed);
    if (!p) {
        p = am__calloc(AM_PAGE_CELLS, sizeof(am_acell));
        if (!p)
            return NULL;
        atomic_store_explicit(&d[pg], p, am_release);
    }
    return p;
}

/* Free every page and the directory of t; write lock held. */
static void block_drop_pages(am_tblock *t)
{
    uint32_t n = atomic_load_explicit(&t->ndir, am_relaxed);
    am_pageptr *d = atomic_load_explicit(&t->dir, am_relaxed);
    atomic_store_explicit(&t->ndir, 0, am_release);
    atomic_store_explicit(&t->dir, NULL, am_release);
    for (uint32_t i = 0; i < n; i++)
        am__free(atomic_load_explicit(&d[i], am_relaxed));
    am__free(hdr_of(d));
}

/* No live slot remains: give all cell memory back. Write lock held. */
static void reset_all(void)
{
    for (am_tblock *t = g_blocks; t; t = t->next)
        block_drop_pages(t);
    block_drop_pages(&g_dead);
    while (g_dead_old) {
        dirhdr *n = g_dead_old->next_old;
        am__free(g_dead_old);
        g_dead_old = n;
    }
    for (uint32_t i = 0; i <= AM_PAGE_CELLS; i++) {
        am__free(g_free[i].v);
        g_free[i] = (freelist){0};
    }
    am__free(g_fbits);
    g_fbits = NULL;
    g_fbits_words = 0;
    g_hw = AM_PAGE_CELLS;
}

static bool is_double(uint32_t slot)
{
    size_t w = slot / 64;
    return w < g_fbits_words && (g_fbits[w] >> (slot % 64)) & 1;
}

/* Mark slot as holding a double (or not); the bitmap covers it already. */
static void mark_double(uint32_t slot, bool on)
{
    if (on)
        g_fbits[slot / 64] |= 1ull << (slot % 64);
    else
        g_fbits[slot / 64] &= ~(1ull << (slot % 64));
}

/* Grow the bitmap to cover slots below n; write lock held. */
static bool fbits_ensure(uint32_t n)
{
    size_t words = (n + 63) / 64;
    if (words <= g_fbits_words)
        return true;
    size_t cap = g_fbits_words ? g_fbits_words * 2 : 256;
    while (cap < words)
        cap *= 2;
    uint64_t *b = am__realloc(g_fbits, cap * sizeof *b);
    if (!b)
        return false;
    memset(b + g_fbits_words, 0, (cap - g_fbits_words) * sizeof *b);
    g_fbits = b;
    g_fbits_words = cap;
    return true;
}

/* Fold t's cells into the dead block and free them; write lock held. */
static void block_fold(am_tblock *t)
{
    uint32_t n = atomic_load_explicit(&t->ndir, am_relaxed);
    for (uint32_t pg = 0; pg < n; pg++) {
        am_acell *p = page_get(t, pg);
        am_acell *dp = page_get(&g_dead, pg);
        if (!p || !dp)
            continue;
        for (uint32_t i = 0; i < AM_PAGE_CELLS; i++) {
            uint64_t u = am_cell_get_u(&p[i]);
            if (u == 0)
                continue;
            if (is_double((pg << AM_PAGE_SHIFT) + i))
                am_cell_add_shared_d(&dp[i], am_bits_to_double(u));
            else
                am_cell_add_shared_u(&dp[i], u);
        }
    }
    block_drop_pages(t);
}

static void block_unlink(am_tblock *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else if (g_blocks == t)
        g_blocks = t->next;
    if (t->next)
        t->next->prev = t->prev;
    t->next = t->prev = NULL;
}

static void block_retire(am_tblock *t)
{
    am__wrlock(&g_lock);
    block_fold(t);
    block_unlink(t);
    if (g_live == 0)
        reset_all();
    am__rwunlock(&g_lock);
    am__free(t);
}

static void on_thread_exit(void *p)
{
    am__tls_block = &g_empty;
    if (p)
        block_retire(p);
}

static void make_key(void)
{
    pthread_key_create(&g_key, on_thread_exit);
}

am_tblock *am__tblock_get(void)
{
    am_tblock *t = am__tls_block;
    if (t != &g_empty)
        return t;
    pthread_once(&g_once, make_key);
    t = am__calloc(1, sizeof *t);
    if (!t)
        return NULL;
    if (pthread_setspecific(g_key, t) != 0) {
        am__free(t);
        return NULL;
    }
    am__wrlock(&g_lock);
    t->next = g_blocks;
    if (g_blocks)
        g_blocks->prev = t;
    g_blocks = t;
    am__rwunlock(&g_lock);
    am__tls_block = t;
    return t;
}

am_acell *am__cell_slow(uint32_t slot)
{
    am_tblock *t = am__tblock_get();
    if (!t)
        return NULL;
    am__wrlock(&g_lock);
    am_acell *p = page_ensure(t, slot >> AM_PAGE_SHIFT, false);
    am__rwunlock(&g_lock);
    return p ? p + (slot & AM_PAGE_MASK) : NULL;
}

void am__cells_add_u_slow(uint32_t slot, uint64_t v)
{
    am_acell *c = am__cell_slow(slot);
    if (c)
        am_cell_add_own_u(c, v);
    else
        am_cell_add_shared_u(am__cell_dead(slot), v);
}

void am__cells_add_d_slow(uint32_t slot, double v)
{
    am_acell *c = am__cell_slow(slot);
    if (c)
        am_cell_add_own_d(c, v);
    else
        am_cell_add_shared_d(am__cell_dead(slot), v);
}

am_acell *am__cell_dead(uint32_t slot)
{
    static am_acell discard[AM_PAGE_CELLS];
    am_acell *p = page_get(&g_dead, slot >> AM_PAGE_SHIFT);
    return (p ? p : discard) + (slot & AM_PAGE_MASK); /* no page: a discard-page write */
}

static bool freelist_push(freelist *f, uint32_t slot)
{
    if (f->n == f->cap) {
        uint32_t cap = f->cap ? f->cap * 2 : 16;
        uint32_t *v = am__realloc(f->v, (size_t)cap * sizeof *v);
        if (!v)
            return false; /* the run stays unused: slots lost, not memory */
        f->v = v;
        f->cap = cap;
    }
    f->v[f->n++] = slot;
    return true;
}

am_err am__cells_alloc(uint32_t n, uint32_t *slot)
{
    if (n == 0 || n > AM_PAGE_CELLS)
        return AM_EINVAL;
    am_err rc = AM_OK;
    am__wrlock(&g_lock);
    freelist *f = &g_free[n];
    if (f->n > 0) {
        *slot = f->v[--f->n];
    } else {
        uint32_t off = g_hw & AM_PAGE_MASK;
        if (off + n > AM_PAGE_CELLS) {
            uint32_t rest = AM_PAGE_CELLS - off;
            freelist_push(&g_free[rest], g_hw);
            g_hw += rest;
        }
        if (g_hw + n > AM_MAX_SLOTS) {
            rc = AM_ENOMEM;
            goto out;
        }
        /* The dead block gets each page as runs first reach it (g_hw only
           grows, so no page is skipped), and the discard page with the
           first; it never needs memory later. */
        if (!page_ensure(&g_dead, 0, true) || !page_ensure(&g_dead, g_hw >> AM_PAGE_SHIFT, true) ||
            !fbits_ensure(g_hw + n)) {
            rc = AM_ENOMEM;
            goto out;
        }
        *slot = g_hw;
        g_hw += n;
    }
    mark_double(*slot + n - 1, true);
    g_live += n;
out:
    if (rc != AM_OK && g_live == 0)
        reset_all(); /* what a failed first allocation built would never be freed */
    am__rwunlock(&g_lock);
    return rc;
}

static void zero_run(am_tblock *t, uint32_t slot, uint32_t n)
{
    am_acell *p = page_get(t, slot >> AM_PAGE_SHIFT);
    if (!p)
        return;
    p += slot & AM_PAGE_MASK;
    for (uint32_t i = 0; i < n; i++)
        atomic_store_explicit(&p[i], 0, am_relaxed);
}

void am__cells_release(uint32_t slot, uint32_t n)
{
    if (n == 0 || slot < AM_PAGE_CELLS)
        return;
    am__wrlock(&g_lock);
    for (am_tblock *t = g_blocks; t; t = t->next)
        zero_run(t, slot, n);
    zero_run(&g_dead, slot, n);
    mark_double(slot + n - 1, false);
    freelist_push(&g_free[n], slot);
    g_live -= n;
    if (g_live == 0)
        reset_all();
    am__rwunlock(&g_lock);
}

void am__cells_rdlock(void)
{
    am__rdlock(&g_lock);
}

void am__cells_rdunlock(void)
{
    am__rwunlock(&g_lock);
}

static void add_run(am_tblock *t, uint32_t pg, uint32_t off, uint32_t n, uint64_t *counts,
                    double *last)
{
    am_acell *p = page_get(t, pg);
    if (!p)
        return;
    p += off;
    for (uint32_t i = 0; i + 1 < n; i++)
        counts[i] += am_cell_get_u(&p[i]);
    *last += am_cell_get_d(&p[n - 1]);
}

/* A run of two (a counter: its count and fraction; a summary): what an
   encode of many counters sums most, without the general loops. */
static void sum_pair(uint32_t pg, uint32_t off, double *out)
{
    uint64_t count = 0;
    double last = 0;
    am_acell *p = page_get(&g_dead, pg);
    if (p) {
        count = am_cell_get_u(&p[off]);
        last = am_cell_get_d(&p[off + 1]);
    }
    for (am_tblock *t = g_blocks; t; t = t->next) {
        if ((p = page_get(t, pg))) {
            count += am_cell_get_u(&p[off]);
            last += am_cell_get_d(&p[off + 1]);
        }
    }
    out[0] = (double)count;
    out[1] = last;
}

/* Any other run (a histogram's buckets); out of line, so that its 8 KiB
   of stack is not the pair's cost too. */
static __attribute__((noinline)) void sum_run(uint32_t pg, uint32_t off, uint32_t n, double *out)
{
    uint64_t counts[AM_PAGE_CELLS];
    double last = 0;
    memset(counts, 0, (n - 1) * sizeof *counts);
    add_run(&g_dead, pg, off, n, counts, &last);
    for (am_tblock *t = g_blocks; t; t = t->next)
        add_run(t, pg, off, n, counts, &last);
    for (uint32_t i = 0; i + 1 < n; i++)
        out[i] = (double)counts[i];
    out[n - 1] = last;
}

void am__cells_sum(uint32_t slot, uint32_t n, double *out)
{
    uint32_t pg = slot >> AM_PAGE_SHIFT, off = slot & AM_PAGE_MASK;
    if (n == 2)
        sum_pair(pg, off, out);
    else
        sum_run(pg, off, n, out);
}

void am__tblocks_each(bool (*fn)(am_tblock *t, void *arg), void *arg)
{
    am__rdlock(&g_lock);
    for (am_tblock *t = g_blocks; t; t = t->next)
        if (!fn(t, arg))
            break;
    am__rwunlock(&g_lock);
}

void am__cells_shutdown(void)
{
    am_tblock *t = am__tls_block;
    if (t != &g_empty) {
        am__tls_block = &g_empty;
        pthread_setspecific(g_key, NULL);
        block_retire(t);
    }
    am__wrlock(&g_lock);
    if (g_live == 0)
        reset_all();
    am__rwunlock(&g_lock);
}
