/*
** prometheus.c: the Prometheus text exposition format, version 0.0.4.
**
** What every Prometheus, promtool and client parser reads. Counters are
** named <base>_total in HELP, TYPE and samples (as the Go and Python
** clients do); statesets and info, which 0.0.4 lacks, become gauges; a summary is its
** _count and _sum (no quantiles, as prometheus_client writes it); there
** are no exemplars, units or _created lines in this format.
*/
#include "../util/fmt.h"
#include "../util/render.h"
#include "encoder.h"

static void begin(am_enc *e)
{
    (void)e;
}

static void end(am_enc *e)
{
    (void)e;
}

static const char *type_word(const am_family *f)
{
    switch (f->type) {
    case AM_TYPE_COUNTER:
        return "counter";
    case AM_TYPE_HISTOGRAM:
        return "histogram";
    case AM_TYPE_SUMMARY:
        return "summary";
    case AM_TYPE_UNKNOWN:
        return "untyped";
    default:
        return "gauge";
    }
}

static void expo_name(am_buf *b, const am_family *f)
{
    am_buf_puts(b, f->name);
    if (f->type == AM_TYPE_COUNTER)
        am_buf_append(b, "_total", 6);
    else if (f->type == AM_TYPE_INFO)
        am_buf_append(b, "_info", 5);
}

static void family(am_enc *e, const am_family *f)
{
    am_buf *b = e->b;
    am_buf_append(b, "# HELP ", 7);
    expo_name(b, f);
    am_buf_putc(b, ' ');
    am__buf_help(b, f->help, false);
    am_buf_append(b, "\n# TYPE ", 8);
    expo_name(b, f);
    am_buf_putc(b, ' ');
    am_buf_puts(b, type_word(f));
    am_buf_putc(b, '\n');
}

static void family_end(am_enc *e, const am_family *f)
{
    (void)e;
    (void)f;
}

static void line(am_buf *b, const am_family *f, const char *suffix, size_t slen, const am_series *s,
                 const char *extra, size_t elen, double v)
{
    am__enc_sample(b, f, suffix, slen, s, extra, elen, v);
    am_buf_putc(b, '\n');
}

static void series(am_enc *e, const am_family *f, const am_series *s)
{
    am_buf *b = e->b;
    char extra[AM_EXTRA_PAIR_MAX];
    switch (f->type) {
    case AM_TYPE_COUNTER:
        line(b, f, "_total", 6, s, NULL, 0, s->value);
        break;
    case AM_TYPE_INFO:
        line(b, f, "_info", 5, s, NULL, 0, 1);
        break;
    case AM_TYPE_HISTOGRAM:
        for (size_t i = 0; i <= f->n_bounds; i++) {
            size_t n = am__enc_le(extra, f, i);
            line(b, f, "_bucket", 7, s, extra, n, s->buckets[i]);
        }
        line(b, f, "_sum", 4, s, NULL, 0, s->sum);
        line(b, f, "_count", 6, s, NULL, 0, s->buckets[f->n_bounds]);
        break;
    case AM_TYPE_SUMMARY:
        line(b, f, "_count", 6, s, NULL, 0, s->value);
        line(b, f, "_sum", 4, s, NULL, 0, s->sum);
        break;
    case AM_TYPE_STATESET:
        for (size_t i = 0; i < f->n_states; i++) {
            size_t n = am__enc_pair(extra, sizeof extra, f->name, f->states[i]);
            line(b, f, "", 0, s, extra, n, (double)((s->bits >> i) & 1));
        }
        break;
    default:
        line(b, f, "", 0, s, NULL, 0, s->value);
        break;
    }
}

const am_encoder am__enc_prometheus = {1, begin, family, series, family_end, end};
