/*
** walk.c: visiting a registry for an encoder, and the public encode calls.
**
** DESIGN
** Several registries can go into one exposition; their sorted family lists
** are merged by name (see am__encode), and with them the families of a
** source that is not a registry (the shared-memory segment, src/shm). Lock
** order is registry (shared), then family (its mutex, so children do
** not come and go mid-walk), then cells (shared, so values are summed while
** no thread folds or releases cells). Lookups and hot-path writes go on
** meanwhile: they take none of these. Callback families run their collect
** function before the family lock is taken, since it may be slow (a Redis
** round trip) and needs no lock of ours.
**
** The output goes into one growing buffer: no allocation per series, and
** a failed encode returns nothing rather than a truncated exposition.
*/
#include <string.h>

#include "agentmon/expose.h"
#include "../util/alloc.h"
#include "../core/cells.h"
#include "../util/error.h"
#include "../core/fork.h"
#include "../util/fmt.h"
#include "../core/registry.h"
#include "../util/render.h"
#include "../core/sink.h"
#include "encoder.h"
#include "spare.h"

typedef struct walk {
    am_enc e;
    am_exview *ex; /* scratch for exemplars, grown as needed */
    size_t ex_cap;
    double counts[AM_MAX_BUCKETS + 2];
} walk;

void am__enc_labels(am_buf *b, const char *labels, size_t len, const char *extra, size_t elen)
{
    if (!len && !elen)
        return;
    am_buf_putc(b, '{');
    am_buf_append(b, labels, len);
    if (elen) {
        if (len)
            am_buf_putc(b, ',');
        am_buf_append(b, extra, elen);
    }
    am_buf_putc(b, '}');
}

void am__enc_sample(am_buf *b, const am_family *f, const char *suffix, size_t slen,
                    const am_series *s, const char *extra, size_t elen, double v)
{
    size_t need = f->name_len + slen + s->labels_len + elen + 4 + AM_FMT_MAX;
    char *w = am_buf_reserve(b, need);
    if (!w)
        return;
    char *p = w;
    memcpy(p, f->name, f->name_len);
    p += f->name_len;
    memcpy(p, suffix, slen);
    p += slen;
    if (s->labels_len || elen) {
        *p++ = '{';
        memcpy(p, s->labels, s->labels_len);
        p += s->labels_len;
        if (elen) {
            if (s->labels_len)
                *p++ = ',';
            memcpy(p, extra, elen);
            p += elen;
        }
        *p++ = '}';
    }
    *p++ = ' ';
    p += am__fmt_double(p, v);
    b->len += (size_t)(p - w);
}

size_t am__enc_pair(char *out, size_t cap, const char *name, const char *value)
{
    const char *n[1] = {name}, *v[1] = {value};
    size_t len = am__render_pairs(NULL, n, v, 1, 1);
    if (len >= cap)
        return 0;
    am__render_pairs(out, n, v, 1, 1);
    return len;
}

size_t am__enc_le(char *out, const am_family *f, size_t i)
{
    const char *t = i < f->n_bounds ? f->le[i] : "+Inf";
    size_t n = strlen(t);
    memcpy(out, "le=\"", 4);
    memcpy(out + 4, t, n);
    out[4 + n] = '"';
    return n + 5;
}

static const am_exview *read_exemplars(walk *w, const am_child *c, size_t n)
{
    if (!atomic_load_explicit(&((am_child *)c)->ex, am_acquire))
        return NULL;
    if (n > w->ex_cap) {
        am_exview *v = am__realloc(w->ex, n * sizeof *v);
        if (!v) {
            w->e.b->err = AM_ENOMEM;
            return NULL;
        }
        w->ex = v;
        w->ex_cap = n;
    }
    for (size_t i = 0; i < n; i++)
        am__exemplar_read(c, (uint32_t)i, &w->ex[i]);
    return w->ex;
}

static void walk_child(walk *w, const am_family *f, const am_child *c)
{
    am_series s = {0};
    s.values = c->data;
    s.n_values = c->n_values;
    s.labels = am__child_labels(c);
    s.labels_len = c->labels_len;
    s.created = c->created;
    switch (f->type) {
    case AM_TYPE_COUNTER:
        am__cells_sum(c->slot, 2, w->counts);
        s.value = w->counts[0] + w->counts[1];
        s.ex = read_exemplars(w, c, 1);
        break;
    case AM_TYPE_HISTOGRAM: {
        size_t nb = f->n_bounds;
        am__cells_sum(c->slot, (uint32_t)nb + 2, w->counts);
        for (size_t i = 1; i <= nb; i++)
            w->counts[i] += w->counts[i - 1];
        s.buckets = w->counts;
        s.sum = w->counts[nb + 1];
        s.ex = read_exemplars(w, c, nb + 1);
        break;
    }
    case AM_TYPE_SUMMARY:
        am__cells_sum(c->slot, 2, w->counts);
        s.value = w->counts[0]; /* the count */
        s.sum = w->counts[1];
        break;
    case AM_TYPE_STATESET:
        s.bits = atomic_load_explicit(&((am_child *)c)->v.bits, am_relaxed);
        break;
    case AM_TYPE_INFO:
        s.value = 1;
        break;
    default:
        s.value = atomic_load_explicit(&((am_child *)c)->v.g, am_relaxed);
        break;
    }
    w->e.ops->series(&w->e, f, &s);
    w->e.n_series++;
}

/* The series of a callback family, from a fresh run of its collect. */
static void walk_callback(walk *w, am_family *f)
{
    am_sink sink;
    am__sink_init(&sink, f);
    am__sink_collect(&sink);
    if (sink.err || am_buf_err(&sink.strs)) {
        w->e.b->err = AM_ENOMEM;
        am__sink_free(&sink);
        return;
    }
    am_child *root = atomic_load_explicit(&f->root, am_relaxed);
    for (size_t i = 0; i < sink.n; i++) {
        const am_sink_item *it = &sink.items[i];
        am_series s = {0};
        s.values = sink.strs.p + it->values_off;
        s.n_values = f->n_labels;
        s.labels = sink.strs.p + it->labels_off;
        s.labels_len = it->labels_len;
        s.created = root->created;
        s.value = it->v;
        w->e.ops->series(&w->e, f, &s);
        w->e.n_series++;
    }
    am__sink_free(&sink);
}

/* The series of one family, with its lock and the cells' read lock held. */
static void walk_series(walk *w, am_family *f)
{
    if (f->collect) {
        walk_callback(w, f);
        return;
    }
    am__lock(&f->lock);
    am__cells_rdlock();
    if (am__family_listed(f)) {
        for (const am_child *c = f->head; c; c = c->next)
            walk_child(w, f, c);
    } else {
        walk_child(w, f, atomic_load_explicit(&f->root, am_relaxed));
    }
    am__cells_rdunlock();
    am__unlock(&f->lock);
}

/*
** A guess at the bytes family f takes in a text exposition, for the first
** block of an encode that has no last length to go by (a process's first
** scrape): its series times their lines, a line its name, the first
** child's label text, a bucket's le pair and a number. Too little costs a
** copy into a block twice as large (and that block's page faults); too
** much costs nothing but address space, as pages never written are never
** faulted in. Called with the registry's lock held; takes f's.
*/
static size_t family_guess(am_family *f, bool om)
{
    size_t series = 1, labels = 0, lines = om ? 2 : 1; /* OpenMetrics: and _created */
    if (am__family_listed(f) && !f->collect) {
        am__lock(&f->lock);
        series = f->n_children;
        labels = f->head ? f->head->labels_len : 0;
        am__unlock(&f->lock);
    }
    if (f->type == AM_TYPE_HISTOGRAM)
        lines = f->n_bounds + 4;
    else if (f->type == AM_TYPE_STATESET)
        lines = f->n_states;
    size_t line = f->name_len + labels + (f->type == AM_TYPE_HISTOGRAM ? 40 : 32);
    return 3 * f->name_len + strlen(f->help) + 64 + series * lines * line;
}

static size_t encode_guess(am_registry *const *regs, size_t n, bool om)
{
    size_t total = 0;
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; i < regs[k]->n; i++)
            total += family_guess(regs[k]->fams[i], om);
    return total;
}

/*
** Registries' families are each sorted by name, so several registries are
** merged like sorted lists: the smallest name next, and every registry's
** family of that name that has the same definition as the first becomes
** part of one family in the output (two families of one name would make the
** exposition invalid). A same-named family with another definition is left
** out, as am_encode() documents.
*/
am_err am__encode(am_registry *const *regs, size_t n, const am_encoder *ops, am_buf *b)
{
    return am__encode_with(regs, n, NULL, ops, b);
}

am_err am__encode_with(am_registry *const *regs, size_t n, const am__enc_source *src,
                       const am_encoder *ops, am_buf *b)
{
    walk *w = am__calloc(1, sizeof *w);
    size_t *at = am__calloc(n ? n : 1, sizeof *at);
    if (!w || !at) {
        am__free(w);
        am__free(at);
        return AM_ENOMEM;
    }
    w->e.b = b;
    w->e.ops = ops;
    for (size_t k = 0; k < n; k++)
        am__rdlock(&regs[k]->lock);
    if (!b->cap) /* no last length to go by: a guess */
        am_buf_reserve(b, encode_guess(regs, n, ops != &am__enc_prometheus));
    ops->begin(&w->e);
    while (!am_buf_err(b)) {
        const char *name = NULL;
        for (size_t k = 0; k < n; k++)
            if (at[k] < regs[k]->n && (!name || strcmp(regs[k]->fams[at[k]]->name, name) < 0))
                name = regs[k]->fams[at[k]]->name;
        const char *sname = src ? src->peek(src->ud) : NULL;
        if (sname && (!name || strcmp(sname, name) <= 0)) {
            for (size_t k = 0; k < n; k++) /* the source's family wins its name */
                while (at[k] < regs[k]->n && strcmp(regs[k]->fams[at[k]]->name, sname) == 0)
                    at[k]++;
            w->e.n_series = 0;
            if (src->emit(src->ud, &w->e))
                w->e.n_families++;
            continue;
        }
        if (!name)
            break;
        am_family *first = NULL;
        for (size_t k = 0; k < n; k++) {
            /* a registry's family of this name and its siblings */
            while (at[k] < regs[k]->n && strcmp(regs[k]->fams[at[k]]->name, name) == 0) {
                am_family *f = regs[k]->fams[at[k]++];
                if (!first) {
                    first = f;
                    w->e.n_series = 0;
                    ops->family(&w->e, first);
                } else if (f == first || !am__family_same_shape(first, f)) {
                    continue; /* the same registry twice, or a conflicting definition */
                }
                walk_series(w, f);
            }
        }
        ops->family_end(&w->e, first);
        w->e.n_families++;
    }
    ops->end(&w->e);
    for (size_t k = n; k-- > 0;)
        am__rwunlock(&regs[k]->lock);
    am__free(w->ex);
    am__free(w);
    am__free(at);
    return am_buf_err(b);
}

const char *am_format_content_type(am_format f)
{
    switch (f) {
    case AM_FORMAT_PROMETHEUS:
        return "text/plain; version=0.0.4; charset=utf-8";
    case AM_FORMAT_OPENMETRICS:
        return "application/openmetrics-text; version=1.0.0; charset=utf-8";
    case AM_FORMAT_JSON:
        return "application/json";
    }
    return "application/octet-stream";
}

const am_encoder *am__encoder_of(am_format f)
{
    switch (f) {
    case AM_FORMAT_PROMETHEUS:
        return &am__enc_prometheus;
    case AM_FORMAT_OPENMETRICS:
        return &am__enc_openmetrics;
    case AM_FORMAT_JSON:
        return &am__enc_json;
    }
    return NULL;
}

am_err am_encode(am_registry *const *regs, size_t n, am_format f, char **out, size_t *len)
{
    const am_encoder *ops = am__encoder_of(f);
    if (!ops)
        return am__err(AM_EINVAL, "unknown format %d", (int)f);
    if (!regs || n == 0 || !out)
        return am__err(AM_EINVAL, "no registries or no out pointer");
    for (size_t i = 0; i < n; i++)
        if (!regs[i])
            return am__err(AM_EINVAL, "registry %zu is NULL", i);
    /* room for what the last exposition took, and a little more: one
       block, not a doubling chain (each step a block whose pages fault in
       again) */
    size_t hint = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = atomic_load_explicit(&regs[i]->last_len[f], memory_order_relaxed);
        hint = l > hint ? l : hint;
    }
    am_buf b;
    am_buf_init(&b, 0);
    if (hint) {
        /* the block of an exposition freed since, if large enough: its
           pages are in already (spare.c) */
        size_t want = hint + hint / 16, cap;
        char *p = am__spare_take(want + 1, &cap);
        if (p)
            am_buf_adopt(&b, p, cap);
        else
            am_buf_reserve(&b, want);
    }
    am_err rc = am__encode(regs, n, ops, &b);
    if (rc) {
        am_buf_free(&b);
        return am__err(rc, "encoding failed: %s", am_strerror(rc));
    }
    for (size_t i = 0; i < n; i++)
        atomic_store_explicit(&regs[i]->last_len[f], b.len, memory_order_relaxed);
    size_t cap = b.cap;
    *out = am_buf_take(&b, len);
    if (!*out)
        return am__err(AM_ENOMEM, "out of memory");
    am__spare_lend(*out, cap); /* kept for the next encode when it comes back */
    return AM_OK;
}

am_err am_registry_encode(am_registry *r, am_format f, char **out, size_t *len)
{
    if (!r && !(r = am_registry_default()))
        return am__err(AM_ENOMEM, "out of memory creating the default registry");
    return am_encode(&r, 1, f, out, len);
}
