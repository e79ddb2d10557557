/*
** results_json.c: store results -> the query API's JSON (see
** results_json.h).
**
** The store calls back with values; each callback appends its piece to the
** output buffer. The buffer's error is sticky, so a callback only checks
** it to stop the walk early (returning AM_ENOMEM, which the store hands
** back as it is). On any error the output is cut back to where it began:
** a failed query never leaves half an answer behind.
*/
#include <math.h>
#include <string.h>

#include "../../util/civil.h"
#include "../../util/error.h"
#include "../../util/fmt.h"
#include "../../util/render.h"
#include "results_json.h"

/* RFC 3339, UTC, milliseconds, quoted: "2026-01-02T03:04:05.678Z" */
static void put_time(am_buf *b, double t)
{
    char text[25];
    am__rfc3339_ms(t, text);
    am_buf_putc(b, '"');
    am_buf_append(b, text, 24);
    am_buf_putc(b, '"');
}

/* A number; infinities and NaN as the strings JSON lacks them as. */
static void put_real(am_buf *b, double d)
{
    if (isinf(d))
        am_buf_puts(b, d > 0 ? "\"+Inf\"" : "\"-Inf\"");
    else if (isnan(d))
        am_buf_puts(b, "\"NaN\"");
    else
        am__buf_double(b, d);
}

static void put_string(am_buf *b, const char *s)
{
    if (s)
        am__buf_json_string(b, s, strlen(s));
    else
        am_buf_puts(b, "null");
}

static void put_value(am_buf *b, am_col_type type, const am_value *v)
{
    if (v->is_null) {
        am_buf_puts(b, "null");
        return;
    }
    switch (type) {
    case AM_COL_TEXT:
        put_string(b, v->v.s);
        break;
    case AM_COL_INT:
        am__buf_int(b, v->v.i);
        break;
    case AM_COL_REAL:
        put_real(b, v->v.d);
        break;
    case AM_COL_TIME:
        put_time(b, v->v.d);
        break;
    }
}

/* Stop the walk once the buffer has failed. */
static int status(const am_buf *b)
{
    return am_buf_err(b) ? AM_ENOMEM : 0;
}

/* The end of a rendering: the error, and the output cut back on one. */
static am_err finish(am_buf *out, size_t len0, am_err rc)
{
    if (am_buf_err(out))
        return am__err(am_buf_err(out), "the result does not fit in the output buffer");
    if (rc) {
        out->len = len0;
        out->p[len0] = '\0';
    }
    return rc;
}

/* ---- rows ------------------------------------------------------------- */

typedef struct rows_out {
    am_buf *out;
    size_t n;
} rows_out;

static int on_row(void *ud, const am_table *t, const am_value *vals)
{
    rows_out *r = ud;
    am_buf_puts(r->out, r->n++ ? ",{" : "{");
    for (size_t i = 0; i < t->n_cols; i++) {
        am_buf_puts(r->out, i ? ",\"" : "\"");
        am_buf_puts(r->out, t->cols[i].name);
        am_buf_puts(r->out, "\":");
        put_value(r->out, t->cols[i].type, &vals[i]);
    }
    am_buf_putc(r->out, '}');
    return status(r->out);
}

am_err am__json_select(am_store *s, const am_store_query *q, am_buf *out, size_t *n_rows,
                       char next_cursor[AM_STORE_CURSOR_MAX])
{
    size_t len0 = out->len;
    rows_out r = {out, 0};
    am_buf_putc(out, '[');
    am_err rc = am_store_select(s, q, on_row, &r, n_rows, next_cursor);
    am_buf_putc(out, ']');
    return finish(out, len0, rc);
}

/* ---- summaries -------------------------------------------------------- */

typedef struct summary_out {
    am_buf *out;
    const am_table *t;
    const am_store_summary *q;
    size_t n;     /* points written */
    size_t group; /* of the last one */
} summary_out;

static void put_percentile(am_buf *b, const char *name, double v)
{
    am_buf_puts(b, name);
    if (isnan(v))
        am_buf_puts(b, "null");
    else
        put_real(b, v);
}

static int on_point(void *ud, const am_store_point *p)
{
    summary_out *o = ud;
    am_buf *b = o->out;
    if (o->n == 0 || p->group != o->group) {
        am_buf_puts(b, o->n ? "]},{\"group\":{" : "{\"group\":{");
        for (size_t k = 0; k < o->q->n_group_by; k++) {
            am_buf_puts(b, k ? ",\"" : "\"");
            am_buf_puts(b, o->t->cols[o->q->group_by[k]].name);
            am_buf_puts(b, "\":");
            put_string(b, p->group_vals[k]);
        }
        am_buf_puts(b, "},\"points\":[{\"t\":");
        o->group = p->group;
    } else {
        am_buf_puts(b, ",{\"t\":");
    }
    o->n++;
    put_time(b, p->t);
    am_buf_printf(b, ",\"count\":%llu", (unsigned long long)p->count);
    put_percentile(b, ",\"error_rate\":", p->error_rate);
    put_percentile(b, ",\"p50\":", p->p50);
    put_percentile(b, ",\"p95\":", p->p95);
    put_percentile(b, ",\"p99\":", p->p99);
    am_buf_putc(b, '}');
    return status(b);
}

am_err am__json_summary(am_store *s, const am_store_summary *q, am_buf *out)
{
    size_t len0 = out->len;
    summary_out o = {out, am_table_get(q->q.table), q, 0, 0};
    am_buf_puts(out, "{\"step\":");
    am__buf_double(out, q->step);
    am_buf_puts(out, ",\"groups\":[");
    am_err rc = am_store_summarize(s, q, on_point, &o);
    am_buf_puts(out, o.n ? "]}]}" : "]}");
    return finish(out, len0, rc);
}

/* ---- series ----------------------------------------------------------- */

typedef struct series_out {
    am_buf *out;
    size_t n_series, n_samples;
} series_out;

static int on_series(void *ud, const char *const *names, const char *const *values, size_t n)
{
    series_out *o = ud;
    am_buf *b = o->out;
    am_buf_puts(b, o->n_series++ ? "]},{\"labels\":{" : "{\"labels\":{");
    for (size_t i = 0; i < n; i++) {
        if (i)
            am_buf_putc(b, ',');
        put_string(b, names[i]);
        am_buf_putc(b, ':');
        put_string(b, values[i]);
    }
    am_buf_puts(b, "},\"points\":[");
    o->n_samples = 0;
    return status(b);
}

static int on_sample(void *ud, double t, double v)
{
    series_out *o = ud;
    am_buf *b = o->out;
    am_buf_puts(b, o->n_samples++ ? ",[" : "[");
    am__buf_millis(b, t);
    am_buf_putc(b, ',');
    put_real(b, v);
    am_buf_putc(b, ']');
    return status(b);
}

am_err am__json_series(am_store *s, const am_store_series *q, am_buf *out)
{
    size_t len0 = out->len;
    series_out o = {out, 0, 0};
    am_buf_puts(out, "{\"series\":[");
    am_err rc = am_store_series_query(s, q, on_series, on_sample, &o);
    am_buf_puts(out, o.n_series ? "]}]}" : "]}");
    return finish(out, len0, rc);
}
