/*
** series.c: families, series and recording in the shared-memory segment.
**
** DEFINITIONS. A family is validated as any family is (am__family_new builds
** a local one from the options: names, labels, unit, buckets), then looked
** up by name under the segment's mutex: the same definition gives the same
** family, another one AM_EEXIST, a new name is written into the arena and
** published (its ready flag last). Each process keeps a local am_family per
** segment family, built from the segment's definition, for bucket bounds and
** for the encoders.
**
** SERIES. (family, label values) hash into an open-addressing index of
** series + 1, read without a lock: entries are only ever added, after the
** series record they point to is complete. A miss takes the mutex, looks
** again and adds the series: its values and rendered labels go into the
** arena, its cells are the next run of every row (zero in all of them), it
** is linked at the tail of its family's list (creation order, for the
** encoders), and then indexed. A handle (this process's view of a series)
** is made once per series and kept in a local table, so looking a series up
** twice returns the same handle.
**
** RECORDING. A handle knows its cell; the process's row is one load away
** (claimed on the first write). Counts are fetch_add, doubles a
** compare-and-swap loop -- threads of one process share its row. A gauge
** is two cells: its value and a stamp (1 once set; the time in ns for the
** MOSTRECENT modes), which tells a value never set from a 0.
**
** Label sets past a family's max_children, or past the segment's series,
** cells or arena, resolve to the family's overflow series, as in an
** ordinary registry (AM_ELIMIT).
**
** WHY NOT am__map. The series index is not agentmon's one hash map, and
** must not be: it lives in the mapped file, so its layout (index_slots
** uint32 entries of series + 1 at off_index, sized when the segment is
** made, never grown) is part of the file format every process that maps
** the segment shares; it is read by other processes without a lock, with
** atomic loads; and it holds offsets, never pointers, which differ from
** one process's mapping to another's. am__map is a process's own table of
** pointers, grown by reallocation and guarded by its owner's lock.
*/
#include <math.h>
#include <string.h>

#include "agentmon/timer.h"
#include "../util/alloc.h"
#include "../core/bucket.h"
#include "../util/error.h"
#include "../util/render.h"
#include "../util/validate.h"
#include "shm.h"

#define NO_SERIES UINT32_MAX

/* ------------------------------------------------------------------ */
/* The arena                                                           */
/* ------------------------------------------------------------------ */

/* Copy n bytes (+ a NUL) into the arena; 0 when it is full. Mutex held. */
static uint32_t arena_put(am_shm *s, const void *p, size_t n, size_t align)
{
    shm_hdr *h = s->h;
    uint64_t at = atomic_load_explicit(&h->arena_used, am_relaxed);
    at = (at + align - 1) & ~(uint64_t)(align - 1);
    if (at + n + 1 > h->arena_bytes || at > UINT32_MAX)
        return 0;
    char *dst = (char *)s->base + h->off_arena + at;
    memcpy(dst, p, n);
    dst[n] = '\0';
    atomic_store_explicit(&h->arena_used, at + n + 1, am_release);
    return (uint32_t)at;
}

static uint32_t arena_str(am_shm *s, const char *str)
{
    return str ? arena_put(s, str, strlen(str), 1) : 0;
}

/* n NUL-terminated strings, one after another. */
static uint32_t arena_strs(am_shm *s, const char *const *v, size_t n, uint32_t *len)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += strlen(v[i]) + 1;
    char stack[4096], *buf = total <= sizeof stack ? stack : am__malloc(total);
    if (!buf)
        return 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(v[i]) + 1;
        memcpy(buf + o, v[i], l);
        o += l;
    }
    uint32_t off = total ? arena_put(s, buf, total - 1, 1) : arena_put(s, "", 0, 1);
    if (buf != stack)
        am__free(buf);
    *len = (uint32_t)total;
    return off;
}

static const double *arena_doubles(const am_shm *s, uint32_t off, uint32_t n)
{
    if (!off || off % 8 || off + (uint64_t)n * 8 > s->h->arena_bytes)
        return NULL;
    return (const double *)(s->base + s->h->off_arena + off);
}

/* ------------------------------------------------------------------ */
/* Local definitions                                                   */
/* ------------------------------------------------------------------ */

static bool is_all_mode(const shm_fam *f)
{
    return f->type == AM_TYPE_GAUGE &&
           (f->mode == AM_SHM_GAUGE_ALL || f->mode == AM_SHM_GAUGE_LIVEALL);
}

/* The family's label names (NUL-separated in the arena) into v. */
static void label_names(const am_shm *s, const shm_fam *f, const char **v)
{
    const char *p = am__shm_str(s, f->labels_off);
    uint64_t used = atomic_load_explicit(&s->h->arena_used, am_acquire);
    const char *start = (const char *)s->base + s->h->off_arena;
    const char *end = start + (used < s->h->arena_bytes ? used : s->h->arena_bytes);
    for (uint32_t i = 0; i < f->n_labels && i < AM_MAX_LABELS; i++) {
        /* Each name must end inside the arena (a damaged file: "", which
           am__family_new then refuses). */
        if (p < start || p >= end || !memchr(p, '\0', (size_t)(end - p))) {
            v[i] = "";
            p = end;
            continue;
        }
        v[i] = p;
        p += strlen(p) + 1;
    }
}

const am_family *am__shm_local_family(am_shm *s, uint32_t i)
{
    pthread_mutex_lock(&s->local);
    am_family *lf = s->fams[i];
    const shm_fam *f = &am__shm_fams(s)[i];
    if (!lf && f->n_labels <= AM_MAX_LABELS && f->n_bounds <= AM_MAX_BUCKETS) {
        const char *names[AM_MAX_LABELS + 1];
        label_names(s, f, names);
        size_t n = f->n_labels;
        if (is_all_mode(f))
            names[n++] = "pid"; /* one series per process */
        am_metric_opts o = AM_METRIC_OPTS_INIT;
        o.name = am__shm_str(s, f->name_off);
        o.help = am__shm_str(s, f->help_off);
        o.unit = f->unit_off ? am__shm_str(s, f->unit_off) : NULL;
        o.json_name = f->json_off ? am__shm_str(s, f->json_off) : NULL;
        o.label_names = names;
        o.n_labels = n;
        o.buckets = arena_doubles(s, f->bounds_off, f->n_bounds);
        o.n_buckets = o.buckets ? f->n_bounds : 0;
        if (am__family_new((am_metric_type)f->type, &o, NULL, NULL, &lf) == AM_OK)
            s->fams[i] = lf;
        else
            lf = NULL;
    }
    pthread_mutex_unlock(&s->local);
    return lf;
}

/* Whether segment family f is defined as lf (with mode). */
static bool same_definition(const am_shm *s, const shm_fam *f, const am_family *lf, int mode)
{
    if (f->type != (uint8_t)lf->type || f->n_labels != lf->n_labels ||
        f->n_bounds != lf->n_bounds || f->mode != (uint8_t)mode)
        return false;
    const char *unit = f->unit_off ? am__shm_str(s, f->unit_off) : NULL;
    if ((unit == NULL) != (lf->unit == NULL) || (unit && strcmp(unit, lf->unit) != 0))
        return false;
    const char *names[AM_MAX_LABELS];
    label_names(s, f, names);
    for (size_t i = 0; i < lf->n_labels; i++)
        if (strcmp(names[i], lf->label_names[i]) != 0)
            return false;
    const double *b = arena_doubles(s, f->bounds_off, f->n_bounds);
    for (size_t i = 0; i < lf->n_bounds; i++)
        if (!b || b[i] != lf->bounds[i])
            return false;
    return true;
}

/* ------------------------------------------------------------------ */
/* Handles                                                             */
/* ------------------------------------------------------------------ */

static am__shm_h *handle_of(am_shm *s, uint32_t series)
{
    am__shm_h *hd = __atomic_load_n(&s->handles[series], __ATOMIC_ACQUIRE);
    if (hd)
        return hd;
    const shm_series *sr = &am__shm_series(s)[series];
    if (sr->fam >= s->h->max_families)
        return NULL; /* a damaged segment */
    const shm_fam *f = &am__shm_fams(s)[sr->fam];
    const am_family *lf = am__shm_local_family(s, sr->fam); /* takes s->local */
    if (!lf)
        return NULL;
    pthread_mutex_lock(&s->local);
    hd = s->handles[series];
    if (!hd && (hd = am__calloc(1, sizeof *hd))) {
        hd->s = s;
        hd->series = series;
        hd->fam = sr->fam;
        hd->cell = sr->cell;
        hd->type = f->type;
        hd->mode = f->mode;
        hd->lf = lf;
        __atomic_store_n(&s->handles[series], hd, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&s->local);
    return hd;
}

/* The handle am_shm_*_new() returns: the series of a family without labels,
   or the family's root (recording goes to the discard cells). */
static am__shm_h *family_handle(am_shm *s, uint32_t fi)
{
    const shm_fam *f = &am__shm_fams(s)[fi];
    uint32_t root = atomic_load_explicit(&f->root, am_acquire);
    if (root && root - 1 < s->h->max_series)
        return handle_of(s, root - 1);
    const am_family *lf = am__shm_local_family(s, fi);
    if (!lf)
        return NULL;
    pthread_mutex_lock(&s->local);
    am__shm_h *hd = s->fam_roots[fi];
    if (!hd && (hd = am__calloc(1, sizeof *hd))) {
        hd->s = s;
        hd->series = NO_SERIES;
        hd->fam = fi;
        hd->cell = 0;
        hd->type = f->type;
        hd->mode = f->mode;
        hd->lf = lf;
        s->fam_roots[fi] = hd;
    }
    pthread_mutex_unlock(&s->local);
    return hd;
}

/* ------------------------------------------------------------------ */
/* Series                                                              */
/* ------------------------------------------------------------------ */

static uint32_t key_hash(uint32_t fam, const char *const *values, size_t n, size_t *lens)
{
    return am__labels_hash(values, n, lens) ^ (fam * 0x9E3779B9u);
}

static bool series_is(const am_shm *s, const shm_series *sr, uint32_t fam, uint32_t hash,
                      const char *const *values, size_t n, const size_t *lens)
{
    if (sr->fam != fam || sr->hash != hash || sr->n_values != n)
        return false;
    const char *p = am__shm_str(s, sr->values_off);
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        if (off + lens[i] + 1 > sr->values_len || memcmp(p + off, values[i], lens[i] + 1) != 0)
            return false;
        off += lens[i] + 1;
    }
    return true;
}

/* The series of (fam, values), or NO_SERIES; lock-free. */
static uint32_t find(const am_shm *s, uint32_t fam, uint32_t hash, const char *const *values,
                     size_t n, const size_t *lens, uint64_t *free_at)
{
    const shm_hdr *h = s->h;
    _Atomic uint32_t *idx = am__shm_index(s);
    const shm_series *sv = am__shm_series(s);
    uint64_t mask = h->index_slots - 1;
    for (uint64_t i = hash & mask, probes = 0; probes <= mask; i = (i + 1) & mask, probes++) {
        uint32_t e = atomic_load_explicit(&idx[i], am_acquire);
        if (e == 0) {
            if (free_at)
                *free_at = i;
            return NO_SERIES;
        }
        if (e - 1 < h->max_series && series_is(s, &sv[e - 1], fam, hash, values, n, lens))
            return e - 1;
    }
    return NO_SERIES;
}

/* Make a series of family fi; mutex held. NO_SERIES when the segment is
   out of series, cells or arena. */
static uint32_t make_series(am_shm *s, uint32_t fi, uint32_t hash, const char *const *values,
                            size_t n, const am_family *lf)
{
    shm_hdr *h = s->h;
    shm_fam *f = &am__shm_fams(s)[fi];
    uint32_t i = atomic_load_explicit(&h->n_series, am_relaxed);
    uint64_t cell = atomic_load_explicit(&h->cells_used, am_relaxed);
    if (i >= h->max_series || cell + f->n_cells > h->max_cells)
        return NO_SERIES;
    uint32_t vlen = 0, voff = arena_strs(s, values, n, &vlen);
    size_t llen = am__render_pairs(NULL, (const char *const *)lf->label_names, values, n, 1);
    char stack[4096], *lbuf = llen + 1 <= sizeof stack ? stack : am__malloc(llen + 1);
    if (!voff || !lbuf)
        return NO_SERIES;
    am__render_pairs(lbuf, (const char *const *)lf->label_names, values, n, 1);
    uint32_t loff = arena_put(s, lbuf, llen, 1);
    if (lbuf != stack)
        am__free(lbuf);
    if (!loff)
        return NO_SERIES;
    shm_series *sr = &am__shm_series(s)[i];
    sr->fam = fi;
    sr->cell = (uint32_t)cell;
    sr->hash = hash;
    sr->values_off = voff;
    sr->values_len = vlen;
    sr->n_values = (uint32_t)n;
    sr->labels_off = loff;
    sr->labels_len = (uint32_t)llen;
    sr->created = am_unix_time();
    atomic_store_explicit(&sr->next, 0, am_relaxed);
    atomic_store_explicit(&sr->ex, 0, am_relaxed);
    atomic_store_explicit(&h->cells_used, cell + f->n_cells, am_release);
    atomic_store_explicit(&sr->ready, 1, am_release);
    /* Link at the tail (creation order), then count it. */
    uint32_t tail = atomic_load_explicit(&f->tail, am_relaxed);
    if (tail)
        atomic_store_explicit(&am__shm_series(s)[tail - 1].next, i + 1, am_release);
    else
        atomic_store_explicit(&f->head, i + 1, am_release);
    atomic_store_explicit(&f->tail, i + 1, am_release);
    atomic_store_explicit(&h->n_series, i + 1, am_release);
    return i;
}

static am_err resolve(am__shm_h *root, am_metric_type type, const char *const *values, size_t n,
                      am__shm_h **out)
{
    if (!root || root->type != (uint8_t)type || root->series != NO_SERIES)
        return am__err(AM_EMISUSE, "not the handle of a labelled shared-memory family");
    am_shm *s = root->s;
    const am_family *lf = root->lf;
    const shm_fam *f = &am__shm_fams(s)[root->fam];
    if (!lf)
        return am__err(AM_ENOMEM, "out of memory");
    if (n != f->n_labels || (n && !values))
        return am__err(AM_EINVAL, "metric \"%s\" has %u labels, got %zu values", lf->name,
                       f->n_labels, n);
    size_t lens[AM_MAX_LABELS];
    for (size_t i = 0; i < n; i++)
        if (!values[i])
            return am__err(AM_EINVAL, "metric \"%s\": a label value is NULL", lf->name);
    uint32_t hash = key_hash(root->fam, values, n, lens);
    uint32_t i = find(s, root->fam, hash, values, n, lens, NULL);
    if (i != NO_SERIES) {
        *out = handle_of(s, i);
        return *out ? AM_OK : am__err(AM_ENOMEM, "out of memory");
    }
    am_err rc = am__values_check(lf, values, lens, n);
    if (rc)
        return rc;
    pthread_mutex_lock(&s->local); /* lock order: local, then the segment's */
    am__shm_lock(s);
    uint64_t slot;
    i = find(s, root->fam, hash, values, n, lens, &slot);
    bool limited = false;
    if (i == NO_SERIES) {
        shm_fam *fw = &am__shm_fams(s)[root->fam];
        if (atomic_load_explicit(&fw->n_children, am_relaxed) < fw->max_children)
            i = make_series(s, root->fam, hash, values, n, lf);
        if (i != NO_SERIES) {
            atomic_store_explicit(&am__shm_index(s)[slot], i + 1, am_release);
            atomic_fetch_add_explicit(&fw->n_children, 1, am_relaxed);
        } else {
            limited = true;
            uint32_t ov = atomic_load_explicit(&fw->overflow, am_relaxed);
            if (!ov) {
                const char *ovv[AM_MAX_LABELS];
                size_t ovl[AM_MAX_LABELS];
                for (size_t k = 0; k < n; k++)
                    ovv[k] = AM__OVERFLOW_VALUE;
                uint32_t oi =
                    make_series(s, root->fam, key_hash(root->fam, ovv, n, ovl), ovv, n, lf);
                if (oi != NO_SERIES)
                    atomic_store_explicit(&fw->overflow, ov = oi + 1, am_release);
            }
            i = ov && ov - 1 < s->h->max_series ? ov - 1 : NO_SERIES;
        }
    }
    am__shm_unlock(s);
    pthread_mutex_unlock(&s->local);
    if (i == NO_SERIES)
        return am__err(AM_ELIMIT, "shared-memory segment is full: no series for \"%s\"", lf->name);
    *out = handle_of(s, i);
    if (!*out)
        return am__err(AM_ENOMEM, "out of memory");
    return limited ? am__err(AM_ELIMIT, "metric \"%s\" reached its limit of %u children", lf->name,
                             f->max_children)
                   : AM_OK;
}

/* ------------------------------------------------------------------ */
/* Families                                                            */
/* ------------------------------------------------------------------ */

static am_err family_new(am_shm *s, am_metric_type type, const am_metric_opts *o, int mode,
                         am__shm_h **out)
{
    if (!s || !o || !out)
        return am__err(AM_EINVAL, "segment, options or out pointer is NULL");
    am_family *lf;
    am_err rc = am__family_new(type, o, NULL, NULL, &lf);
    if (rc)
        return rc;
    if (type == AM_TYPE_GAUGE && (mode == AM_SHM_GAUGE_ALL || mode == AM_SHM_GAUGE_LIVEALL))
        for (size_t i = 0; i < lf->n_labels; i++)
            if (strcmp(lf->label_names[i], "pid") == 0) {
                am__family_free(lf);
                return am__err(AM_EINVAL,
                               "gauge \"%s\": label \"pid\" is the process's in "
                               "ALL and LIVEALL modes",
                               o->name);
            }
    pthread_mutex_lock(&s->local);
    am__shm_lock(s);
    shm_hdr *h = s->h;
    shm_fam *fv = am__shm_fams(s);
    uint32_t nf = atomic_load_explicit(&h->n_families, am_acquire), fi = NO_SERIES;
    for (uint32_t i = 0; i < nf; i++) {
        if (!atomic_load_explicit(&fv[i].ready, am_acquire))
            continue;
        /* A name taken by another family's samples (x_total of a counter x,
           x_bucket of a histogram x, ...) is taken, as in a registry. */
        am_family other = {.name = (char *)am__shm_str(s, fv[i].name_off),
                           .type = (am_metric_type)fv[i].type};
        bool same_name = strcmp(other.name, lf->name) == 0;
        if (!same_name && !am__family_occupies(&other, lf->name) &&
            !am__family_occupies(lf, other.name))
            continue;
        if (!same_name || !same_definition(s, &fv[i], lf, mode))
            rc =
                am__err(AM_EEXIST, "metric \"%s\" is defined differently in the segment", lf->name);
        fi = i;
        break;
    }
    if (fi == NO_SERIES && nf >= h->max_families)
        rc = am__err(AM_ELIMIT, "the segment holds its maximum of %u families", h->max_families);
    if (fi == NO_SERIES && !rc) {
        shm_fam *f = &fv[nf];
        memset(f, 0, sizeof *f);
        f->type = (uint8_t)type;
        f->mode = (uint8_t)mode;
        f->n_labels = (uint32_t)lf->n_labels;
        f->n_bounds = (uint32_t)lf->n_bounds;
        f->n_cells = type == AM_TYPE_HISTOGRAM ? (uint32_t)lf->n_bounds + 2 : 2;
        f->max_children = (uint32_t)lf->max_children;
        f->flags = lf->flags;
        uint32_t ln = 0;
        f->name_off = arena_str(s, lf->name);
        f->help_off = arena_str(s, lf->help);
        f->unit_off = lf->unit ? arena_str(s, lf->unit) : 0;
        f->json_off = lf->json_name ? arena_str(s, lf->json_name) : 0;
        f->labels_off = arena_strs(s, (const char *const *)lf->label_names, lf->n_labels, &ln);
        f->bounds_off = lf->n_bounds ? arena_put(s, lf->bounds, lf->n_bounds * 8, 8) : 0;
        if (!f->name_off || !f->help_off || (lf->unit && !f->unit_off) ||
            (lf->json_name && !f->json_off) || !f->labels_off || (lf->n_bounds && !f->bounds_off)) {
            rc = am__err(AM_ELIMIT, "the segment's string space is full");
        } else {
            uint32_t root = NO_SERIES;
            if (!lf->n_labels &&
                (root = make_series(s, nf, key_hash(nf, NULL, 0, NULL), NULL, 0, lf)) == NO_SERIES)
                rc = am__err(AM_ELIMIT, "the segment has no series left for \"%s\"", lf->name);
            if (!rc) {
                atomic_store_explicit(&f->root, root == NO_SERIES ? 0 : root + 1, am_release);
                atomic_store_explicit(&f->ready, 1, am_release);
                atomic_store_explicit(&h->n_families, nf + 1, am_release);
                fi = nf;
            }
        }
    }
    am__shm_unlock(s);
    pthread_mutex_unlock(&s->local);
    am__family_free(lf);
    if (rc)
        return rc;
    *out = family_handle(s, fi);
    return *out ? AM_OK : am__err(AM_ENOMEM, "out of memory");
}

#define H(x) ((am__shm_h *)(x))

am_err am_shm_counter_new(am_shm *s, const am_metric_opts *o, am_shm_counter **out)
{
    return family_new(s, AM_TYPE_COUNTER, o, 0, (am__shm_h **)out);
}

am_err am_shm_gauge_new(am_shm *s, const am_metric_opts *o, am_shm_gauge_mode mode,
                        am_shm_gauge **out)
{
    if ((unsigned)mode > AM_SHM_GAUGE_LIVEMOSTRECENT)
        return am__err(AM_EINVAL, "unknown gauge mode %d", (int)mode);
    return family_new(s, AM_TYPE_GAUGE, o, (int)mode, (am__shm_h **)out);
}

am_err am_shm_histogram_new(am_shm *s, const am_metric_opts *o, am_shm_histogram **out)
{
    return family_new(s, AM_TYPE_HISTOGRAM, o, 0, (am__shm_h **)out);
}

am_err am_shm_summary_new(am_shm *s, const am_metric_opts *o, am_shm_summary **out)
{
    return family_new(s, AM_TYPE_SUMMARY, o, 0, (am__shm_h **)out);
}

am_err am_shm_counter_with(am_shm_counter *c, const char *const *v, size_t n, am_shm_counter **out)
{
    return resolve(H(c), AM_TYPE_COUNTER, v, n, (am__shm_h **)out);
}

am_err am_shm_gauge_with(am_shm_gauge *g, const char *const *v, size_t n, am_shm_gauge **out)
{
    return resolve(H(g), AM_TYPE_GAUGE, v, n, (am__shm_h **)out);
}

am_err am_shm_histogram_with(am_shm_histogram *h, const char *const *v, size_t n,
                             am_shm_histogram **out)
{
    return resolve(H(h), AM_TYPE_HISTOGRAM, v, n, (am__shm_h **)out);
}

am_err am_shm_summary_with(am_shm_summary *s, const char *const *v, size_t n, am_shm_summary **out)
{
    return resolve(H(s), AM_TYPE_SUMMARY, v, n, (am__shm_h **)out);
}

/* ------------------------------------------------------------------ */
/* Recording                                                           */
/* ------------------------------------------------------------------ */

static inline am_acell *my_cells(am__shm_h *h)
{
    am_acell *row = atomic_load_explicit(&h->s->row, am_relaxed);
    if (AM_UNLIKELY(!row))
        row = am__shm_claim(h->s);
    return row + h->cell;
}

void am_shm_counter_inc(am_shm_counter *c)
{
    am_cell_add_shared_u(my_cells(H(c)), 1);
}

static am_err counter_add(am__shm_h *h, double v)
{
    if (!(v >= 0.0) || isinf(v))
        return am__err(AM_EINVAL, "counter: cannot add %g (must be finite and >= 0)", v);
    am_acell *c = my_cells(h);
    if (v < 9007199254740992.0 && v == (double)(uint64_t)v)
        am_cell_add_shared_u(c, (uint64_t)v);
    else
        am_cell_add_shared_d(c + 1, v);
    return AM_OK;
}

am_err am_shm_counter_add(am_shm_counter *c, double v)
{
    return counter_add(H(c), v);
}

/* Record a rendered exemplar in record idx of the series' block. */
static am_err ex_store(am__shm_h *h, uint32_t n_recs, uint32_t idx, const char *text, size_t len,
                       double value);

am_err am_shm_counter_add_exemplar(am_shm_counter *c, double v, const am_labels *ex)
{
    am_err rc = counter_add(H(c), v);
    if (rc)
        return rc;
    char text[AM_EXEMPLAR_TEXT + 1];
    size_t len;
    if ((rc = am__exemplar_render(ex, text, &len)))
        return rc;
    return ex_store(H(c), 1, 0, text, len, v);
}

void am_shm_gauge_set(am_shm_gauge *g, double v)
{
    am__shm_h *h = H(g);
    am_acell *c = my_cells(h);
    bool recent = h->mode == AM_SHM_GAUGE_MOSTRECENT || h->mode == AM_SHM_GAUGE_LIVEMOSTRECENT;
    atomic_store_explicit(&c[0], am_double_to_bits(v), am_relaxed);
    atomic_store_explicit(&c[1], recent ? am_now_ns() | 1u : 1u, am_release);
}

void am_shm_gauge_add(am_shm_gauge *g, double v)
{
    am__shm_h *h = H(g);
    am_acell *c = my_cells(h);
    bool recent = h->mode == AM_SHM_GAUGE_MOSTRECENT || h->mode == AM_SHM_GAUGE_LIVEMOSTRECENT;
    am_cell_add_shared_d(&c[0], v);
    atomic_store_explicit(&c[1], recent ? am_now_ns() | 1u : 1u, am_release);
}

static inline size_t observe(am__shm_h *h, double v)
{
    am_acell *c = my_cells(h);
    size_t nb = h->lf ? h->lf->n_bounds : 0;
    size_t i = h->lf ? am__bucket_of(h->lf->bounds, nb, v) : 0;
    am_cell_add_shared_u(&c[i], 1);
    am_cell_add_shared_d(&c[nb + 1], v);
    return i;
}

void am_shm_histogram_observe(am_shm_histogram *h, double v)
{
    observe(H(h), v);
}

am_err am_shm_histogram_observe_exemplar(am_shm_histogram *hh, double v, const am_labels *ex)
{
    am__shm_h *h = H(hh);
    size_t i = observe(h, v);
    char text[AM_EXEMPLAR_TEXT + 1];
    size_t len;
    am_err rc = am__exemplar_render(ex, text, &len);
    if (rc)
        return rc;
    return ex_store(h, (uint32_t)(h->lf ? h->lf->n_bounds : 0) + 1, (uint32_t)i, text, len, v);
}

void am_shm_summary_observe(am_shm_summary *s, double v)
{
    am_acell *c = my_cells(H(s));
    am_cell_add_shared_u(&c[0], 1);
    am_cell_add_shared_d(&c[1], v);
}

size_t am_shm_histogram_n_buckets(am_shm_histogram *h)
{
    return H(h)->lf ? H(h)->lf->n_bounds : 0;
}

const double *am_shm_histogram_bounds(am_shm_histogram *h)
{
    return H(h)->lf ? H(h)->lf->bounds : NULL;
}

/* ------------------------------------------------------------------ */
/* Exemplars                                                           */
/* ------------------------------------------------------------------ */

#define LEASE_NS 1000000000ull /* a writer holding a record longer died */

static shm_ex *ex_block(am__shm_h *h, uint32_t n_recs)
{
    am_shm *s = h->s;
    if (h->series == NO_SERIES)
        return NULL;
    shm_series *sr = &am__shm_series(s)[h->series];
    uint32_t e = atomic_load_explicit(&sr->ex, am_acquire);
    if (!e) {
        am__shm_lock(s);
        e = atomic_load_explicit(&sr->ex, am_relaxed);
        uint32_t used = atomic_load_explicit(&s->h->n_exemplars, am_relaxed);
        if (!e && used + n_recs <= s->h->max_exemplars) {
            atomic_store_explicit(&s->h->n_exemplars, used + n_recs, am_relaxed);
            atomic_store_explicit(&sr->ex, e = used + 1, am_release);
        }
        am__shm_unlock(s);
    }
    return e && (uint64_t)e - 1 + n_recs <= s->h->max_exemplars ? am__shm_ex(s) + (e - 1) : NULL;
}

static am_err ex_store(am__shm_h *h, uint32_t n_recs, uint32_t idx, const char *text, size_t len,
                       double value)
{
    shm_ex *blk = ex_block(h, n_recs);
    if (!blk)
        return h->series == NO_SERIES ? AM_OK : am__err(AM_ELIMIT, "no exemplar space left");
    shm_ex *r = &blk[idx];
    uint32_t seq = atomic_load_explicit(&r->seq, am_relaxed);
    uint64_t now = am_now_ns();
    if (seq & 1) { /* busy: steal it only from a writer that died */
        if (now - atomic_load_explicit(&r->lease_ns, am_relaxed) < LEASE_NS)
            return AM_OK;
        if (!atomic_compare_exchange_strong(&r->seq, &seq, seq + 2))
            return AM_OK;
        seq += 2;
    } else if (!atomic_compare_exchange_strong(&r->seq, &seq, seq + 1)) {
        return AM_OK; /* another writer: theirs wins this time */
    } else {
        seq += 1;
    }
    atomic_store_explicit(&r->lease_ns, now, am_relaxed);
    uint64_t w[AM__SHM_EX_WORDS] = {0};
    memcpy(w, text, len);
    for (size_t k = 0; k < (len + 7) / 8; k++)
        atomic_store_explicit(&r->w[k], w[k], am_relaxed);
    atomic_store_explicit(&r->len, (uint32_t)len, am_relaxed);
    atomic_store_explicit(&r->value, value, am_relaxed);
    atomic_store_explicit(&r->ts, am_unix_time(), am_relaxed);
    atomic_store_explicit(&r->seq, seq + 1, am_release);
    return AM_OK;
}
