/*
** encode.c: reading the segment -- merged values of a series, and the
** exposition of every family, merged with this process's registries.
**
** A read takes a snapshot of the values it needs under the fold seqlock
** (am__shm_read_stable: retried when a fold moved values meanwhile): the
** rows to sum are the current accumulator, the spill row and the row of
** every claimed slot, live or dead -- a dead process's counts are kept
** until they are folded into the accumulator, so a worker killed with
** SIGKILL loses nothing. Gauges combine by mode: ALL/LIVEALL become one
** series per process (a "pid" label), SUM adds, MAX/MIN compare and
** MOSTRECENT takes the latest stamp; the LIVE modes skip dead slots (and
** the accumulator, which only holds dead processes' values).
**
** The exposition is the registry encoders' own (src/encode): the segment
** is a source of families for am__encode_with(), each family described by
** its local am_family and each series by an am_series built from the
** snapshot, so the text is byte for byte what an ordinary registry with
** the same values would produce.
*/
#define _GNU_SOURCE /* qsort_r */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/alloc.h"
#include "../core/bucket.h"
#include "../util/buf.h"
#include "../util/error.h"
#include "../util/render.h"
#include "../encode/encoder.h"
#include "shm.h"

typedef struct rowset {
    am_acell *acc, *spill;
    uint32_t n;
    am_acell **row;
    int32_t *pid;
    bool *live;
} rowset;

static bool rows_gather(am_shm *s, rowset *r)
{
    uint32_t p = s->h->max_procs;
    if (!r->row) {
        r->row = am__calloc(p, sizeof *r->row);
        r->pid = am__calloc(p, sizeof *r->pid);
        r->live = am__calloc(p, sizeof *r->live);
        if (!r->row || !r->pid || !r->live)
            return false;
    }
    r->acc = am__shm_row(s, atomic_load_explicit(&s->h->acc, am_acquire) & 1u);
    r->spill = am__shm_row(s, AM__SHM_ROW_SPILL);
    r->n = 0;
    shm_proc *pv = am__shm_procs(s);
    for (uint32_t k = 0; k < p; k++) {
        if (atomic_load_explicit(&pv[k].state, am_acquire) != 1)
            continue;
        r->row[r->n] = am__shm_row(s, AM__SHM_ROW_SLOT0 + k);
        r->pid[r->n] = atomic_load_explicit(&pv[k].pid, am_relaxed);
        r->live[r->n] = am__shm_slot_live(s, k);
        r->n++;
    }
    return true;
}

static void rows_free(rowset *r)
{
    am__free(r->row);
    am__free(r->pid);
    am__free(r->live);
}

static double get(am_acell *c, bool is_double)
{
    uint64_t u = am_cell_get_u(c);
    return is_double ? am_bits_to_double(u) : (double)u;
}

/* Counters, histograms, summaries: the sum of cell j over every row. */
static double sum_cell(const rowset *r, const shm_fam *f, uint32_t cell, uint32_t j)
{
    bool d = am__shm_cell_is_double(f, j);
    double v = get(&r->acc[cell + j], d) + get(&r->spill[cell + j], d);
    for (uint32_t k = 0; k < r->n; k++)
        v += get(&r->row[k][cell + j], d);
    return v;
}

/* A gauge by its mode (ALL modes: not here). set: whether any value is. */
static double gauge_value(const rowset *r, const shm_fam *f, uint32_t cell, bool *set)
{
    bool live_only = f->mode & 1u; /* the LIVE modes are the odd ones */
    unsigned base = f->mode & ~1u;
    double v = 0;
    uint64_t best = 0;
    *set = false;
    for (int64_t k = -2; k < (int64_t)r->n; k++) {
        am_acell *row = k == -2 ? r->acc : k == -1 ? r->spill : r->row[k];
        if ((k == -2 && live_only) || (k >= 0 && live_only && !r->live[k]))
            continue;
        uint64_t st = am_cell_get_u(&row[cell + 1]);
        if (!st)
            continue;
        double x = am_bits_to_double(am_cell_get_u(&row[cell]));
        if (base == AM_SHM_GAUGE_SUM) {
            v += x;
        } else if (!*set || (base == AM_SHM_GAUGE_MAX && x > v) ||
                   (base == AM_SHM_GAUGE_MIN && x < v) ||
                   (base == AM_SHM_GAUGE_MOSTRECENT && st > best)) {
            v = x;
            best = st;
        }
        *set = true;
    }
    return v;
}

/* ------------------------------------------------------------------ */
/* Reading one series                                                  */
/* ------------------------------------------------------------------ */

typedef struct one {
    am__shm_h *h;
    rowset r;
    double out[AM_MAX_BUCKETS + 2];
    bool ok;
} one;

static bool read_one(void *ud)
{
    one *o = ud;
    am_shm *s = o->h->s;
    if (!rows_gather(s, &o->r))
        return false;
    const shm_fam *f = &am__shm_fams(s)[o->h->fam];
    if (o->h->series == UINT32_MAX) { /* a labelled family's handle: no series */
        memset(o->out, 0, sizeof o->out);
        return true;
    }
    if (f->type == AM_TYPE_GAUGE) {
        bool set;
        if (f->mode == AM_SHM_GAUGE_ALL || f->mode == AM_SHM_GAUGE_LIVEALL) {
            am_acell *mine = atomic_load_explicit(&s->row, am_acquire);
            o->out[0] = mine ? am_bits_to_double(am_cell_get_u(&mine[o->h->cell])) : 0;
        } else {
            o->out[0] = gauge_value(&o->r, f, o->h->cell, &set);
        }
        return true;
    }
    for (uint32_t j = 0; j < f->n_cells && j < AM_MAX_BUCKETS + 2; j++)
        o->out[j] = sum_cell(&o->r, f, o->h->cell, j);
    return true;
}

static bool read_series(am__shm_h *h, double *out, size_t n)
{
    one o = {.h = h};
    bool ok = h && am__shm_read_stable(h->s, read_one, &o);
    rows_free(&o.r);
    if (ok)
        memcpy(out, o.out, n * sizeof(double));
    return ok;
}

double am_shm_counter_value(am_shm_counter *c)
{
    double v[2] = {0, 0};
    read_series((am__shm_h *)c, v, 2);
    return v[0] + v[1];
}

double am_shm_gauge_value(am_shm_gauge *g)
{
    double v[1] = {0};
    read_series((am__shm_h *)g, v, 1);
    return v[0];
}

void am_shm_histogram_read(am_shm_histogram *hh, uint64_t *count, double *sum, uint64_t *buckets)
{
    am__shm_h *h = (am__shm_h *)hh;
    size_t nb = h && h->lf ? h->lf->n_bounds : 0;
    double v[AM_MAX_BUCKETS + 2] = {0};
    read_series(h, v, nb + 2);
    am__buckets_report(v, nb, count, sum, buckets);
}

void am_shm_summary_read(am_shm_summary *ss, uint64_t *count, double *sum)
{
    double v[2] = {0, 0};
    read_series((am__shm_h *)ss, v, 2);
    if (count)
        *count = (uint64_t)v[0];
    if (sum)
        *sum = v[1];
}

/* ------------------------------------------------------------------ */
/* The exposition                                                      */
/* ------------------------------------------------------------------ */

/* One per-process series of an ALL-mode gauge. */
typedef struct per_proc {
    uint32_t series;
    int32_t pid;
    double value;
} per_proc;

typedef struct snap {
    am_shm *s;
    rowset r;
    uint32_t n_cells;
    uint32_t n_series; /* bounds walks of the series lists */
    double *cells;     /* merged values, indexed like a row */
    bool *set;         /* gauges: whether a value is set, by cell */
    per_proc *pp;
    size_t n_pp, cap_pp;
    /* the source's cursor */
    uint32_t *order;
    uint32_t n_fams, at;
    am_exview ex[AM_MAX_BUCKETS + 1];
    am_buf scratch;
    bool oom;
} snap;

static bool push_pp(snap *z, uint32_t series, int32_t pid, double v)
{
    if (z->n_pp == z->cap_pp) {
        size_t cap = z->cap_pp ? z->cap_pp * 2 : 64;
        per_proc *p = am__realloc(z->pp, cap * sizeof *p);
        if (!p)
            return false;
        z->pp = p;
        z->cap_pp = cap;
    }
    z->pp[z->n_pp++] = (per_proc){series, pid, v};
    return true;
}

/*
** Whether sr can be read: its cells within the snapshot, its strings within
** the arena with as many values as its family has labels. Series are written
** by trusted processes of one service; this keeps a damaged file from
** taking a reader out of bounds.
*/
static bool series_ok(const snap *z, const shm_fam *f, const shm_series *sr)
{
    const am_shm *s = z->s;
    uint64_t used = atomic_load_explicit(&s->h->arena_used, am_acquire);
    uint32_t want = f->type == AM_TYPE_HISTOGRAM ? f->n_bounds + 2 : 2;
    if (f->n_cells != want || f->n_bounds > AM_MAX_BUCKETS || f->n_labels > AM_MAX_LABELS ||
        sr->cell + (uint64_t)f->n_cells > z->n_cells || sr->n_values != f->n_labels ||
        used > s->h->arena_bytes || (uint64_t)sr->values_off + sr->values_len > used ||
        (uint64_t)sr->labels_off + sr->labels_len > used || !sr->values_off || !sr->labels_off)
        return false;
    const char *v = (const char *)s->base + s->h->off_arena + sr->values_off;
    uint32_t nuls = 0;
    for (uint32_t i = 0; i < sr->values_len; i++)
        nuls += v[i] == '\0';
    return nuls == sr->n_values && (!sr->n_values || v[sr->values_len - 1] == '\0');
}

static bool take_snapshot(void *ud)
{
    snap *z = ud;
    am_shm *s = z->s;
    if (!rows_gather(s, &z->r))
        return false;
    z->n_pp = 0;
    const shm_fam *fv = am__shm_fams(s);
    const shm_series *sv = am__shm_series(s);
    for (uint32_t fi = 0; fi < z->n_fams; fi++) {
        const shm_fam *f = &fv[fi];
        bool all = f->type == AM_TYPE_GAUGE &&
                   (f->mode == AM_SHM_GAUGE_ALL || f->mode == AM_SHM_GAUGE_LIVEALL);
        uint32_t steps = 0;
        for (uint32_t e = atomic_load_explicit(&f->head, am_acquire);
             e && e - 1 < s->h->max_series && steps++ < z->n_series;
             e = atomic_load_explicit(&sv[e - 1].next, am_acquire)) {
            const shm_series *sr = &sv[e - 1];
            if (!series_ok(z, f, sr))
                continue; /* made after the snapshot's size was taken, or damaged */
            if (all) {
                for (uint32_t k = 0; k < z->r.n; k++) {
                    am_acell *row = z->r.row[k];
                    if ((f->mode == AM_SHM_GAUGE_LIVEALL && !z->r.live[k]) ||
                        !am_cell_get_u(&row[sr->cell + 1]))
                        continue;
                    if (!push_pp(z, e - 1, z->r.pid[k],
                                 am_bits_to_double(am_cell_get_u(&row[sr->cell]))))
                        return false;
                }
            } else if (f->type == AM_TYPE_GAUGE) {
                z->cells[sr->cell] = gauge_value(&z->r, f, sr->cell, &z->set[sr->cell]);
            } else {
                for (uint32_t j = 0; j < f->n_cells; j++)
                    z->cells[sr->cell + j] = sum_cell(&z->r, f, sr->cell, j);
            }
        }
    }
    return true;
}

static int by_name(const void *a, const void *b, void *ud)
{
    const snap *z = ud;
    const shm_fam *fv = am__shm_fams(z->s);
    return strcmp(am__shm_str(z->s, fv[*(const uint32_t *)a].name_off),
                  am__shm_str(z->s, fv[*(const uint32_t *)b].name_off));
}

static const char *src_peek(void *ud)
{
    snap *z = ud;
    if (z->at >= z->n_fams)
        return NULL;
    return am__shm_str(z->s, am__shm_fams(z->s)[z->order[z->at]].name_off);
}

/* The exemplars of a series (counter: one; histogram: one per bucket). */
static const am_exview *read_ex(snap *z, const shm_series *sr, uint32_t n)
{
    uint32_t e = atomic_load_explicit(&((shm_series *)sr)->ex, am_acquire);
    if (!e || (uint64_t)e - 1 + n > z->s->h->max_exemplars)
        return NULL;
    shm_ex *blk = am__shm_ex(z->s) + (e - 1);
    for (uint32_t i = 0; i < n; i++) {
        am_exview *v = &z->ex[i];
        v->set = false;
        for (int tries = 0; tries < 8; tries++) {
            uint32_t a = atomic_load_explicit(&blk[i].seq, am_acquire);
            if (a & 1)
                continue;
            uint32_t len = atomic_load_explicit(&blk[i].len, am_relaxed);
            if (a == 0 || len > AM_EXEMPLAR_TEXT)
                break;
            uint64_t w[AM__SHM_EX_WORDS];
            for (size_t k = 0; k < (len + 7) / 8; k++)
                w[k] = atomic_load_explicit(&blk[i].w[k], am_relaxed);
            v->value = atomic_load_explicit(&blk[i].value, am_relaxed);
            v->ts = atomic_load_explicit(&blk[i].ts, am_relaxed);
            atomic_thread_fence(am_acquire);
            if (atomic_load_explicit(&blk[i].seq, am_relaxed) != a)
                continue;
            memcpy(v->labels, w, len);
            v->labels[len] = '\0';
            v->len = len;
            v->set = true;
            break;
        }
    }
    return z->ex;
}

static void emit_series(snap *z, am_enc *e, const am_family *lf, const shm_fam *f,
                        const shm_series *sr, const per_proc *pp)
{
    am_series out = {0};
    /* Ranges checked by series_ok(). */
    const char *arena = (const char *)z->s->base + z->s->h->off_arena;
    out.values = arena + sr->values_off;
    out.n_values = sr->n_values;
    out.labels = arena + sr->labels_off;
    out.labels_len = sr->labels_len;
    out.created = sr->created;
    double counts[AM_MAX_BUCKETS + 1];
    if (pp) { /* one process's series: its values and labels gain the pid */
        char pid[16];
        snprintf(pid, sizeof pid, "%d", (int)pp->pid);
        am_buf *b = &z->scratch;
        b->len = 0;
        am_buf_append(b, out.values, sr->values_len);
        am_buf_append(b, pid, strlen(pid) + 1);
        size_t vlen = b->len;
        am_buf_append(b, out.labels, out.labels_len);
        if (out.labels_len)
            am_buf_putc(b, ',');
        am_buf_append(b, "pid=\"", 5);
        am_buf_puts(b, pid);
        am_buf_putc(b, '"');
        if (am_buf_err(b)) {
            z->oom = true;
            return;
        }
        out.values = b->p;
        out.n_values = sr->n_values + 1;
        out.labels = b->p + vlen;
        out.labels_len = b->len - vlen;
        out.value = pp->value;
    } else {
        const double *c = z->cells + sr->cell;
        switch (f->type) {
        case AM_TYPE_COUNTER:
            out.value = c[0] + c[1];
            out.ex = read_ex(z, sr, 1);
            break;
        case AM_TYPE_HISTOGRAM: {
            double acc = 0;
            for (uint32_t i = 0; i <= f->n_bounds; i++)
                counts[i] = acc += c[i];
            out.buckets = counts;
            out.sum = c[f->n_bounds + 1];
            out.ex = read_ex(z, sr, f->n_bounds + 1);
            break;
        }
        case AM_TYPE_SUMMARY:
            out.value = c[0];
            out.sum = c[1];
            break;
        default:
            if (!z->set[sr->cell])
                return; /* no process has set it (or its setters died, LIVE) */
            out.value = c[0];
            break;
        }
    }
    e->ops->series(e, lf, &out);
    e->n_series++;
}

static bool src_emit(void *ud, am_enc *e)
{
    snap *z = ud;
    uint32_t fi = z->order[z->at++];
    const am_family *lf = am__shm_local_family(z->s, fi);
    const shm_fam *f = &am__shm_fams(z->s)[fi];
    bool all = f->type == AM_TYPE_GAUGE &&
               (f->mode == AM_SHM_GAUGE_ALL || f->mode == AM_SHM_GAUGE_LIVEALL);
    if (!lf || lf->n_bounds != f->n_bounds || lf->n_labels != f->n_labels + all)
        return false; /* no memory, or a damaged definition: left out */
    const shm_series *sv = am__shm_series(z->s);
    e->ops->family(e, lf);
    if (all) {
        for (size_t i = 0; i < z->n_pp; i++)
            if (sv[z->pp[i].series].fam == fi && series_ok(z, f, &sv[z->pp[i].series]))
                emit_series(z, e, lf, f, &sv[z->pp[i].series], &z->pp[i]);
    } else {
        uint32_t steps = 0;
        for (uint32_t s = atomic_load_explicit(&f->head, am_acquire);
             s && s - 1 < z->s->h->max_series && steps++ < z->n_series;
             s = atomic_load_explicit(&sv[s - 1].next, am_acquire))
            if (series_ok(z, f, &sv[s - 1]))
                emit_series(z, e, lf, f, &sv[s - 1], NULL);
    }
    if (z->oom)
        e->b->err = AM_ENOMEM;
    e->ops->family_end(e, lf);
    return true;
}

am_err am_shm_encode(am_shm *s, am_registry *const *regs, size_t n, am_format fmt, char **out,
                     size_t *len)
{
    const am_encoder *ops = am__encoder_of(fmt);
    if (!s || !out || !ops || (n && !regs))
        return am__err(AM_EINVAL, "segment, format, registries or out pointer is bad");
    for (size_t i = 0; i < n; i++)
        if (!regs[i])
            return am__err(AM_EINVAL, "registry %zu is NULL", i);
    snap z = {.s = s};
    am_buf_init(&z.scratch, 0);
    z.n_fams = atomic_load_explicit(&s->h->n_families, am_acquire);
    z.n_cells = (uint32_t)atomic_load_explicit(&s->h->cells_used, am_acquire);
    z.n_series = atomic_load_explicit(&s->h->n_series, am_acquire);
    z.cells = am__calloc(z.n_cells ? z.n_cells : 1, sizeof *z.cells);
    z.set = am__calloc(z.n_cells ? z.n_cells : 1, sizeof *z.set);
    z.order = am__calloc(z.n_fams ? z.n_fams : 1, sizeof *z.order);
    am_err rc = AM_ENOMEM;
    if (!z.cells || !z.set || !z.order)
        goto done;
    uint32_t k = 0;
    for (uint32_t i = 0; i < z.n_fams; i++)
        if (atomic_load_explicit(&am__shm_fams(s)[i].ready, am_acquire))
            z.order[k++] = i;
    z.n_fams = k;
    qsort_r(z.order, z.n_fams, sizeof *z.order, by_name, &z);
    if (!am__shm_read_stable(s, take_snapshot, &z))
        goto done;
    am_buf b;
    am_buf_init(&b, 0);
    am__enc_source src = {src_peek, src_emit, &z};
    rc = am__encode_with(regs, n, &src, ops, &b);
    if (rc) {
        am_buf_free(&b);
        goto done;
    }
    *out = am_buf_take(&b, len);
    rc = *out ? AM_OK : AM_ENOMEM;
done:
    rows_free(&z.r);
    am__free(z.cells);
    am__free(z.set);
    am__free(z.order);
    am__free(z.pp);
    am_buf_free(&z.scratch);
    return rc ? am__err(rc, "encoding the shared-memory segment failed: %s", am_strerror(rc))
              : AM_OK;
}
