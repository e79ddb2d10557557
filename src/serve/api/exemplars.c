/*
** exemplars.c: the exemplars behind GET /api/v1/query_exemplars
** (promql_routes.c), in Prometheus' answer shape:
**
**   {"status":"success","data":[{"seriesLabels":{"__name__":..,<labels>},
**     "exemplars":[{"labels":{"trace_id":..,"span_id":..},"value":"0.42",
**                   "timestamp":1700000000.123}]}]}
**
** DESIGN. The exemplars a collector holds are those of its registries:
** the last one of every histogram bucket and counter series (task events
** carry their trace id as one; the demo's packs record the current trace
** context). Rather than walk the registry's cells with a second reader,
** the registries are encoded as OpenMetrics -- the text that carries
** exemplars -- and read back with the scraper's parser (ingest/
** expo_parse.c): one writer and one reader of exemplars in the program.
** The query is parsed as PromQL (alert/), and its vector selectors are
** the filter, as in Prometheus: an exemplar is answered when its series
** matches any selector of the expression and its time is in [start, end].
**
** Not kept: history. An exemplar replaced in the registry is gone, so a
** range shows at most one exemplar per bucket (Prometheus keeps a ring of
** the scraped ones; docs/DASHBOARD.md says so).
**
** Threads: the caller's; the registries are read as a scrape reads them.
*/
#include <math.h>
#include <string.h>

#include "agentmon/expose.h"
#include "agentmon/timer.h"
#include "../../alert/promql.h"
#include "../../util/fmt.h"
#include "../../util/render.h"
#include "../ingest/expo_parse.h"
#include "exemplars.h"

#define MAX_SELECTORS 64

typedef struct find {
    const am_pql_vsel *sel[MAX_SELECTORS];
    size_t n_sel;
    double start_s, end_s;
    am_buf *out;
    size_t n;
} find;

static void selectors(const am_pql_node *n, find *f)
{
    if (!n)
        return;
    switch (n->kind) {
    case N_VSEL:
        if (f->n_sel < MAX_SELECTORS)
            f->sel[f->n_sel++] = &n->u.vs;
        break;
    case N_MSEL:
        selectors(n->u.ms.vs, f);
        break;
    case N_CALL:
        for (size_t i = 0; i < n->u.call.n; i++)
            selectors(n->u.call.args[i], f);
        break;
    case N_AGG:
        selectors(n->u.agg.param, f);
        selectors(n->u.agg.expr, f);
        break;
    case N_BINARY:
        selectors(n->u.bin.lhs, f);
        selectors(n->u.bin.rhs, f);
        break;
    case N_UNARY:
        selectors(n->u.un.expr, f);
        break;
    case N_PAREN:
        selectors(n->u.paren.expr, f);
        break;
    default:
        break;
    }
}

static const char *label(const am_expo_sample *s, const char *name)
{
    if (strcmp(name, "__name__") == 0)
        return s->name;
    for (size_t i = 0; i < s->n_labels; i++)
        if (strcmp(s->label_names[i], name) == 0)
            return s->label_values[i];
    return "";
}

static bool matches(const am_pql_vsel *vs, const am_expo_sample *s)
{
    if (vs->name && strcmp(vs->name, s->name) != 0)
        return false;
    for (size_t i = 0; i < vs->n_m; i++)
        if (!am__matcher_ok(&vs->m[i], label(s, vs->m[i].name)))
            return false;
    return true;
}

static void pairs(am_buf *b, const char *first, const char *first_value, const char *const *names,
                  const char *const *values, size_t n)
{
    am_buf_putc(b, '{');
    if (first) {
        am__buf_json_string(b, first, strlen(first));
        am_buf_putc(b, ':');
        am__buf_json_string(b, first_value, strlen(first_value));
    }
    for (size_t i = 0; i < n; i++) {
        if (first || i)
            am_buf_putc(b, ',');
        am__buf_json_string(b, names[i], strlen(names[i]));
        am_buf_putc(b, ':');
        am__buf_json_string(b, values[i], strlen(values[i]));
    }
    am_buf_putc(b, '}');
}

static int on_sample(void *ud, const am_expo_sample *s)
{
    find *f = ud;
    if (!s->has_exemplar)
        return 0;
    double t = s->ex_has_timestamp ? s->ex_timestamp : am_unix_time();
    if (t < f->start_s || t > f->end_s)
        return 0;
    bool any = false;
    for (size_t i = 0; i < f->n_sel && !any; i++)
        any = matches(f->sel[i], s);
    if (!any)
        return 0;
    am_buf *b = f->out;
    am_buf_puts(b, f->n++ ? ",{\"seriesLabels\":" : "{\"seriesLabels\":");
    pairs(b, "__name__", s->name, s->label_names, s->label_values, s->n_labels);
    am_buf_puts(b, ",\"exemplars\":[{\"labels\":");
    pairs(b, NULL, NULL, s->ex_label_names, s->ex_label_values, s->ex_n_labels);
    am_buf_puts(b, ",\"value\":\"");
    am__buf_double(b, s->ex_value);
    /* Prometheus: seconds with milliseconds, as a JSON number */
    am_buf_printf(b, "\",\"timestamp\":%.3f}]}", floor(t * 1000) / 1000);
    return 0;
}

am_err am__exemplars_find(am_registry *const *regs, size_t n_regs, const am_promql *q,
                          double start_s, double end_s, am_buf *out)
{
    find f = {.start_s = start_s, .end_s = end_s, .out = out};
    selectors(q->root, &f);
    am_buf_puts(out, "[");
    if (f.n_sel && n_regs) {
        char *text;
        size_t len;
        am_err rc = am_encode(regs, n_regs, AM_FORMAT_OPENMETRICS, &text, &len);
        if (rc)
            return rc;
        am_expo_opts o = AM_EXPO_OPTS_INIT;
        o.max_line_bytes = len + 1; /* our own text: every line is taken */
        rc = am__expo_parse(text, len, AM_EXPO_OPENMETRICS, &o, on_sample, &f, NULL);
        am_free(text);
        if (rc)
            return rc;
    }
    am_buf_puts(out, "]");
    return am_buf_err(out);
}
