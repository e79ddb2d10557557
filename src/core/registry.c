/*
** registry.c: registries -- registering, finding and unregistering families.
**
** DESIGN
** A registry is a sorted array of families under a rwlock: registration is
** rare and takes it exclusively; encoders take it shared for a whole
** exposition. Registering a definition that already exists returns the
** existing family, so independent parts of a program (or a pack called
** twice) can each "create" the metrics they use. Names are checked against
** everything a family exposes (foo_total, foo_bucket, ...), as Prometheus
** parsers would reject two families producing the same sample name.
**
** The default registry is created on first use and freed by am_shutdown().
*/
#include <stdio.h>
#include <string.h>

#include "../encode/spare.h"
#include "../util/alloc.h"
#include "../util/catalog.h"
#include "cells.h"
#include "../util/error.h"
#include "fork.h"
#include "registry.h"

const am_metric_def am__defs_core[] = {
    {"core", AM_TYPE_COUNTER, "agentmon_cardinality_overflow_total", NULL,
     "Label sets sent to a family's overflow series because it reached its child limit.", NULL,
     AM_DEF_LABELS("metric"), NULL, 0, NULL, "agentmon"},
};
const am_def_table am__table_core = {am__defs_core, 1};

static pthread_mutex_t g_default_lock = PTHREAD_MUTEX_INITIALIZER;
static am_registry *_Atomic g_default;

am_err am_registry_new(am_registry **out)
{
    if (!out)
        return am__err(AM_EINVAL, "out pointer is NULL");
    am_registry *r = am__calloc(1, sizeof *r);
    if (!r)
        return am__err(AM_ENOMEM, "out of memory creating a registry");
    pthread_rwlock_init(&r->lock, NULL);
    *out = r;
    return AM_OK;
}

void am_registry_free(am_registry *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        am__family_free(r->fams[i]);
    am__free(r->fams);
    pthread_rwlock_destroy(&r->lock);
    am__free(r);
    am__ebr_reclaim();
}

am_registry *am_registry_default(void)
{
    am_registry *r = atomic_load_explicit(&g_default, am_acquire);
    if (AM_LIKELY(r != NULL))
        return r;
    am__lock(&g_default_lock);
    r = atomic_load_explicit(&g_default, am_relaxed);
    if (!r && am_registry_new(&r) == AM_OK)
        atomic_store_explicit(&g_default, r, am_release);
    am__unlock(&g_default_lock);
    return r;
}

void am_shutdown(void)
{
    am__lock(&g_default_lock);
    am_registry *r = atomic_exchange(&g_default, NULL);
    am__unlock(&g_default_lock);
    am_registry_free(r);
    am__ebr_drain();
    am__cells_shutdown();
    am__spare_drop();
}

/* Index of the (first) family whose base name is name, or where it would
   go. Siblings follow the family they belong to. */
static size_t search(const am_registry *r, const char *name, bool *found)
{
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(r->fams[mid]->name, name);
        if (c == 0) {
            while (mid > 0 && strcmp(r->fams[mid - 1]->name, name) == 0)
                mid--;
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

/* The name of an exposed sample of f that another family already exposes. */
static const char *clash(const am_registry *r, const am_family *f)
{
    static const char *const sfx[] = {"",       "_total", "_created", "_bucket",
                                      "_count", "_sum",   "_info"};
    static __thread char x[300];
    for (size_t k = 0; k < sizeof sfx / sizeof sfx[0]; k++) {
        snprintf(x, sizeof x, "%s%s", f->name, sfx[k]);
        if (!am__family_occupies(f, x))
            continue;
        for (size_t i = 0; i < r->n; i++)
            if (am__family_occupies(r->fams[i], x))
                return x;
    }
    /* JSON snapshot keys must be unique too. */
    am__family_json_key(f, x, sizeof x);
    for (size_t i = 0; i < r->n; i++) {
        char y[300];
        am__family_json_key(r->fams[i], y, sizeof y);
        if (strcmp(x, y) == 0)
            return x;
    }
    return NULL;
}

/* Put f at index at (r->lock held for writing, released here) and hand
   it out; on failure f is freed. */
static am_err insert_unlock(am_registry *r, size_t at, am_family *f, am_family **out)
{
    am_family **v = am__grow(r->fams, &r->cap, r->n + 1, sizeof *v, 16);
    if (!v) {
        am__rwunlock(&r->lock);
        am__family_free(f);
        return am__err(AM_ENOMEM, "out of memory registering a metric");
    }
    r->fams = v;
    memmove(r->fams + at + 1, r->fams + at, (r->n - at) * sizeof *r->fams);
    r->fams[at] = f;
    r->n++;
    f->reg = r;
    am__rwunlock(&r->lock);
    *out = f;
    return AM_OK;
}

am_err am__register(am_registry *r, am_metric_type type, const am_metric_opts *o,
                    am_collect_fn collect, void *collect_ud, am_family **out)
{
    if (!r && !(r = am_registry_default()))
        return am__err(AM_ENOMEM, "out of memory creating the default registry");
    if (!out)
        return am__err(AM_EINVAL, "out pointer is NULL");
    am_family *f;
    am_err rc = am__family_new(type, o, collect, collect_ud, &f);
    if (rc)
        return rc;
    am__wrlock(&r->lock);
    bool found;
    size_t at = search(r, f->name, &found);
    if (found) {
        am_family *e = r->fams[at];
        am__rwunlock(&r->lock);
        if (!am__family_same(e, f)) {
            rc = am__err(AM_EEXIST, "metric \"%s\" is already registered with another definition",
                         f->name);
            am__family_free(f);
            return rc;
        }
        am__family_free(f);
        *out = e;
        return AM_OK;
    }
    const char *x = clash(r, f);
    if (x) {
        am__rwunlock(&r->lock);
        rc = am__err(AM_EEXIST, "metric \"%s\" would expose \"%s\", which another metric exposes",
                     f->name, x);
        am__family_free(f);
        return rc;
    }
    return insert_unlock(r, at, f, out);
}

am_err am__register_sibling(am_registry *r, const am_metric_opts *o, am_family *first,
                            am_family **out)
{
    am_family *f;
    am_err rc = am__family_new(first->type, o, NULL, NULL, &f);
    if (rc)
        return rc;
    f->flags |= AM__FAMILY_SIBLING | (first->flags & AM__FAMILY_UNBUDGETED);
    if (!am__family_same_shape(first, f)) {
        am__family_free(f);
        return am__err(AM_EEXIST, "metric \"%s\": a sibling must have its type, unit and buckets",
                       first->name);
    }
    am__wrlock(&r->lock);
    bool found;
    size_t at = search(r, first->name, &found);
    if (!found || r->fams[at] != first) {
        am__rwunlock(&r->lock);
        am__family_free(f);
        return am__err(AM_ENOTFOUND, "metric \"%s\" is no longer registered", first->name);
    }
    for (; at < r->n && strcmp(r->fams[at]->name, first->name) == 0; at++)
        if (am__family_same_labels(r->fams[at], f)) { /* made meanwhile */
            *out = r->fams[at];
            am__rwunlock(&r->lock);
            am__family_free(f);
            return AM_OK;
        }
    return insert_unlock(r, at, f, out);
}

/* Index of the family registered or exposed as name; r->n if none. */
static size_t lookup(const am_registry *r, const char *name)
{
    bool found;
    size_t at = search(r, name, &found);
    if (found)
        return at;
    for (size_t i = 0; i < r->n; i++) {
        char x[300];
        am__family_expo_name(r->fams[i], x, sizeof x);
        if (strcmp(x, name) == 0)
            return i;
    }
    return r->n;
}

am_err am__registry_find(am_registry *r, const char *name, am_metric_type type, am_family **out)
{
    if (!r && !(r = am_registry_default()))
        return am__err(AM_ENOMEM, "out of memory creating the default registry");
    if (!name || !out)
        return am__err(AM_EINVAL, "name or out pointer is NULL");
    am__rdlock(&r->lock);
    size_t at = lookup(r, name);
    am_family *f = at < r->n ? r->fams[at] : NULL;
    am__rwunlock(&r->lock);
    if (!f)
        return am__err(AM_ENOTFOUND, "no metric named \"%s\"", name);
    if (f->type != type || f->collect)
        return am__err(AM_EINVAL, "metric \"%s\" is of another type", name);
    *out = f;
    return AM_OK;
}

am_err am_registry_unregister(am_registry *r, const char *name)
{
    if (!r && !(r = am_registry_default()))
        return am__err(AM_ENOMEM, "out of memory creating the default registry");
    if (!name)
        return am__err(AM_EINVAL, "name is NULL");
    am__wrlock(&r->lock);
    size_t at = lookup(r, name);
    if (at == r->n) {
        am__rwunlock(&r->lock);
        return am__err(AM_ENOTFOUND, "no metric named \"%s\"", name);
    }
    /* the family and its siblings, which follow it */
    size_t end = at + 1;
    while (end < r->n && (r->fams[end]->flags & AM__FAMILY_SIBLING) &&
           strcmp(r->fams[end]->name, r->fams[at]->name) == 0)
        end++;
    am_family *gone[64];
    size_t n_gone = end - at < 64 ? end - at : 64;
    end = at + n_gone;
    memcpy(gone, r->fams + at, n_gone * sizeof *gone);
    memmove(r->fams + at, r->fams + end, (r->n - end) * sizeof *r->fams);
    r->n -= n_gone;
    for (size_t i = 0; i < n_gone; i++)
        if (atomic_load(&r->overflow) == gone[i])
            atomic_store(&r->overflow, NULL);
    am__rwunlock(&r->lock);
    for (size_t i = 0; i < n_gone; i++)
        am__family_free(gone[i]);
    return AM_OK;
}

size_t am_registry_count(am_registry *r)
{
    if (!r && !(r = am_registry_default()))
        return 0;
    am__rdlock(&r->lock);
    size_t n = r->n;
    am__rwunlock(&r->lock);
    return n;
}

am_err am_registry_set_max_series(am_registry *r, size_t max)
{
    if (!r && !(r = am_registry_default()))
        return am__err(AM_EINVAL, "no registry");
    atomic_store(&r->max_series, max);
    return AM_OK;
}

size_t am_registry_series(am_registry *r)
{
    if (!r && !(r = am_registry_default()))
        return 0;
    return atomic_load_explicit(&r->n_series, am_relaxed);
}

bool am__registry_take(am_registry *r)
{
    if (!r)
        return true;
    size_t max = atomic_load_explicit(&r->max_series, am_relaxed);
    size_t n = atomic_fetch_add_explicit(&r->n_series, 1, am_relaxed);
    if (max && n >= max) {
        atomic_fetch_sub_explicit(&r->n_series, 1, am_relaxed);
        return false;
    }
    return true;
}

void am__registry_give(am_registry *r, size_t n)
{
    if (r && n)
        atomic_fetch_sub_explicit(&r->n_series, n, am_relaxed);
}

void am__registry_count_overflow(am_registry *r, am_family *f)
{
    if (!r || f == atomic_load(&r->overflow))
        return;
    am_family *of = atomic_load(&r->overflow);
    if (!of) {
        am_metric_opts o = am__def_opts(&am__defs_core[0]);
        o.flags |= AM__FAMILY_UNBUDGETED;
        if (am__register(r, AM_TYPE_COUNTER, &o, NULL, NULL, &of) != AM_OK)
            return;
        atomic_store(&r->overflow, of);
    }
    am__rdlock(&r->lock);
    of = atomic_load(&r->overflow);
    am_child *c;
    if (of && f != of) {
        const char *v[] = {f->name};
        am_err rc = am__family_with(of, v, 1, &c);
        if (rc == AM_OK || rc == AM_ELIMIT)
            am__cells_add_u(c->slot, 1);
    }
    am__rwunlock(&r->lock);
}

/* ------------------------------------------------------------------ */
/* Bridges (metrics.h): families another protocol defines at run time  */
/* ------------------------------------------------------------------ */

/* The family whose root handle h is, of whatever type. */
static am_err root_family(const void *h, am_family **out)
{
    if (!h || !out)
        return am__err(AM_EINVAL, "metric handle or out pointer is NULL");
    return am__family_of(h, AM_CHILD(h)->fam->type, out);
}

am_err am_metric_describe(const void *root, am_metric_desc *out)
{
    am_family *f;
    am_err rc = root_family(root, &f);
    if (rc)
        return rc;
    *out = (am_metric_desc){0};
    out->type = f->type;
    out->name = f->name;
    out->label_names = (const char *const *)f->label_names;
    out->n_labels = f->n_labels;
    out->flags = f->flags & (AM_METRIC_NO_CREATED | AM_METRIC_SIBLINGS);
    return AM_OK;
}

am_err am_metric_sibling_new(void *root, const am_metric_opts *o, void **out)
{
    am_family *f, *sib;
    am_err rc = root_family(root, &f);
    if (rc)
        return rc;
    if (!o)
        return am__err(AM_EINVAL, "options pointer is NULL");
    if (!(f->flags & AM__FAMILY_SIBLINGS))
        return am__err(AM_EMISUSE, "metric \"%s\" was not registered with AM_METRIC_SIBLINGS",
                       f->name);
    if ((rc = am__register_sibling(f->reg, o, f, &sib)))
        return rc;
    *out = atomic_load_explicit(&sib->root, am_relaxed);
    return AM_OK;
}

am_err am_metric_overflow(void *root, void **out)
{
    am_family *f;
    am_err rc = root_family(root, &f);
    if (rc)
        return rc;
    return am__family_overflow(f, (am_child **)out);
}
