/*
** family.c: family definitions, and the table from label values to children.
**
** DESIGN
** Lookup of an existing child is the second most frequent operation after
** the hot path, so it takes no lock: the table is open addressing over
** atomic child pointers, read inside an EBR section. Writers (creation,
** removal, growth) hold the family mutex; a removed entry becomes a
** tombstone, and a grown table replaces the old one, which is retired with
** EBR like a removed child. Probing stops only at an empty slot, so a
** tombstone never hides a later entry.
**
** The child limit bounds memory: once max_children label sets exist, new
** ones resolve to a single overflow child whose values are all
** "__overflow__", and the caller gets AM_ELIMIT so it can tell.
**
** Children are allocated in one block: the struct, then the label values as
** NUL-terminated strings, then the rendered label text (name="value",...)
** that every exposition copies as is.
*/
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "agentmon/timer.h"
#include "../util/alloc.h"
#include "cells.h"
#include "../util/error.h"
#include "family.h"
#include "fork.h"
#include "../util/fmt.h"
#include "../util/labels_hash.h"
#include "registry.h"
#include "../util/render.h"
#include "../util/validate.h"

struct am_childtab {
    am_retired rt;
    uint32_t cap;  /* power of two */
    uint32_t used; /* live entries + tombstones */
    am_child *_Atomic slot[];
};

static am_child g_tomb; /* marks a removed entry */

static const char OVERFLOW_VALUE[] = AM__OVERFLOW_VALUE;

static bool child_matches(const am_child *c, uint32_t h, const char *const *values, size_t n,
                          const size_t *lens)
{
    if (c->hash != h)
        return false;
    /* A stored value equal to values[i] ends lens[i] bytes on, inside the
       values block; if the block is shorter it cannot be equal. */
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        if (off + lens[i] + 1 > c->values_len || memcmp(c->data + off, values[i], lens[i] + 1))
            return false;
        off += lens[i] + 1;
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* The table                                                           */
/* ------------------------------------------------------------------ */

static am_childtab *tab_new(uint32_t cap)
{
    am_childtab *t = am__calloc(1, sizeof *t + (size_t)cap * sizeof(am_child *));
    if (t)
        t->cap = cap;
    return t;
}

static void tab_free_retired(am_retired *r)
{
    am__free(r); /* rt is the first member */
}

static am_child *tab_find(am_childtab *t, uint32_t h, const char *const *values, size_t n,
                          const size_t *lens, uint32_t *at)
{
    uint32_t mask = t->cap - 1;
    for (uint32_t i = h & mask, probes = 0; probes < t->cap; i = (i + 1) & mask, probes++) {
        am_child *c = atomic_load(&t->slot[i]);
        if (!c)
            return NULL;
        if (c != &g_tomb && child_matches(c, h, values, n, lens)) {
            if (at)
                *at = i;
            return c;
        }
    }
    return NULL;
}

static void tab_put(am_childtab *t, am_child *c)
{
    uint32_t mask = t->cap - 1;
    for (uint32_t i = c->hash & mask;; i = (i + 1) & mask) {
        am_child *e = atomic_load_explicit(&t->slot[i], am_relaxed);
        if (!e || e == &g_tomb) {
            if (!e)
                t->used++;
            atomic_store(&t->slot[i], c);
            return;
        }
    }
}

/* Make room for one more entry; family lock held. */
static am_err tab_reserve(am_family *f)
{
    am_childtab *t = atomic_load_explicit(&f->tab, am_relaxed);
    if ((size_t)(t->used + 1) * 4 <= (size_t)t->cap * 3)
        return AM_OK;
    uint32_t cap = t->cap;
    if ((f->n_children + 1) * 2 > cap)
        cap *= 2; /* else: same size, just sweep the tombstones out */
    am_childtab *nt = tab_new(cap);
    if (!nt)
        return AM_ENOMEM;
    for (uint32_t i = 0; i < t->cap; i++) {
        am_child *c = atomic_load_explicit(&t->slot[i], am_relaxed);
        if (c && c != &g_tomb)
            tab_put(nt, c);
    }
    atomic_store(&f->tab, nt);
    am__ebr_retire(&t->rt, tab_free_retired);
    return AM_OK;
}

/* ------------------------------------------------------------------ */
/* Children                                                            */
/* ------------------------------------------------------------------ */

am_child *am__child_build(am_family *f, const char *const *names, const char *const *strings,
                          size_t n, bool pairs)
{
    size_t vlen = 0;
    for (size_t i = 0; i < n; i++)
        vlen += strlen(strings[i]) + 1;
    const char *const *nm = pairs ? strings : names;
    const char *const *vl = pairs && n ? strings + 1 : strings;
    size_t np = pairs ? n / 2 : n, stride = pairs ? 2 : 1;
    size_t rlen = am__render_pairs(NULL, nm, vl, np, stride);
    am_child *c = am__calloc(1, sizeof *c + vlen + rlen + 1);
    if (!c)
        return NULL;
    c->fam = f;
    c->n_values = (uint32_t)n;
    c->values_len = (uint32_t)vlen;
    c->labels_len = (uint32_t)rlen;
    c->created = am_unix_time();
    char *p = c->data;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(strings[i]) + 1;
        memcpy(p, strings[i], l);
        p += l;
    }
    am__render_pairs(p, nm, vl, np, stride);
    p[rlen] = '\0';
    return c;
}

void am__child_free(am_child *c)
{
    if (!c)
        return;
    am__free(atomic_load_explicit(&c->ex, am_relaxed));
    am__free(c);
}

static void child_free_retired(am_retired *r)
{
    am__child_free((am_child *)r); /* rt is the first member */
}

/* A child with its cells; NULL on ENOMEM. Family lock held (or not yet shared). */
static am_child *child_new(am_family *f, const char *const *values, size_t n, uint32_t hash)
{
    am_child *c = am__child_build(f, (const char *const *)f->label_names, values, n, false);
    if (!c)
        return NULL;
    c->hash = hash;
    if (f->n_cells && am__cells_alloc(f->n_cells, &c->slot) != AM_OK) {
        am__child_free(c);
        return NULL;
    }
    return c;
}

/* Give a child's cells back and free it once no lookup can see it. */
static void child_retire(am_child *c)
{
    if (c->fam->n_cells)
        am__cells_release(c->slot, c->fam->n_cells);
    am__ebr_retire(&c->rt, child_free_retired);
}

static void list_append(am_family *f, am_child *c)
{
    c->prev = f->tail;
    c->next = NULL;
    if (f->tail)
        f->tail->next = c;
    else
        f->head = c;
    f->tail = c;
}

static void list_unlink(am_family *f, am_child *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        f->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        f->tail = c->prev;
}

/* ------------------------------------------------------------------ */
/* Definitions                                                         */
/* ------------------------------------------------------------------ */

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && memcmp(s + n - m, suffix, m) == 0;
}

static char **strv_dup(const char *const *v, size_t n)
{
    char **d = am__calloc(n ? n : 1, sizeof *d);
    if (!d)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        d[i] = am__strdup(v[i]);
        if (!d[i]) {
            while (i--)
                am__free(d[i]);
            am__free(d);
            return NULL;
        }
    }
    return d;
}

static void strv_free(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        am__free(v[i]);
    am__free(v);
}

static am_err check_labels(am_metric_type type, const char *base, const am_metric_opts *o)
{
    if (o->n_labels > AM_MAX_LABELS)
        return am__err(AM_EINVAL, "metric \"%s\": %zu label names, the limit is %d", base,
                       o->n_labels, AM_MAX_LABELS);
    if (o->n_labels && !o->label_names)
        return am__err(AM_EINVAL, "metric \"%s\": label_names is NULL", base);
    if (type == AM_TYPE_INFO && o->n_labels)
        return am__err(AM_EINVAL, "info \"%s\": label names are set with am_info_set()", base);
    for (size_t i = 0; i < o->n_labels; i++) {
        const char *l = o->label_names[i];
        am_err rc = am__check_label_name(l, "label name");
        if (rc)
            return rc;
        if (type == AM_TYPE_HISTOGRAM && strcmp(l, "le") == 0)
            return am__err(AM_EINVAL, "histogram \"%s\": label name \"le\" is reserved", base);
        if (type == AM_TYPE_SUMMARY && strcmp(l, "quantile") == 0)
            return am__err(AM_EINVAL, "summary \"%s\": label name \"quantile\" is reserved", base);
        if (type == AM_TYPE_STATESET && strcmp(l, base) == 0)
            return am__err(AM_EINVAL, "stateset \"%s\": a label may not share its name", base);
        for (size_t j = 0; j < i; j++)
            if (strcmp(l, o->label_names[j]) == 0)
                return am__err(AM_EINVAL, "metric \"%s\": label name \"%s\" appears twice", base,
                               l);
    }
    return AM_OK;
}

static am_err check_buckets(const char *base, const double *b, size_t n, size_t *n_finite)
{
    if (n > 0 && isinf(b[n - 1]) && b[n - 1] > 0)
        n--; /* an explicit +Inf is implicit anyway */
    if (n > AM_MAX_BUCKETS)
        return am__err(AM_EINVAL, "histogram \"%s\": %zu buckets, the limit is %d", base, n,
                       AM_MAX_BUCKETS);
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(b[i]))
            return am__err(AM_EINVAL, "histogram \"%s\": bucket %zu is not finite", base, i);
        if (i && !(b[i] > b[i - 1]))
            return am__err(AM_EINVAL, "histogram \"%s\": buckets must increase (bucket %zu)", base,
                           i);
    }
    *n_finite = n;
    return AM_OK;
}

static am_err check_states(const char *base, const am_metric_opts *o)
{
    if (o->n_states == 0 || o->n_states > AM_MAX_STATES || !o->states)
        return am__err(AM_EINVAL, "stateset \"%s\": needs 1 to %d states", base, AM_MAX_STATES);
    for (size_t i = 0; i < o->n_states; i++) {
        am_err rc = am__check_text(o->states[i], AM_MAX_LABEL_VALUE, "state name");
        if (rc)
            return rc;
        if (!o->states[i][0])
            return am__err(AM_EINVAL, "stateset \"%s\": state %zu is empty", base, i);
        for (size_t j = 0; j < i; j++)
            if (strcmp(o->states[i], o->states[j]) == 0)
                return am__err(AM_EINVAL, "stateset \"%s\": state \"%s\" appears twice", base,
                               o->states[i]);
    }
    return AM_OK;
}

static am_err check_unit(am_metric_type type, const char *base, const char *unit)
{
    if (!unit || !*unit)
        return AM_OK;
    if (type == AM_TYPE_INFO || type == AM_TYPE_STATESET)
        return am__err(AM_EINVAL, "metric \"%s\": this type cannot have a unit", base);
    for (const char *p = unit; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_'))
            return am__err(AM_EINVAL, "unit \"%.32s\" has an invalid character", unit);
    size_t n = strlen(base), m = strlen(unit);
    if (!(n > m + 1 && base[n - m - 1] == '_' && strcmp(base + n - m, unit) == 0))
        return am__err(AM_EINVAL, "metric \"%s\" must end with \"_%s\" to have unit \"%s\"", base,
                       unit, unit);
    return AM_OK;
}

am_err am__family_new(am_metric_type type, const am_metric_opts *o, am_collect_fn collect,
                      void *collect_ud, am_family **out)
{
    if (!o || !out)
        return am__err(AM_EINVAL, "options or out pointer is NULL");
    if (type < AM_TYPE_COUNTER || type > AM_TYPE_SUMMARY)
        return am__err(AM_EINVAL, "unknown metric type %d", (int)type);
    am_err rc = am__check_metric_name(o->name, "metric name");
    if (rc)
        return rc;
    size_t nlen = strlen(o->name);
    if (type == AM_TYPE_COUNTER && ends_with(o->name, "_total"))
        nlen -= 6;
    else if (type == AM_TYPE_INFO && ends_with(o->name, "_info"))
        nlen -= 5;
    char base[AM_MAX_NAME + 1];
    if (strlen(o->name) > AM_MAX_NAME)
        return am__err(AM_EINVAL, "metric name is longer than %d bytes", AM_MAX_NAME);
    memcpy(base, o->name, nlen);
    base[nlen] = '\0';
    if ((rc = am__check_text(o->help ? o->help : "", 65536, "help text")) ||
        (rc = check_unit(type, base, o->unit)) ||
        (o->json_name && (rc = am__check_json_name(o->json_name))) ||
        (rc = check_labels(type, base, o)))
        return rc;
    size_t n_bounds = 0;
    const double *bounds = NULL;
    if (type == AM_TYPE_HISTOGRAM) {
        bounds = o->buckets ? o->buckets : AM_DEFAULT_BUCKETS;
        if ((rc = check_buckets(base, bounds, o->buckets ? o->n_buckets : AM_DEFAULT_BUCKETS_N,
                                &n_bounds)))
            return rc;
    }
    if (type == AM_TYPE_STATESET &&
        ((rc = am__check_label_name(base, "stateset name (also its state label)")) ||
         (rc = check_states(base, o))))
        return rc;

    am_family *f = am__calloc(1, sizeof *f);
    if (!f)
        return AM_ENOMEM;
    f->type = type;
    f->max_children = o->max_children ? o->max_children : AM_DEFAULT_MAX_CHILDREN;
    f->flags = o->flags;
    f->n_labels = o->n_labels;
    f->n_bounds = n_bounds;
    f->n_states = type == AM_TYPE_STATESET ? o->n_states : 0;
    f->collect = collect;
    f->collect_ud = collect_ud;
    f->n_cells = collect                     ? 0
                 : type == AM_TYPE_COUNTER   ? 2
                 : type == AM_TYPE_SUMMARY   ? 2
                 : type == AM_TYPE_HISTOGRAM ? (uint32_t)n_bounds + 2
                                             : 0;
    pthread_mutex_init(&f->lock, NULL);
    f->name = am__strdup(base);
    f->name_len = strlen(base);
    f->help = am__strdup(o->help ? o->help : "");
    f->unit = o->unit && *o->unit ? am__strdup(o->unit) : NULL;
    f->json_name = o->json_name ? am__strdup(o->json_name) : NULL;
    f->label_names = strv_dup(o->label_names, o->n_labels);
    f->states = f->n_states ? strv_dup(o->states, o->n_states) : NULL;
    if (n_bounds) {
        f->bounds = am__calloc(n_bounds, sizeof(double));
        f->le = am__calloc(n_bounds, sizeof *f->le);
        if (f->bounds && f->le) {
            memcpy(f->bounds, bounds, n_bounds * sizeof(double));
            for (size_t i = 0; i < n_bounds; i++)
                am__fmt_double(f->le[i], bounds[i]);
        }
    }
    am_childtab *tab = f->n_labels && !collect ? tab_new(16) : NULL;
    atomic_store_explicit(&f->tab, tab, am_relaxed);
    if (!f->name || !f->help || (o->unit && *o->unit && !f->unit) ||
        (o->json_name && !f->json_name) || !f->label_names || (f->n_states && !f->states) ||
        (n_bounds && (!f->bounds || !f->le)) || (f->n_labels && !collect && !tab))
        goto oom;
    /* The root: the series itself, or the handle of a labelled family, whose
       cells sit in the discard page and are never exposed. */
    am_child *root = am__child_build(f, NULL, NULL, 0, false);
    if (!root)
        goto oom;
    atomic_store_explicit(&f->root, root, am_relaxed);
    if (f->n_cells && !f->n_labels && am__cells_alloc(f->n_cells, &root->slot) != AM_OK)
        goto oom;
    if (type == AM_TYPE_INFO) {
        f->head = f->tail = am__child_build(f, NULL, NULL, 0, true);
        if (!f->head)
            goto oom;
    }
    *out = f;
    return AM_OK;
oom:
    am__family_free(f);
    return am__err(AM_ENOMEM, "out of memory creating metric \"%s\"", base);
}

/* The registry whose series bound f's children count against, or NULL. */
static am_registry *budget_of(const am_family *f)
{
    return f->flags & AM__FAMILY_UNBUDGETED ? NULL : f->reg;
}

void am__family_free(am_family *f)
{
    if (!f)
        return;
    am__registry_give(budget_of(f), f->n_children);
    for (am_child *c = f->head, *n; c; c = n) {
        n = c->next;
        if (f->n_cells)
            am__cells_release(c->slot, f->n_cells);
        am__child_free(c);
    }
    am_child *root = atomic_load_explicit(&f->root, am_relaxed);
    if (root) {
        if (f->n_cells && !f->n_labels && root->slot)
            am__cells_release(root->slot, f->n_cells);
        am__child_free(root);
    }
    am__free(atomic_load_explicit(&f->tab, am_relaxed));
    pthread_mutex_destroy(&f->lock);
    am__free(f->name);
    am__free(f->help);
    am__free(f->unit);
    am__free(f->json_name);
    strv_free(f->label_names, f->n_labels);
    strv_free(f->states, f->n_states);
    am__free(f->bounds);
    am__free(f->le);
    am__free(f);
}

bool am__family_same_labels(const am_family *a, const am_family *b)
{
    if (a->n_labels != b->n_labels)
        return false;
    for (size_t i = 0; i < a->n_labels; i++)
        if (strcmp(a->label_names[i], b->label_names[i]) != 0)
            return false;
    return true;
}

bool am__family_same(const am_family *a, const am_family *b)
{
    return am__family_same_shape(a, b) && am__family_same_labels(a, b);
}

bool am__family_same_shape(const am_family *a, const am_family *b)
{
    if (a->type != b->type || strcmp(a->name, b->name) != 0 || a->n_bounds != b->n_bounds ||
        a->n_states != b->n_states || (a->collect != NULL) != (b->collect != NULL))
        return false;
    if ((a->unit == NULL) != (b->unit == NULL) || (a->unit && strcmp(a->unit, b->unit) != 0))
        return false;
    for (size_t i = 0; i < a->n_bounds; i++)
        if (a->bounds[i] != b->bounds[i])
            return false;
    for (size_t i = 0; i < a->n_states; i++)
        if (strcmp(a->states[i], b->states[i]) != 0)
            return false;
    return true;
}

static const char *const *suffixes_of(am_metric_type t)
{
    static const char *const counter[] = {"_total", "_created", NULL};
    static const char *const histogram[] = {"_bucket", "_count", "_sum", "_created", NULL};
    static const char *const info[] = {"_info", NULL};
    static const char *const summary[] = {"_count", "_sum", "_created", NULL};
    static const char *const none[] = {NULL};
    switch (t) {
    case AM_TYPE_COUNTER:
        return counter;
    case AM_TYPE_HISTOGRAM:
        return histogram;
    case AM_TYPE_INFO:
        return info;
    case AM_TYPE_SUMMARY:
        return summary;
    default:
        return none;
    }
}

bool am__family_occupies(const am_family *f, const char *x)
{
    size_t n = strlen(f->name);
    if (strncmp(x, f->name, n) != 0)
        return false;
    if (x[n] == '\0')
        return true;
    for (const char *const *s = suffixes_of(f->type); *s; s++)
        if (strcmp(x + n, *s) == 0)
            return true;
    return false;
}

void am__family_expo_name(const am_family *f, char *buf, size_t size)
{
    const char *suffix = f->type == AM_TYPE_COUNTER ? "_total"
                         : f->type == AM_TYPE_INFO  ? "_info"
                                                    : "";
    snprintf(buf, size, "%s%s", f->name, suffix);
}

void am__family_json_key(const am_family *f, char *buf, size_t size)
{
    if (f->json_name)
        snprintf(buf, size, "%s", f->json_name);
    else
        am__family_expo_name(f, buf, size);
}

/* ------------------------------------------------------------------ */
/* Children by label values                                            */
/* ------------------------------------------------------------------ */

am_err am__family_of(const void *h, am_metric_type type, am_family **out)
{
    const am_child *c = h;
    if (!c)
        return am__err(AM_EINVAL, "metric handle is NULL");
    am_family *f = c->fam;
    if (f->type != type)
        return am__err(AM_EMISUSE, "metric \"%s\" is not of the type this function expects",
                       f->name);
    if (atomic_load_explicit(&f->root, am_relaxed) != c)
        return am__err(AM_EMISUSE, "handle is a child of \"%s\", not its family", f->name);
    *out = f;
    return AM_OK;
}

am_err am__values_check(const am_family *f, const char *const *values, const size_t *lens, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(values[i], OVERFLOW_VALUE) == 0)
            return am__err(AM_EINVAL,
                           "metric \"%s\": label value \"%s\" is reserved for the "
                           "overflow series",
                           f->name, OVERFLOW_VALUE);
        if (lens[i] > AM_MAX_LABEL_VALUE)
            return am__err(AM_EINVAL, "metric \"%s\": value of label \"%s\" is longer than %d",
                           f->name, f->label_names[i], AM_MAX_LABEL_VALUE);
        if (!am__utf8_valid(values[i], lens[i], NULL))
            return am__err(AM_EINVAL, "metric \"%s\": value of label \"%s\" is not valid UTF-8",
                           f->name, f->label_names[i]);
    }
    return AM_OK;
}

static am_err check_values(am_family *f, const char *const *values, size_t n)
{
    if (n != f->n_labels)
        return am__err(AM_EINVAL, "metric \"%s\" has %zu labels, got %zu values", f->name,
                       f->n_labels, n);
    if (n && !values)
        return am__err(AM_EINVAL, "metric \"%s\": label values are NULL", f->name);
    for (size_t i = 0; i < n; i++)
        if (!values[i])
            return am__err(AM_EINVAL, "metric \"%s\": value of label \"%s\" is NULL", f->name,
                           f->label_names[i]);
    return AM_OK;
}

/* The overflow child of labelled family f, made on first use; NULL when
   out of memory. Called with f->lock held. */
static am_child *overflow_locked(am_family *f)
{
    if (!f->overflow) {
        const char *ov[AM_MAX_LABELS];
        size_t ovlens[AM_MAX_LABELS];
        for (size_t i = 0; i < f->n_labels; i++)
            ov[i] = OVERFLOW_VALUE;
        f->overflow = child_new(f, ov, f->n_labels, am__labels_hash(ov, f->n_labels, ovlens));
        if (f->overflow)
            list_append(f, f->overflow);
    }
    return f->overflow;
}

am_err am__family_overflow(am_family *f, am_child **out)
{
    if (!f->n_labels)
        return am__err(AM_EINVAL, "metric \"%s\" has no labels, so no overflow series", f->name);
    am__lock(&f->lock);
    am_child *c = overflow_locked(f);
    am__unlock(&f->lock);
    if (!c)
        return am__err(AM_ENOMEM, "out of memory");
    am__registry_count_overflow(f->reg, f);
    *out = c;
    return AM_OK;
}

am_err am__family_with(am_family *f, const char *const *values, size_t n, am_child **out)
{
    am_err rc = check_values(f, values, n);
    if (rc)
        return rc;
    if (n == 0) {
        *out = atomic_load_explicit(&f->root, am_relaxed);
        return AM_OK;
    }
    size_t lens[AM_MAX_LABELS];
    uint32_t h = am__labels_hash(values, n, lens);

    am_tblock *t = am__ebr_enter();
    if (!t)
        return am__err(AM_ENOMEM, "out of memory");
    am_child *c = tab_find(atomic_load(&f->tab), h, values, n, lens, NULL);
    am__ebr_exit(t);
    if (c) {
        *out = c;
        return AM_OK;
    }

    if ((rc = am__values_check(f, values, lens, n)))
        return rc;

    am__lock(&f->lock);
    c = tab_find(atomic_load_explicit(&f->tab, am_relaxed), h, values, n, lens, NULL);
    if (c)
        goto found;
    bool at_family_limit = f->n_children >= f->max_children;
    am_registry *budget = budget_of(f);
    if (at_family_limit || !am__registry_take(budget)) {
        if (!(*out = overflow_locked(f))) {
            am__unlock(&f->lock);
            return am__err(AM_ENOMEM, "out of memory");
        }
        am__unlock(&f->lock);
        am__registry_count_overflow(f->reg, f);
        if (at_family_limit)
            return am__err(AM_ELIMIT, "metric \"%s\" reached its limit of %zu children", f->name,
                           f->max_children);
        return am__err(AM_ELIMIT, "metric \"%s\": the registry reached its limit of %zu series",
                       f->name, atomic_load_explicit(&f->reg->max_series, am_relaxed));
    }
    if ((rc = tab_reserve(f)) != AM_OK) {
        am__registry_give(budget, 1);
        goto fail;
    }
    c = child_new(f, values, n, h);
    if (!c) {
        am__registry_give(budget, 1);
        rc = AM_ENOMEM;
        goto fail;
    }
    tab_put(atomic_load_explicit(&f->tab, am_relaxed), c);
    list_append(f, c);
    f->n_children++;
found:
    am__unlock(&f->lock);
    *out = c;
    return AM_OK;
fail:
    am__unlock(&f->lock);
    return am__err(rc, "out of memory creating a child of \"%s\"", f->name);
}

am_err am__family_remove(am_family *f, const char *const *values, size_t n)
{
    am_err rc = check_values(f, values, n);
    if (rc)
        return rc;
    if (n == 0)
        return am__err(AM_EINVAL, "metric \"%s\" has no labels; unregister it instead", f->name);
    size_t lens[AM_MAX_LABELS];
    uint32_t h = am__labels_hash(values, n, lens), at;
    am__lock(&f->lock);
    am_childtab *t = atomic_load_explicit(&f->tab, am_relaxed);
    am_child *c = tab_find(t, h, values, n, lens, &at);
    if (!c) {
        am__unlock(&f->lock);
        return am__err(AM_ENOTFOUND, "metric \"%s\" has no child with these values", f->name);
    }
    atomic_store(&t->slot[at], &g_tomb);
    list_unlink(f, c);
    f->n_children--;
    am__registry_give(budget_of(f), 1);
    child_retire(c);
    am__unlock(&f->lock);
    return AM_OK;
}

void am__family_clear(am_family *f)
{
    if (!f->n_labels)
        return;
    am_childtab *nt = tab_new(16);
    am__lock(&f->lock);
    am_childtab *t = atomic_load_explicit(&f->tab, am_relaxed);
    if (nt) {
        atomic_store(&f->tab, nt);
        am__ebr_retire(&t->rt, tab_free_retired);
    } else {
        /* No memory for a fresh table: empty this one in place. */
        for (uint32_t i = 0; i < t->cap; i++)
            if (atomic_load_explicit(&t->slot[i], am_relaxed))
                atomic_store(&t->slot[i], &g_tomb);
    }
    am_child *c = f->head;
    f->head = f->tail = NULL;
    f->overflow = NULL;
    am__registry_give(budget_of(f), f->n_children);
    f->n_children = 0;
    while (c) {
        am_child *n = c->next;
        child_retire(c);
        c = n;
    }
    am__unlock(&f->lock);
}
