/*
** samples.c: the registries as a stream of samples, one callback each
** (am_encode_samples, public in expose.h), for the parts that want samples
** rather than text: the alerting window's feed (src/alert/feed.c) and the
** remote_write sampler (src/rw/sender.c); and the exemplars alone
** (am_encode_exemplars), for the collector's /api/v1/query_exemplars,
** which encoded the whole registry as OpenMetrics and parsed it back to
** find them (issue 14).
**
** DESIGN
** The registry walk (walk.c) already visits every family and series with
** the right locks held and values summed; this file is one more encoder
** for it, whose series hook expands a series into the samples the text
** exposition would show and hands each to the callback. The walk hands an
** encoder only its am_enc, whose one pointer of ours is the output
** buffer; the context therefore starts with an am_buf and is recovered
** from e->b. Setting that buffer's error stops the walk.
**
** THREADING: runs on the caller's thread, inside the walk's locks: the
** callback must not touch the registries.
*/
#include <string.h>

#include "../util/error.h"
#include "../util/fmt.h"
#include "../util/render.h"
#include "encoder.h"

typedef struct walk {
    am_buf buf; /* first: the walk's e->b points here */
    am__sample_fn fn;
    am_exemplar_fn ex_fn; /* exemplars only, instead of fn */
    void *ud;
    char name[AM_MAX_NAME + 16];
    am__pair pairs[AM_MAX_LABELS + 2];
} walk;

static void nop_begin(am_enc *e)
{
    (void)e;
}

static void nop_family(am_enc *e, const am_family *f)
{
    (void)e;
    (void)f;
}

/* pairs[1..n] are the series' labels; [0] is the name. */
static void put(walk *w, const am_family *f, const char *suffix, size_t n, const char *extra_name,
                const char *extra_value, double v)
{
    if (w->buf.err)
        return;
    size_t nl = f->name_len, sl = strlen(suffix);
    memcpy(w->name, f->name, nl);
    memcpy(w->name + nl, suffix, sl + 1);
    am__pair tmp[AM_MAX_LABELS + 2];
    tmp[0] = (am__pair){"__name__", w->name};
    memcpy(tmp + 1, w->pairs, n * sizeof *tmp);
    size_t k = n + 1;
    if (extra_name)
        tmp[k++] = (am__pair){extra_name, extra_value};
    if (w->fn(w->ud, tmp, k, v))
        w->buf.err = AM_ENOMEM;
}

/*
** Split an exemplar's rendered labels, name="escaped value",... (our own
** text: am__exemplar_render wrote it from validated pairs), in place into
** pairs; returns their number, at most max.
*/
static size_t split_rendered(char *t, am__pair *out, size_t max)
{
    size_t n = 0;
    while (*t && n < max) {
        char *eq = strchr(t, '=');
        if (!eq || eq[1] != '"')
            break;
        *eq = '\0';
        size_t len, end;
        if (am__unescape_label(eq + 2, eq + 2, &len, &end) != AM_OK)
            break;
        out[n].name = t;
        out[n].value = eq + 2;
        n++;
        t = eq + 2 + end + 1;
        if (*t == ',')
            t++;
    }
    return n;
}

/* The exemplar x of the sample name<suffix>{labels[,le]}, to ex_fn. */
static void put_exemplar(walk *w, const am_family *f, const char *suffix, size_t n, const char *le,
                         const am_exview *x)
{
    if (w->buf.err || !x || !x->set)
        return;
    size_t nl = f->name_len, sl = strlen(suffix);
    memcpy(w->name, f->name, nl);
    memcpy(w->name + nl, suffix, sl + 1);
    am__pair tmp[AM_MAX_LABELS + 2], ex[AM_MAX_LABELS];
    tmp[0] = (am__pair){"__name__", w->name};
    memcpy(tmp + 1, w->pairs, n * sizeof *tmp);
    size_t k = n + 1;
    if (le)
        tmp[k++] = (am__pair){"le", le};
    char text[AM_EXEMPLAR_TEXT + 1];
    memcpy(text, x->labels, x->len + 1);
    size_t n_ex = split_rendered(text, ex, AM_MAX_LABELS);
    /* the time as the text has it: whole milliseconds */
    if (w->ex_fn(w->ud, tmp, k, ex, n_ex, x->value, am__millis_value(x->ts)))
        w->buf.err = AM_ENOMEM;
}

static void series(am_enc *e, const am_family *f, const am_series *s)
{
    walk *w = (walk *)e->b;
    size_t n = 0;
    const char *v = s->values;
    if (f->type == AM_TYPE_INFO) {
        for (size_t i = 0; i + 1 < s->n_values && n < AM_MAX_LABELS; i += 2) {
            w->pairs[n].name = v;
            v += strlen(v) + 1;
            w->pairs[n].value = v;
            v += strlen(v) + 1;
            n++;
        }
    } else {
        for (size_t i = 0; i < s->n_values && i < f->n_labels && n < AM_MAX_LABELS; i++) {
            w->pairs[n].name = f->label_names[i];
            w->pairs[n].value = v;
            v += strlen(v) + 1;
            n++;
        }
    }
    if (w->ex_fn) {
        if (f->type == AM_TYPE_COUNTER && s->ex)
            put_exemplar(w, f, "_total", n, NULL, s->ex);
        else if (f->type == AM_TYPE_HISTOGRAM && s->ex)
            for (size_t i = 0; i <= f->n_bounds; i++)
                put_exemplar(w, f, "_bucket", n, i < f->n_bounds ? f->le[i] : "+Inf", &s->ex[i]);
        return;
    }
    switch (f->type) {
    case AM_TYPE_COUNTER:
        put(w, f, "_total", n, NULL, NULL, s->value);
        break;
    case AM_TYPE_INFO:
        put(w, f, "_info", n, NULL, NULL, 1);
        break;
    case AM_TYPE_HISTOGRAM:
        for (size_t i = 0; i <= f->n_bounds; i++)
            put(w, f, "_bucket", n, "le", i < f->n_bounds ? f->le[i] : "+Inf", s->buckets[i]);
        put(w, f, "_sum", n, NULL, NULL, s->sum);
        put(w, f, "_count", n, NULL, NULL, s->buckets[f->n_bounds]);
        break;
    case AM_TYPE_STATESET:
        for (size_t i = 0; i < f->n_states; i++)
            put(w, f, "", n, f->name, f->states[i], (double)((s->bits >> i) & 1));
        break;
    default:
        put(w, f, "", n, NULL, NULL, s->value);
        break;
    }
}

static const am_encoder samples_encoder = {1, nop_begin, nop_family, series, nop_family, nop_begin};

static am_err run(am_registry *const *regs, size_t n, am_sample_fn fn, am_exemplar_fn ex_fn,
                  void *ud)
{
    walk w;
    memset(&w, 0, sizeof w);
    am_buf_init(&w.buf, 0);
    w.fn = fn;
    w.ex_fn = ex_fn;
    w.ud = ud;
    am_buf_reserve(&w.buf, 1); /* a capacity: the walk then sizes no text block */
    am_err rc = n ? am__encode(regs, n, &samples_encoder, &w.buf) : AM_OK;
    am_buf_free(&w.buf);
    return rc;
}

am_err am_encode_samples(am_registry *const *regs, size_t n, am_sample_fn fn, void *ud)
{
    if (!fn || (n && !regs))
        return am__err(AM_EINVAL, "am_encode_samples: %s", fn ? "regs is NULL" : "fn is NULL");
    return run(regs, n, fn, NULL, ud);
}

am_err am_encode_exemplars(am_registry *const *regs, size_t n, am_exemplar_fn fn, void *ud)
{
    if (!fn || (n && !regs))
        return am__err(AM_EINVAL, "am_encode_exemplars: %s", fn ? "regs is NULL" : "fn is NULL");
    return run(regs, n, NULL, fn, ud);
}
