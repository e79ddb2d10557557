/*
** registry.h: the registry's insides, for the typed metric files and the
** encoders.
**
** Families are kept sorted by base name, so every exposition lists them in
** the same order. Lock order, everywhere: registry, then family, then cells.
*/
#ifndef AM_CORE_REGISTRY_H
#define AM_CORE_REGISTRY_H

#include <pthread.h>
#include <stdbool.h>

#include "family.h"

struct am_registry {
    pthread_rwlock_t lock; /* the family list; encoders hold it shared */
    am_family **fams;
    size_t n, cap;
    am_family *_Atomic overflow; /* agentmon_cardinality_overflow_total, made on demand */
    _Atomic size_t n_series;     /* labelled children of all families */
    _Atomic size_t max_series;   /* 0: no bound */
    /* the length of its last exposition, by am_format: the next one's
       first capacity, so a scrape writes into one block of the right size
       (walk.c) */
    _Atomic size_t last_len[3];
};

/*
** Validate o, then register a new family or return the existing one with
** the same definition. r NULL = default registry. Returns AM_OK, AM_EINVAL,
** AM_EEXIST or AM_ENOMEM (with am_errmsg() detail).
*/
am_err am__register(am_registry *r, am_metric_type type, const am_metric_opts *o,
                    am_collect_fn collect, void *collect_ud, am_family **out);

/*
** Register a sibling of first (registered in r): a family of its name and
** shape (o's type, unit and buckets must be first's) with other label
** names, exposed in one block with it; or the sibling of o's label names
** made already. Siblings are unregistered with first. AM_OK, AM_EEXIST
** (another shape), AM_ENOTFOUND (first is gone), AM_EINVAL, AM_ENOMEM.
*/
am_err am__register_sibling(am_registry *r, const am_metric_opts *o, am_family *first,
                            am_family **out);

/* Find a family by registered or exposed name; AM_ENOTFOUND, or AM_EINVAL
   when it exists with another type. */
am_err am__registry_find(am_registry *r, const char *name, am_metric_type type, am_family **out);

/*
** Take one series from r's budget for a new child (true), or false when
** the registry is at max_series; am__registry_give() returns n of them
** (children removed). r NULL: always true.
*/
bool am__registry_take(am_registry *r);
void am__registry_give(am_registry *r, size_t n);

/* Count one label set of f sent to its overflow child. */
void am__registry_count_overflow(am_registry *r, am_family *f);

#endif
