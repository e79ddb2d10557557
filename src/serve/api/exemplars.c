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
** context). am_encode_exemplars() (expose.h) walks them, each with its
** sample's name and labels as the OpenMetrics text names them and its
** time as that text carries it, so the answer is what encoding the
** registries as OpenMetrics and parsing them back gave (what this file did
** until issue 14, at 5-95 ms and a 280 KB text per request), without the
** text. The query is parsed as PromQL (alert/), and its vector selectors
** are the filter, as in Prometheus: an exemplar is answered when its
** series matches any selector of the expression and its time is in
** [start, end].
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
#include "../../alert/promql.h"
#include "../../util/fmt.h"
#include "../../util/render.h"
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

static const char *label(const am_label_pair *p, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) /* p[0] is __name__ */
        if (strcmp(p[i].name, name) == 0)
            return p[i].value;
    return "";
}

static bool matches(const am_pql_vsel *vs, const am_label_pair *p, size_t n)
{
    if (vs->name && strcmp(vs->name, p[0].value) != 0)
        return false;
    for (size_t i = 0; i < vs->n_m; i++)
        if (!am__matcher_ok(&vs->m[i], label(p, n, vs->m[i].name)))
            return false;
    return true;
}

static void pairs(am_buf *b, const am_label_pair *p, size_t n)
{
    am_buf_putc(b, '{');
    for (size_t i = 0; i < n; i++) {
        if (i)
            am_buf_putc(b, ',');
        am__buf_json_string(b, p[i].name, strlen(p[i].name));
        am_buf_putc(b, ':');
        am__buf_json_string(b, p[i].value, strlen(p[i].value));
    }
    am_buf_putc(b, '}');
}

static int on_exemplar(void *ud, const am_label_pair *p, size_t n, const am_label_pair *ex,
                       size_t n_ex, double value, double t)
{
    find *f = ud;
    if (t < f->start_s || t > f->end_s)
        return 0;
    bool any = false;
    for (size_t i = 0; i < f->n_sel && !any; i++)
        any = matches(f->sel[i], p, n);
    if (!any)
        return 0;
    am_buf *b = f->out;
    am_buf_puts(b, f->n++ ? ",{\"seriesLabels\":" : "{\"seriesLabels\":");
    pairs(b, p, n);
    am_buf_puts(b, ",\"exemplars\":[{\"labels\":");
    pairs(b, ex, n_ex);
    am_buf_puts(b, ",\"value\":\"");
    am__buf_double(b, value);
    /* Prometheus: seconds with milliseconds, as a JSON number */
    am_buf_printf(b, "\",\"timestamp\":%.3f}]}", floor(t * 1000) / 1000);
    return am_buf_err(b) != AM_OK;
}

am_err am__exemplars_find(am_registry *const *regs, size_t n_regs, const am_promql *q,
                          double start_s, double end_s, am_buf *out)
{
    find f = {.start_s = start_s, .end_s = end_s, .out = out};
    selectors(q->root, &f);
    am_buf_puts(out, "[");
    if (f.n_sel && n_regs) {
        am_err rc = am_encode_exemplars(regs, n_regs, on_exemplar, &f);
        if (rc)
            return am_buf_err(out) ? am_buf_err(out) : rc;
    }
    am_buf_puts(out, "]");
    return am_buf_err(out);
}
