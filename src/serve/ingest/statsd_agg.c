/*
** statsd_agg.c: StatsD lines into registry families (see statsd_agg.h).
**
** DESIGN
** The registry already does the hard part -- families, children, the
** cardinality guard, lock-free writes -- so the aggregator only has to turn
** a line into a child handle quickly. A line seen before is found by its
** raw bytes: name, type and the tag section exactly as sent, hashed into
** the cache, which yields the series; applying the values is then a
** registry write (counter add, gauge set, histogram observe) with no
** string work at all. Only a line whose raw key is new goes the slow way:
** map the name and tag keys, sort the tags, check them against the
** family's first line, resolve the child, and remember the series under
** its canonical name+labels (so "#a:1,b:2" and "#b:2,a:1" share one
** series) and the raw key in the cache.
**
** A new name first looks for a registry family of that exposed name and
** type: the collector's registry holds the packs' families, and a StatsD
** line named like one of them is meant to feed it, not to be refused.
**
** Lines routed to a family's overflow series are not cached, so each of
** them passes through the registry's guard and is counted in
** agentmon_cardinality_overflow_total.
**
** MEMORY
** Families and series live until the aggregator is freed (their registry
** families stay in the registry). The cache only speeds things up: when it
** reaches max_cache entries it is emptied. Names are bounded by
** max_families, series by the registry's per-family child limit.
**
** THREADS
** One mutex guards all of it; a datagram takes it once, so the receive
** thread pays one uncontended lock per datagram, and a flush from another
** thread sees whole lines.
*/
#define _GNU_SOURCE
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agentmon/timer.h"
#include "../../util/alloc.h"
#include "../../util/atomic.h"
#include "../../util/buf.h"
#include "../../util/error.h"
#include "../../util/fmt.h"
#include "../store/labels.h"
#include "statsd_agg.h"
#include "../../util/hash.h"

const double AM_STATSD_TIMER_BUCKETS[AM_STATSD_TIMER_BUCKETS_N] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
const double AM_STATSD_VALUE_BUCKETS[AM_STATSD_VALUE_BUCKETS_N] = {
    0.1, 0.25, 0.5,  1,    2.5,   5,     10,    25,     50,     100,    250,
    500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1e6};

#define OVERFLOW_VALUE "__overflow__"

typedef struct series series;

typedef struct family {
    char *exposed;       /* the sample name: x_total, x_seconds, x */
    am_statsd_type kind; /* the line type; d is stored as h */
    void *root;          /* am_counter *, am_gauge * or am_histogram * */
    size_t n_labels;
    char **label_names; /* sorted by byte order */
    series *first, *last;
    /* lines of one name with other tag keys: one family per key set, the
       others registered as siblings of the first (exposed as one family,
       as statsd_exporter exposes them) -- only for families StatsD made,
       never for a pack's */
    struct family *sibling;
    bool is_statsd_made;
    size_t n_keysets; /* on the first: its key sets, itself included */
} family;

struct series {
    family *fam;
    void *child;
    char **values; /* in label_names order */
    char *labels;  /* canonical text */
    series *next;
    am__map set; /* sets: the values' hashes (hash-keyed entries) */
};

struct am_statsd_agg {
    pthread_mutex_t mu;
    am_registry *r;
    am_statsd_agg_opts o;
    uint64_t seed;
    am__map fams;   /* mapped line name -> family */
    am__map series; /* exposed name NUL canonical labels -> series */
    am__map cache;  /* raw name, type, raw tags -> series */
    family **fam_list;
    size_t n_fam, cap_fam;
    /* written under mu, read without it: a metrics callback reads it while
       the registry is locked, and mu is taken before the registry's lock */
    _Atomic size_t n_series;
    am_buf key; /* scratch for keys */
};

/* ------------------------------------------------------------ lifetime */

am_err am__statsd_agg_new(am_registry *r, const am_statsd_agg_opts *o, am_statsd_agg **out)
{
    am_statsd_agg *a = am__calloc(1, sizeof *a);
    if (!a)
        return am__err(AM_ENOMEM, "statsd: out of memory");
    if (o)
        a->o = *o;
    if (!a->o.max_families)
        a->o.max_families = AM_STATSD_DEFAULT_FAMILIES;
    if (!a->o.max_cache)
        a->o.max_cache = AM_STATSD_DEFAULT_CACHE;
    if (!a->o.max_series)
        a->o.max_series = AM_STATSD_DEFAULT_SERIES;
    a->r = r;
    /* a per-process seed, so nobody can precompute colliding names */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    a->seed = am__hash64((uint64_t)(uintptr_t)a, &ts, sizeof ts);
    am_buf_init(&a->key, 0);
    pthread_mutex_init(&a->mu, NULL);
    *out = a;
    return AM_OK;
}

static void free_strv(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        am__free(v[i]);
    am__free(v);
}

static void series_free(series *s, size_t n_labels)
{
    free_strv(s->values, n_labels);
    am__free(s->labels);
    am__map_free(&s->set);
    am__free(s);
}

static void family_free(family *f)
{
    series *s = f->first;
    while (s) {
        series *next = s->next;
        series_free(s, f->n_labels);
        s = next;
    }
    free_strv(f->label_names, f->n_labels);
    am__free(f->exposed);
    am__free(f);
}

void am__statsd_agg_free(am_statsd_agg *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n_fam; i++)
        family_free(a->fam_list[i]);
    am__free(a->fam_list);
    am__map_free(&a->fams);
    am__map_free(&a->series);
    am__map_free(&a->cache);
    am_buf_free(&a->key);
    pthread_mutex_destroy(&a->mu);
    am__free(a);
}

/* ------------------------------------------------------------ slow path */

static am_statsd_type kind_of(am_statsd_type t)
{
    return t == AM_STATSD_DISTRIBUTION ? AM_STATSD_HISTOGRAM : t;
}

static const char *kind_name(am_statsd_type t)
{
    switch (kind_of(t)) {
    case AM_STATSD_COUNTER:
        return "counter (c)";
    case AM_STATSD_GAUGE:
        return "gauge (g)";
    case AM_STATSD_TIMER:
        return "timer (ms)";
    case AM_STATSD_HISTOGRAM:
        return "histogram (h/d)";
    default:
        return "set (s)";
    }
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !memcmp(s + n - m, suffix, m);
}

static char *dup_str(const char *s)
{
    char *d = am__strdup(s);
    if (!d)
        am__err(AM_ENOMEM, "statsd: out of memory");
    return d;
}

/* The mapped tag keys and values of l, NUL-terminated, in order[] sorted
   by key. Pointers into *b, valid until it changes. */
typedef struct tagset {
    size_t n;
    const char *keys[AM_STATSD_MAX_TAGS];
    const char *values[AM_STATSD_MAX_TAGS];
} tagset;

static am_err map_tags(const am_statsd_line *l, am_buf *b, tagset *t)
{
    size_t koff[AM_STATSD_MAX_TAGS], voff[AM_STATSD_MAX_TAGS];
    b->len = 0;
    for (size_t i = 0; i < l->n_tags; i++) {
        size_t need = am__statsd_map_name(l->tag_keys[i].p, l->tag_keys[i].len, NULL, 0);
        char *w = am_buf_reserve(b, need + 1);
        if (!w)
            return am__err(AM_ENOMEM, "statsd: out of memory");
        koff[i] = b->len;
        am__statsd_map_name(l->tag_keys[i].p, l->tag_keys[i].len, w, need + 1);
        b->len += need + 1;
        voff[i] = b->len;
        am_buf_append(b, l->tag_values[i].p, l->tag_values[i].len);
        am_buf_putc(b, '\0');
    }
    if (am_buf_err(b))
        return am__err(AM_ENOMEM, "statsd: out of memory");
    t->n = l->n_tags;
    for (size_t i = 0; i < t->n; i++) {
        t->keys[i] = b->p + koff[i];
        t->values[i] = b->p + voff[i];
    }
    /* insertion sort: tag lists are short */
    for (size_t i = 1; i < t->n; i++)
        for (size_t j = i; j > 0 && strcmp(t->keys[j], t->keys[j - 1]) < 0; j--) {
            const char *k = t->keys[j], *v = t->values[j];
            t->keys[j] = t->keys[j - 1];
            t->values[j] = t->values[j - 1];
            t->keys[j - 1] = k;
            t->values[j - 1] = v;
        }
    for (size_t i = 1; i < t->n; i++)
        if (!strcmp(t->keys[i], t->keys[i - 1]))
            return am__err(AM_EINVAL, "statsd: two tag keys map to label \"%s\"", t->keys[i]);
    return AM_OK;
}

static void render_keys(am_buf *b, const char *const *keys, size_t n)
{
    am_buf_putc(b, '(');
    for (size_t i = 0; i < n; i++) {
        if (i)
            am_buf_putc(b, ',');
        am_buf_puts(b, keys[i]);
    }
    am_buf_putc(b, ')');
}

/* Whether the label names names[0..n) are the tag keys of t, in any order. */
static bool same_keys(const char *const *names, size_t n, const tagset *t)
{
    if (n != t->n)
        return false;
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < t->n && strcmp(names[i], t->keys[j]) != 0)
            j++;
        if (j == t->n)
            return false;
    }
    return true;
}

static am_err keys_differ(const char *name, const char *const *names, size_t n, const tagset *t,
                          const char *whose)
{
    am_buf b;
    am_buf_init(&b, 4096);
    render_keys(&b, t->keys, t->n);
    am_buf_puts(&b, " differ from ");
    am_buf_puts(&b, whose);
    am_buf_putc(&b, ' ');
    render_keys(&b, names, n);
    am_err rc =
        am__err(AM_EINVAL, "statsd: \"%s\": tag keys %s", name, b.p && !b.err ? b.p : "(?)");
    am_buf_free(&b);
    return rc;
}

static am_err check_keys(const family *f, const tagset *t)
{
    const char *const *names = (const char *const *)f->label_names;
    if (same_keys(names, f->n_labels, t))
        return AM_OK;
    return keys_differ(f->exposed, names, f->n_labels, t, "the first line's");
}

static am_metric_type metric_type(am_statsd_type k)
{
    switch (k) {
    case AM_STATSD_COUNTER:
        return AM_TYPE_COUNTER;
    case AM_STATSD_GAUGE:
    case AM_STATSD_SET:
        return AM_TYPE_GAUGE;
    default:
        return AM_TYPE_HISTOGRAM;
    }
}

/* The options of the registry family a StatsD line makes: its name, a
   help naming the line, its tag keys, buckets by type; marked as StatsD's,
   so that lines with other tag keys may add siblings to it. */
static void family_opts(am_statsd_agg *a, const am_statsd_line *l, const char *exposed,
                        const tagset *t, char *help, size_t help_cap, am_metric_opts *o)
{
    am_statsd_type k = kind_of(l->type);
    snprintf(help, help_cap, "StatsD %s \"%.*s\".", am__statsd_type_name(l->type), (int)l->name.len,
             l->name.p);
    o->name = exposed;
    o->help = help;
    o->label_names = t->keys;
    o->n_labels = t->n;
    o->max_children = a->o.max_children;
    o->flags |= AM_METRIC_SIBLINGS;
    if (metric_type(k) == AM_TYPE_HISTOGRAM) {
        o->buckets = k == AM_STATSD_TIMER ? AM_STATSD_TIMER_BUCKETS : AM_STATSD_VALUE_BUCKETS;
        o->n_buckets = k == AM_STATSD_TIMER ? AM_STATSD_TIMER_BUCKETS_N : AM_STATSD_VALUE_BUCKETS_N;
        if (k == AM_STATSD_TIMER)
            o->unit = "seconds";
    }
}

/* The root of r's family named exposed of type t (am_<type>_find). */
static am_err find_root(am_registry *r, const char *exposed, am_metric_type t, void **root)
{
    switch (t) {
    case AM_TYPE_COUNTER:
        return am_counter_find(r, exposed, (am_counter **)root);
    case AM_TYPE_GAUGE:
        return am_gauge_find(r, exposed, (am_gauge **)root);
    default:
        return am_histogram_find(r, exposed, (am_histogram **)root);
    }
}

/* Register the family of a new name: the registry's own when it has one
   of this name and type (a pack's, say: StatsD then feeds the metric the
   pack defines, with its buckets), else a new one. *names gets its label
   names in the registry's order. */
static am_err register_family(am_statsd_agg *a, const am_statsd_line *l, const char *exposed,
                              const tagset *t, void **root, const char *const **names,
                              bool *is_statsd_made)
{
    am_statsd_type k = kind_of(l->type);
    void *have;
    am_metric_desc d;
    char help[AM_STATSD_MAX_NAME + 64];
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    family_opts(a, l, exposed, t, help, sizeof help, &o);
    am_err rc = find_root(a->r, exposed, metric_type(k), &have);
    if (rc == AM_OK && !(rc = am_metric_describe(have, &d))) {
        *is_statsd_made = d.flags & AM_METRIC_SIBLINGS;
        *names = d.label_names;
        if (!same_keys(*names, d.n_labels, t)) {
            if (!*is_statsd_made) /* a pack's: its labels are the contract */
                return keys_differ(exposed, *names, d.n_labels, t, "the registered metric's");
            /* another aggregator's StatsD family: a sibling with these keys */
            if ((rc = am_metric_sibling_new(have, &o, &have)))
                return rc;
            *names = t->keys;
        }
        *root = have;
        return AM_OK;
    }
    if (rc != AM_ENOTFOUND)
        return rc; /* another type, or a computed family: the message says */
    *is_statsd_made = true;
    *names = t->keys;
    switch (k) {
    case AM_STATSD_COUNTER:
        return am_counter_new(a->r, &o, (am_counter **)root);
    case AM_STATSD_GAUGE:
    case AM_STATSD_SET:
        return am_gauge_new(a->r, &o, (am_gauge **)root);
    default:
        return am_histogram_new(a->r, &o, (am_histogram **)root);
    }
}

/* The sample name of a line's family: counters end in _total, timers in
   _seconds (unless the name does already). */
static void exposed_of(const char *mapped, am_statsd_type k, char *out, size_t cap)
{
    snprintf(out, cap, "%s%s", mapped,
             k == AM_STATSD_COUNTER && !ends_with(mapped, "_total")   ? "_total"
             : k == AM_STATSD_TIMER && !ends_with(mapped, "_seconds") ? "_seconds"
                                                                      : "");
}

/* Names the collector writes itself (its own metrics, a scrape's health):
   StatsD and events must not forge them (a fake up{job=..} would fool the
   alert rules that trust it). */
static am_err check_reserved(const char *exposed)
{
    if (!strncmp(exposed, "agentmon_", 9) || !strcmp(exposed, "up") ||
        !strncmp(exposed, "scrape_", 7))
        return am__err(AM_EINVAL, "metric name \"%s\" is reserved for the collector", exposed);
    return AM_OK;
}

/* A family of the aggregator for a registry family's root, on fam_list. */
static am_err family_make(am_statsd_agg *a, am_statsd_type k, const char *exposed, void *root,
                          const char *const *names, size_t n, bool is_statsd_made, family **out)
{
    family **v = am__grow(a->fam_list, &a->cap_fam, a->n_fam + 1, sizeof *v, 16);
    if (!v)
        return am__err(AM_ENOMEM, "statsd: out of memory");
    a->fam_list = v;
    family *f = am__calloc(1, sizeof *f);
    if (!f)
        return am__err(AM_ENOMEM, "statsd: out of memory");
    f->kind = k;
    f->root = root;
    f->is_statsd_made = is_statsd_made;
    f->n_keysets = 1;
    f->n_labels = n;
    f->exposed = dup_str(exposed);
    f->label_names = n ? am__calloc(n, sizeof(char *)) : NULL;
    am_err rc = f->exposed && (!n || f->label_names) ? AM_OK : AM_ENOMEM;
    for (size_t i = 0; !rc && i < n; i++)
        if (!(f->label_names[i] = dup_str(names[i])))
            rc = AM_ENOMEM;
    if (rc) {
        family_free(f);
        return am__err(AM_ENOMEM, "statsd: out of memory");
    }
    a->fam_list[a->n_fam++] = f;
    *out = f;
    return AM_OK;
}

static am_err family_new(am_statsd_agg *a, const am_statsd_line *l, const char *mapped,
                         const tagset *t, family **out)
{
    if (a->n_fam >= a->o.max_families)
        return am__err(AM_ELIMIT, "statsd: too many metric names (limit %zu)", a->o.max_families);
    char exposed[AM_STATSD_MAX_NAME + 16];
    am_statsd_type k = kind_of(l->type);
    exposed_of(mapped, k, exposed, sizeof exposed);
    am_err reserved = check_reserved(exposed);
    if (reserved)
        return reserved;
    /* another spelling of a name this aggregator made ("t" as ms and
       "t_seconds" as h): one type per exposed name, as for one name */
    for (size_t i = 0; i < a->n_fam; i++)
        if (a->fam_list[i]->kind != k && !strcmp(a->fam_list[i]->exposed, exposed))
            return am__err(AM_EINVAL, "statsd: \"%s\" was first sent as a %s, not a %s", exposed,
                           kind_name(a->fam_list[i]->kind), kind_name(k));
    void *root = NULL;
    const char *const *names = NULL;
    bool is_statsd_made = false;
    am_err rc = register_family(a, l, exposed, t, &root, &names, &is_statsd_made);
    if (rc)
        return rc;
    family *f;
    if ((rc = family_make(a, k, exposed, root, names, t->n, is_statsd_made, &f)))
        return rc;
    if (am__map_put(&a->fams, am__hash64(a->seed, mapped, strlen(mapped)), mapped, strlen(mapped),
                    f)) {
        a->n_fam--;
        family_free(f);
        return am__err(AM_ENOMEM, "statsd: out of memory");
    }
    *out = f;
    return AM_OK;
}

/* The most key sets one name may have (its first line's and siblings). */
#define MAX_KEYSETS 8

/*
** The family of head's name for tag keys t: head or one of its siblings,
** made now when StatsD made head and no key set of it matches (as
** statsd_exporter exposes one name with several label sets). A pack's
** family keeps its labels: other keys are refused.
*/
static am_err keyset_of(am_statsd_agg *a, const am_statsd_line *l, family *head, const tagset *t,
                        family **out)
{
    for (family *g = head; g; g = g->sibling)
        if (same_keys((const char *const *)g->label_names, g->n_labels, t)) {
            *out = g;
            return AM_OK;
        }
    if (!head->is_statsd_made)
        return check_keys(head, t);
    if (head->n_keysets >= MAX_KEYSETS)
        return am__err(AM_EINVAL, "statsd: \"%s\" has %d tag key sets already; no more are taken",
                       head->exposed, MAX_KEYSETS);
    if (a->n_fam >= a->o.max_families)
        return am__err(AM_ELIMIT, "statsd: too many metric names (limit %zu)", a->o.max_families);
    char help[AM_STATSD_MAX_NAME + 64];
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    family_opts(a, l, head->exposed, t, help, sizeof help, &o);
    void *sib;
    am_err rc = am_metric_sibling_new(head->root, &o, &sib);
    if (rc)
        return rc;
    family *g;
    if ((rc = family_make(a, head->kind, head->exposed, sib, t->keys, t->n, true, &g)))
        return rc;
    family *last = head;
    while (last->sibling)
        last = last->sibling;
    last->sibling = g;
    head->n_keysets++;
    *out = g;
    return AM_OK;
}

static am_err child_with(family *f, const char *const *values, void **child)
{
    switch (f->kind) {
    case AM_STATSD_COUNTER:
        return am_counter_with(f->root, values, f->n_labels, (am_counter **)child);
    case AM_STATSD_GAUGE:
    case AM_STATSD_SET:
        return am_gauge_with(f->root, values, f->n_labels, (am_gauge **)child);
    default:
        return am_histogram_with(f->root, values, f->n_labels, (am_histogram **)child);
    }
}

static am_err series_new(am_statsd_agg *a, family *f, void *child, const char *const *values,
                         const char *labels, uint64_t h, const char *key, size_t klen, series **out)
{
    series *s = am__calloc(1, sizeof *s);
    if (!s)
        return am__err(AM_ENOMEM, "statsd: out of memory");
    s->fam = f;
    s->child = child;
    s->labels = am__strdup(labels);
    s->values = f->n_labels ? am__calloc(f->n_labels, sizeof(char *)) : NULL;
    am_err rc = s->labels && (!f->n_labels || s->values) ? AM_OK : AM_ENOMEM;
    for (size_t i = 0; !rc && i < f->n_labels; i++)
        if (!(s->values[i] = am__strdup(values[i])))
            rc = AM_ENOMEM;
    if (!rc)
        rc = am__map_put(&a->series, h, key, klen, s);
    if (rc) {
        series_free(s, f->n_labels);
        return am__err(AM_ENOMEM, "statsd: out of memory");
    }
    if (f->last)
        f->last->next = s;
    else
        f->first = s;
    f->last = s;
    atomic_fetch_add_explicit(&a->n_series, 1, memory_order_relaxed);
    *out = s;
    return AM_OK;
}

/* Whether f already has the series of these label values (in f's order). */
static bool has_series(am_statsd_agg *a, family *f, const char *const *values)
{
    am_buf *k = &a->key;
    k->len = 0;
    k->err = AM_OK;
    am_buf_puts(k, f->exposed);
    am_buf_putc(k, '\0');
    am__labels_canonical(k, (const char *const *)f->label_names, values, f->n_labels);
    return !am_buf_err(k) &&
           am__map_find(&a->series, am__hash64(a->seed, k->p, k->len), k->p, k->len);
}

/*
** The series of a line whose raw key is not cached. *is_overflow tells that
** it is the family's overflow series (not to be cached).
*/
static am_err resolve(am_statsd_agg *a, const am_statsd_line *l, series **out, int *is_overflow)
{
    char mapped[AM_STATSD_MAX_NAME + 2];
    am__statsd_map_name(l->name.p, l->name.len, mapped, sizeof mapped);
    am_buf tb;
    am_buf_init(&tb, 0);
    tagset t;
    am_err rc = map_tags(l, &tb, &t);
    family *f = NULL;
    if (!rc) {
        f = am__map_find(&a->fams, am__hash64(a->seed, mapped, strlen(mapped)), mapped,
                         strlen(mapped));
        if (f && f->kind != kind_of(l->type))
            rc = am__err(AM_EINVAL, "statsd: \"%s\" was first sent as a %s, not a %s", mapped,
                         kind_name(f->kind), kind_name(l->type));
        else if (f)
            rc = keyset_of(a, l, f, &t, &f);
        else
            rc = family_new(a, l, mapped, &t, &f);
    }
    void *child = NULL;
    const char *ordered[AM_STATSD_MAX_TAGS], *over[AM_STATSD_MAX_TAGS];
    const char *const *values = ordered;
    if (!rc) {
        /* tag values in the family's label order (checked: same keys) */
        for (size_t i = 0; i < f->n_labels; i++)
            for (size_t j = 0; j < t.n; j++)
                if (!strcmp(f->label_names[i], t.keys[j]))
                    ordered[i] = t.values[j];
        /* a new series past this source's budget goes where one past the
           family's or the registry's would: the overflow series */
        if (atomic_load_explicit(&a->n_series, memory_order_relaxed) < a->o.max_series ||
            has_series(a, f, ordered))
            rc = child_with(f, ordered, &child);
        else if (!f->n_labels) /* a new name: nowhere to put it */
            rc = am__err(AM_EINVAL, "statsd: the budget of %zu series is spent: \"%s\" refused",
                         a->o.max_series, f->exposed);
        else if (!(rc = am_metric_overflow(f->root, &child)))
            rc = AM_ELIMIT;
        if (rc == AM_ELIMIT) {
            for (size_t i = 0; i < t.n; i++)
                over[i] = OVERFLOW_VALUE;
            values = over;
            *is_overflow = 1;
            rc = AM_OK;
        }
    }
    if (!rc) {
        /* the series key: exposed name, NUL, canonical labels */
        am_buf *k = &a->key;
        k->len = 0;
        k->err = AM_OK;
        am_buf_puts(k, f->exposed);
        am_buf_putc(k, '\0');
        size_t loff = k->len;
        am__labels_canonical(k, (const char *const *)f->label_names, values, f->n_labels);
        if (am_buf_err(k)) {
            rc = am__err(AM_ENOMEM, "statsd: out of memory");
        } else {
            uint64_t h = am__hash64(a->seed, k->p, k->len);
            series *s = am__map_find(&a->series, h, k->p, k->len);
            if (!s) {
                /* copy: series_new's map_put may not alias the scratch */
                char *key = am__malloc(k->len + 1);
                if (!key) {
                    rc = am__err(AM_ENOMEM, "statsd: out of memory");
                } else {
                    size_t klen = k->len;
                    memcpy(key, k->p, klen + 1);
                    rc = series_new(a, f, child, values, key + loff, h, key, klen, &s);
                    am__free(key);
                }
            }
            if (!rc)
                *out = s;
        }
    }
    am_buf_free(&tb);
    return rc;
}

/* ------------------------------------------------------------ hot path */

static void set_add(series *s, uint64_t h)
{
    if (am__map_find_h(&s->set, h))
        return;
    if (s->set.n >= AM_STATSD_MAX_SET)
        return;
    s->set.first_cap = 16;
    if (am__map_put_h(&s->set, h, s))
        return; /* the count stays at what it was: under memory pressure */
    am_gauge_set(s->child, (double)s->set.n);
}

static void apply(am_statsd_agg *a, series *s, const am_statsd_line *l)
{
    switch (s->fam->kind) {
    case AM_STATSD_COUNTER:
        for (size_t i = 0; i < l->n_values; i++)
            (void)am_counter_add(s->child, l->values[i] / l->sample_rate); /* checked */
        break;
    case AM_STATSD_GAUGE:
        for (size_t i = 0; i < l->n_values; i++) {
            if (l->delta_mask >> i & 1)
                am_gauge_add(s->child, l->values[i]);
            else
                am_gauge_set(s->child, l->values[i]);
        }
        break;
    case AM_STATSD_SET:
        for (size_t i = 0; i < l->n_values; i++)
            set_add(s, am__hash64(a->seed, l->raw[i].p, l->raw[i].len));
        break;
    default: {
        double scale = s->fam->kind == AM_STATSD_TIMER ? 1e-3 : 1;
        uint64_t times = 1;
        if (l->sample_rate < 1) {
            double t = floor(1 / l->sample_rate + 0.5);
            times = t > AM_STATSD_MAX_REPEAT ? AM_STATSD_MAX_REPEAT : (uint64_t)t;
        }
        for (size_t i = 0; i < l->n_values; i++)
            for (uint64_t k = 0; k < times; k++)
                am_histogram_observe(s->child, l->values[i] * scale);
        break;
    }
    }
}

/* What a line's values must be, whatever its series. */
static am_err check_values(const am_statsd_line *l)
{
    if (l->type == AM_STATSD_COUNTER)
        for (size_t i = 0; i < l->n_values; i++) {
            double v = l->values[i] / l->sample_rate;
            if (!isfinite(v))
                return am__err(AM_EINVAL, "statsd: counter value / sample rate is not finite");
            if (v < 0)
                return am__err(AM_EINVAL, "a counter increment must be >= 0, not %g", v);
        }
    return AM_OK;
}

am_err am__statsd_agg_check(am_statsd_agg *a, const am_statsd_line *l)
{
    am_err rc = check_values(l);
    if (rc)
        return rc;
    char mapped[AM_STATSD_MAX_NAME + 2];
    am__statsd_map_name(l->name.p, l->name.len, mapped, sizeof mapped);
    am_buf tb;
    am_buf_init(&tb, 0);
    tagset t;
    pthread_mutex_lock(&a->mu);
    rc = map_tags(l, &tb, &t);
    am_statsd_type k = kind_of(l->type);
    family *f = rc ? NULL
                   : am__map_find(&a->fams, am__hash64(a->seed, mapped, strlen(mapped)), mapped,
                                  strlen(mapped));
    if (rc) {
        /* map_tags said why */
    } else if (f && f->kind != k) {
        rc = am__err(AM_EINVAL, "\"%s\" is a %s, not a %s", f->exposed, kind_name(f->kind),
                     kind_name(k));
    } else if (f) {
        /* what keyset_of() would do, without making anything */
        bool is_known = false;
        for (family *g = f; g && !is_known; g = g->sibling)
            is_known = same_keys((const char *const *)g->label_names, g->n_labels, &t);
        if (!is_known && !f->is_statsd_made)
            rc = check_keys(f, &t);
        else if (!is_known && f->n_keysets >= MAX_KEYSETS)
            rc = am__err(AM_EINVAL,
                         "statsd: \"%s\" has %d tag key sets already; no more are "
                         "taken",
                         f->exposed, MAX_KEYSETS);
    } else {
        /* a name not seen yet: what family_new would refuse */
        char exposed[AM_STATSD_MAX_NAME + 16];
        exposed_of(mapped, k, exposed, sizeof exposed);
        void *have;
        am_metric_desc d = {0};
        am_err found = find_root(a->r, exposed, metric_type(k), &have);
        if (found == AM_OK)
            found = am_metric_describe(have, &d);
        rc = check_reserved(exposed);
        if (!rc && found == AM_OK && !same_keys(d.label_names, d.n_labels, &t))
            rc = keys_differ(exposed, d.label_names, d.n_labels, &t, "the registered metric's");
        else if (!rc && found != AM_OK && found != AM_ENOTFOUND)
            rc = found; /* another type: the message says */
        for (size_t i = 0; !rc && i < t.n; i++)
            if (metric_type(k) == AM_TYPE_HISTOGRAM && !strcmp(t.keys[i], "le"))
                rc = am__err(AM_EINVAL, "label \"le\" is reserved for a histogram's buckets");
    }
    pthread_mutex_unlock(&a->mu);
    am_buf_free(&tb);
    return rc;
}

static am_err line_locked(am_statsd_agg *a, const am_statsd_line *l, int *is_overflow)
{
    *is_overflow = 0;
    am_err vrc = check_values(l);
    if (vrc)
        return vrc;
    am_buf *k = &a->key;
    k->len = 0;
    k->err = AM_OK;
    am_buf_append(k, l->name.p, l->name.len);
    am_buf_putc(k, '|');
    am_buf_putc(k, (char)('0' + l->type));
    am_buf_append(k, l->tags.p, l->tags.len);
    if (am_buf_err(k))
        return am__err(AM_ENOMEM, "statsd: out of memory");
    uint64_t h = am__hash64(a->seed, k->p, k->len);
    series *s = am__map_find(&a->cache, h, k->p, k->len);
    if (AM_LIKELY(s != NULL)) {
        apply(a, s, l);
        return AM_OK;
    }
    /* keep the raw key: resolve() reuses the scratch buffer */
    char stack[512];
    size_t klen = k->len;
    char *raw = klen <= sizeof stack ? stack : am__malloc(klen);
    if (!raw)
        return am__err(AM_ENOMEM, "statsd: out of memory");
    memcpy(raw, k->p, klen);
    am_err rc = resolve(a, l, &s, is_overflow);
    if (!rc && !*is_overflow) {
        if (a->cache.n >= a->o.max_cache)
            am__map_clear(&a->cache);
        (void)am__map_put(&a->cache, h, raw, klen, s); /* a miss next time is all it costs */
    }
    if (raw != stack)
        am__free(raw);
    if (rc)
        return rc;
    apply(a, s, l);
    return AM_OK;
}

am_err am__statsd_agg_line(am_statsd_agg *a, const am_statsd_line *l)
{
    int over;
    pthread_mutex_lock(&a->mu);
    am_err rc = line_locked(a, l, &over);
    pthread_mutex_unlock(&a->mu);
    if (!rc && over)
        return am__err(AM_ELIMIT, "statsd: too many series for this name: recorded in the "
                                  "overflow series");
    return rc;
}

void am__statsd_agg_datagram(am_statsd_agg *a, const char *buf, size_t len,
                             am_statsd_counts *counts, am_statsd_invalid_fn on_invalid, void *ud)
{
    am_statsd_line l;
    am_statsd_str line;
    size_t pos = 0;
    pthread_mutex_lock(&a->mu);
    while (am__statsd_next_line(buf, len, &pos, &line)) {
        counts->n_lines++;
        int over;
        am_err rc = am__statsd_parse(line.p, line.len, &l);
        if (!rc)
            rc = line_locked(a, &l, &over);
        if (rc) {
            counts->n_invalid++;
            if (on_invalid)
                on_invalid(ud, line.p, line.len, rc);
        }
    }
    pthread_mutex_unlock(&a->mu);
}

/* ------------------------------------------------------------ flush */

typedef struct emit {
    am_sample_sink sink;
    void *ud;
    double ts;
    am_buf name;
    am_buf labels;
    int stopped;
} emit;

static void put(emit *e, const char *name, const char *suffix, const char *type, const char *labels,
                double v)
{
    if (e->stopped)
        return;
    e->name.len = 0;
    am_buf_puts(&e->name, name);
    am_buf_puts(&e->name, suffix);
    if (am_buf_err(&e->name))
        return;
    am_sample smp = {e->name.p, type, labels, v, e->ts, "statsd"};
    if (e->sink(e->ud, &smp))
        e->stopped = 1;
}

static void emit_histogram(emit *e, const family *f, const series *s)
{
    /* the registry's own bounds and their le text: exact whatever made them */
    size_t nb = am_histogram_n_buckets(s->child);
    const double *bounds = am_histogram_bounds(s->child);
    char le[AM_FMT_MAX];
    uint64_t buckets[AM_MAX_BUCKETS + 1];
    uint64_t count;
    double sum;
    am_histogram_read(s->child, &count, &sum, buckets);
    const char *names[AM_STATSD_MAX_TAGS + 1], *values[AM_STATSD_MAX_TAGS + 1];
    for (size_t i = 0; i < f->n_labels; i++) {
        names[i] = f->label_names[i];
        values[i] = s->values[i];
    }
    names[f->n_labels] = "le";
    for (size_t i = 0; i <= nb; i++) {
        if (i < nb)
            am__fmt_double(le, bounds[i]);
        values[f->n_labels] = i < nb ? le : "+Inf";
        e->labels.len = 0;
        am__labels_canonical(&e->labels, names, values, f->n_labels + 1);
        if (!am_buf_err(&e->labels))
            put(e, f->exposed, "_bucket", "histogram", e->labels.p, (double)buckets[i]);
    }
    put(e, f->exposed, "_sum", "histogram", s->labels, sum);
    put(e, f->exposed, "_count", "histogram", s->labels, (double)count);
}

am_err am__statsd_agg_flush(am_statsd_agg *a, am_sample_sink sink, void *ud)
{
    emit e = {sink, ud, am_unix_time(), {0}, {0}, 0};
    am_buf_init(&e.name, 0);
    am_buf_init(&e.labels, 0);
    pthread_mutex_lock(&a->mu);
    for (size_t i = 0; i < a->n_fam && !e.stopped; i++) {
        family *f = a->fam_list[i];
        for (series *s = f->first; s && !e.stopped; s = s->next) {
            switch (f->kind) {
            case AM_STATSD_COUNTER:
                put(&e, f->exposed, "", "counter", s->labels, am_counter_value(s->child));
                break;
            case AM_STATSD_GAUGE:
                put(&e, f->exposed, "", "gauge", s->labels, am_gauge_value(s->child));
                break;
            case AM_STATSD_SET:
                put(&e, f->exposed, "", "gauge", s->labels, (double)s->set.n);
                if (!e.stopped) {
                    am__map_clear(&s->set);
                    am_gauge_set(s->child, 0);
                }
                break;
            default:
                emit_histogram(&e, f, s);
                break;
            }
        }
    }
    pthread_mutex_unlock(&a->mu);
    am_err rc = am_buf_err(&e.name) ? am_buf_err(&e.name) : am_buf_err(&e.labels);
    am_buf_free(&e.name);
    am_buf_free(&e.labels);
    return rc ? am__err(rc, "statsd: out of memory during flush") : AM_OK;
}

size_t am__statsd_agg_n_families(am_statsd_agg *a)
{
    pthread_mutex_lock(&a->mu);
    size_t n = a->n_fam;
    pthread_mutex_unlock(&a->mu);
    return n;
}

size_t am__statsd_agg_n_series(am_statsd_agg *a)
{
    return atomic_load_explicit(&a->n_series, memory_order_relaxed);
}
