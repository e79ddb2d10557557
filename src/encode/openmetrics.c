/*
** openmetrics.c: the OpenMetrics 1.0 text format.
**
** Adds to 0.0.4: family names without the _total/_info sample suffixes,
** UNIT lines, _created samples for counters and histograms, exemplars on
** counter totals and histogram buckets, native stateset and info types,
** quotes escaped in HELP, and the closing "# EOF".
**
** OpenMetrics forbids a _sum that is negative or NaN, and any _sum when a
** bucket bound is negative; such a histogram (or summary) leaves _sum and _count out
** (they come as a pair), which the spec allows, rather than emit an
** exposition parsers must reject.
*/
#include <math.h>

#include "../util/fmt.h"
#include "../util/render.h"
#include "encoder.h"

static void begin(am_enc *e)
{
    (void)e;
}

static void end(am_enc *e)
{
    am_buf_append(e->b, "# EOF\n", 6);
}

static const char *type_word(am_metric_type t)
{
    switch (t) {
    case AM_TYPE_COUNTER:
        return "counter";
    case AM_TYPE_GAUGE:
        return "gauge";
    case AM_TYPE_HISTOGRAM:
        return "histogram";
    case AM_TYPE_INFO:
        return "info";
    case AM_TYPE_STATESET:
        return "stateset";
    case AM_TYPE_SUMMARY:
        return "summary";
    default:
        return "unknown";
    }
}

static void family(am_enc *e, const am_family *f)
{
    am_buf *b = e->b;
    am_buf_append(b, "# HELP ", 7);
    am_buf_puts(b, f->name);
    am_buf_putc(b, ' ');
    am__buf_help(b, f->help, true);
    am_buf_append(b, "\n# TYPE ", 8);
    am_buf_puts(b, f->name);
    am_buf_putc(b, ' ');
    am_buf_puts(b, type_word(f->type));
    am_buf_putc(b, '\n');
    if (f->unit) {
        am_buf_append(b, "# UNIT ", 7);
        am_buf_puts(b, f->name);
        am_buf_putc(b, ' ');
        am_buf_puts(b, f->unit);
        am_buf_putc(b, '\n');
    }
}

static void family_end(am_enc *e, const am_family *f)
{
    (void)e;
    (void)f;
}

static void exemplar(am_buf *b, const am_exview *x)
{
    if (!x || !x->set)
        return;
    am_buf_append(b, " # {", 4);
    am_buf_append(b, x->labels, x->len);
    am_buf_append(b, "} ", 2);
    am__buf_double(b, x->value);
    am_buf_putc(b, ' ');
    /* Timestamps keep millisecond precision, written plainly. */
    am__buf_millis(b, x->ts);
}

static void line(am_buf *b, const am_family *f, const char *suffix, size_t slen, const am_series *s,
                 const char *extra, size_t elen, double v, const am_exview *x)
{
    am__enc_sample(b, f, suffix, slen, s, extra, elen, v);
    exemplar(b, x);
    am_buf_putc(b, '\n');
}

static void created(am_buf *b, const am_family *f, const am_series *s)
{
    if (f->flags & AM_METRIC_NO_CREATED)
        return;
    am_buf_puts(b, f->name);
    am_buf_append(b, "_created", 8);
    am__enc_labels(b, s->labels, s->labels_len, NULL, 0);
    am_buf_putc(b, ' ');
    am__buf_millis(b, s->created);
    am_buf_putc(b, '\n');
}

static void series(am_enc *e, const am_family *f, const am_series *s)
{
    am_buf *b = e->b;
    char extra[AM_EXTRA_PAIR_MAX];
    switch (f->type) {
    case AM_TYPE_COUNTER:
        line(b, f, "_total", 6, s, NULL, 0, s->value, s->ex);
        if (!f->collect)
            created(b, f, s);
        break;
    case AM_TYPE_INFO:
        line(b, f, "_info", 5, s, NULL, 0, 1, NULL);
        break;
    case AM_TYPE_HISTOGRAM:
        for (size_t i = 0; i <= f->n_bounds; i++) {
            size_t n = am__enc_le(extra, f, i);
            line(b, f, "_bucket", 7, s, extra, n, s->buckets[i], s->ex ? &s->ex[i] : NULL);
        }
        if (s->sum >= 0 && (f->n_bounds == 0 || f->bounds[0] >= 0)) {
            line(b, f, "_count", 6, s, NULL, 0, s->buckets[f->n_bounds], NULL);
            line(b, f, "_sum", 4, s, NULL, 0, s->sum, NULL);
        }
        created(b, f, s);
        break;
    case AM_TYPE_SUMMARY:
        if (s->sum >= 0) {
            line(b, f, "_count", 6, s, NULL, 0, s->value, NULL);
            line(b, f, "_sum", 4, s, NULL, 0, s->sum, NULL);
        }
        created(b, f, s);
        break;
    case AM_TYPE_STATESET:
        for (size_t i = 0; i < f->n_states; i++) {
            size_t n = am__enc_pair(extra, sizeof extra, f->name, f->states[i]);
            line(b, f, "", 0, s, extra, n, (double)((s->bits >> i) & 1), NULL);
        }
        break;
    default:
        line(b, f, "", 0, s, NULL, 0, s->value, NULL);
        break;
    }
}

const am_encoder am__enc_openmetrics = {1, begin, family, series, family_end, end};
