/*
** ebr.c: the retire list and the reclaimer of epoch-based reclamation.
**
** DESIGN
** A global epoch only grows. A reader publishes the epoch it saw in its
** thread block (am__ebr_enter, a full barrier) and clears it on exit. A
** writer unlinks an object with a seq_cst store, then retires it: the epoch
** is advanced and the object tagged with the epoch before the advance, E.
** A reader whose published epoch is > E loaded it after the advance, hence
** after the unlink, and cannot reach the object; a reader at <= E might. So
** an object tagged E is freed once every block shows 0 or an epoch > E.
**
** Retiring happens on removal, clear and table growth (rare, never on the
** hot path); each retire tries to reclaim, so memory waits at most until
** the next removal or the end of the reader that holds it up.
*/
#include <pthread.h>
#include <stdbool.h>

#include "ebr.h"
#include "fork.h"

_Atomic uint64_t am__ebr_epoch = 1;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static am_retired *g_list;

static bool min_epoch(am_tblock *t, void *arg)
{
    uint64_t *min = arg;
    uint64_t e = atomic_load(&t->epoch);
    if (e != 0 && e < *min)
        *min = e;
    return true;
}

void am__ebr_retire(am_retired *r, void (*free_fn)(am_retired *r))
{
    r->free_fn = free_fn;
    am__lock(&g_lock);
    r->epoch = atomic_fetch_add(&am__ebr_epoch, 1);
    r->next = g_list;
    g_list = r;
    am__unlock(&g_lock);
    am__ebr_reclaim();
}

static void reclaim(bool all)
{
    uint64_t min = UINT64_MAX;
    if (!all)
        am__tblocks_each(min_epoch, &min);
    am__lock(&g_lock);
    am_retired *keep = NULL, *done = NULL;
    for (am_retired *r = g_list, *n; r; r = n) {
        n = r->next;
        if (all || r->epoch < min) {
            r->next = done;
            done = r;
        } else {
            r->next = keep;
            keep = r;
        }
    }
    g_list = keep;
    am__unlock(&g_lock);
    for (am_retired *r = done, *n; r; r = n) {
        n = r->next;
        r->free_fn(r);
    }
}

void am__ebr_reclaim(void)
{
    reclaim(false);
}

void am__ebr_drain(void)
{
    reclaim(true);
}
