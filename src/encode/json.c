/*
** json.c: the JSON snapshot -- every family, keyed for programs to read.
**
**   {"timestamp":1732468800.123,"metrics":{
**     "messaging.queue_length":{"name":"messaging_queue_length","type":"gauge",
**        "help":"...","series":[{"labels":{"agent":"planner:1","priority":"5"},"value":3}]},
**     ...}}
**
** Keys are each family's json_name (the dotted names of the messaging spec)
** or its Prometheus name. Series carry their labels as an object and their
** value by type: "value" (counter, gauge, unknown, info), "count"/"sum"/
** "buckets" (histogram, cumulative, keyed by le), "count"/"sum" (summary), "states" (stateset).
** NaN and the infinities, which JSON lacks, are the strings "NaN", "+Inf",
** "-Inf".
*/
#include <math.h>
#include <string.h>

#include "agentmon/timer.h"
#include "../util/fmt.h"
#include "../util/render.h"
#include "encoder.h"

static void number(am_buf *b, double v)
{
    if (isfinite(v)) {
        am__buf_double(b, v);
        return;
    }
    am_buf_putc(b, '"');
    am__buf_double(b, v);
    am_buf_putc(b, '"');
}

static void str(am_buf *b, const char *s)
{
    am__buf_json_string(b, s, strlen(s));
}

static void begin(am_enc *e)
{
    am_buf_append(e->b, "{\"timestamp\":", 13);
    am__buf_millis(e->b, am_unix_time());
    am_buf_append(e->b, ",\"metrics\":{", 12);
}

static void end(am_enc *e)
{
    am_buf_append(e->b, "}}\n", 3);
}

static const char *type_word(am_metric_type t)
{
    static const char *const w[] = {"",     "counter",  "gauge",   "histogram",
                                    "info", "stateset", "unknown", "summary"};
    return t >= AM_TYPE_COUNTER && t <= AM_TYPE_SUMMARY ? w[t] : "unknown";
}

static void family(am_enc *e, const am_family *f)
{
    am_buf *b = e->b;
    char key[300];
    if (e->n_families)
        am_buf_putc(b, ',');
    am__family_json_key(f, key, sizeof key);
    str(b, key);
    am_buf_append(b, ":{\"name\":", 9);
    am__family_expo_name(f, key, sizeof key);
    str(b, key);
    am_buf_append(b, ",\"type\":", 8);
    str(b, type_word(f->type));
    am_buf_append(b, ",\"help\":", 8);
    str(b, f->help);
    if (f->unit) {
        am_buf_append(b, ",\"unit\":", 8);
        str(b, f->unit);
    }
    am_buf_append(b, ",\"series\":[", 11);
}

static void family_end(am_enc *e, const am_family *f)
{
    (void)f;
    am_buf_append(e->b, "]}", 2);
}

/* {"name":"value",...} from NUL-separated strings. */
static void labels_object(am_buf *b, const am_family *f, const am_series *s)
{
    bool pairs = f->type == AM_TYPE_INFO;
    const char *p = s->values;
    am_buf_putc(b, '{');
    for (size_t i = 0; i < s->n_values; i += pairs ? 2 : 1) {
        if (i)
            am_buf_putc(b, ',');
        const char *name = pairs ? p : f->label_names[i];
        if (pairs)
            p += strlen(p) + 1;
        str(b, name);
        am_buf_putc(b, ':');
        str(b, p);
        p += strlen(p) + 1;
    }
    am_buf_putc(b, '}');
}

/* Exemplar labels back from their rendered form name="escaped",... */
static void exemplar(am_buf *b, const am_exview *x)
{
    am_buf_append(b, "{\"labels\":{", 11);
    const char *p = x->labels, *end = x->labels + x->len;
    bool first = true;
    while (p < end) {
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (!eq || eq + 1 >= end)
            break;
        if (!first)
            am_buf_putc(b, ',');
        first = false;
        am__buf_json_string(b, p, (size_t)(eq - p));
        am_buf_putc(b, ':');
        char val[AM_EXEMPLAR_TEXT + 1];
        size_t n, close;
        if (am__unescape_label(val, eq + 2, &n, &close) != AM_OK)
            n = 0; /* never: am__exemplar_render wrote the text */
        am__buf_json_string(b, val, n);
        p = eq + 2 + close + 2; /* past the closing quote and the comma */
    }
    am_buf_append(b, "},\"value\":", 10);
    number(b, x->value);
    am_buf_append(b, ",\"timestamp\":", 13);
    am__buf_millis(b, x->ts);
    am_buf_putc(b, '}');
}

static void series(am_enc *e, const am_family *f, const am_series *s)
{
    am_buf *b = e->b;
    if (e->n_series)
        am_buf_putc(b, ',');
    am_buf_append(b, "{\"labels\":", 10);
    labels_object(b, f, s);
    switch (f->type) {
    case AM_TYPE_HISTOGRAM: {
        am_buf_append(b, ",\"count\":", 9);
        number(b, s->buckets[f->n_bounds]);
        am_buf_append(b, ",\"sum\":", 7);
        number(b, s->sum);
        am_buf_append(b, ",\"buckets\":{", 12);
        for (size_t i = 0; i <= f->n_bounds; i++) {
            if (i)
                am_buf_putc(b, ',');
            str(b, i < f->n_bounds ? f->le[i] : "+Inf");
            am_buf_putc(b, ':');
            number(b, s->buckets[i]);
        }
        am_buf_putc(b, '}');
        bool any = false;
        for (size_t i = 0; s->ex && i <= f->n_bounds; i++) {
            if (!s->ex[i].set)
                continue;
            am_buf_append(b, any ? "," : ",\"exemplars\":{", any ? 1 : 14);
            any = true;
            str(b, i < f->n_bounds ? f->le[i] : "+Inf");
            am_buf_putc(b, ':');
            exemplar(b, &s->ex[i]);
        }
        if (any)
            am_buf_putc(b, '}');
        break;
    }
    case AM_TYPE_SUMMARY:
        am_buf_append(b, ",\"count\":", 9);
        number(b, s->value);
        am_buf_append(b, ",\"sum\":", 7);
        number(b, s->sum);
        break;
    case AM_TYPE_STATESET:
        am_buf_append(b, ",\"states\":{", 11);
        for (size_t i = 0; i < f->n_states; i++) {
            if (i)
                am_buf_putc(b, ',');
            str(b, f->states[i]);
            am_buf_puts(b, (s->bits >> i) & 1 ? ":true" : ":false");
        }
        am_buf_putc(b, '}');
        break;
    default:
        am_buf_append(b, ",\"value\":", 9);
        number(b, s->value);
        if (s->ex && s->ex[0].set) {
            am_buf_append(b, ",\"exemplar\":", 12);
            exemplar(b, &s->ex[0]);
        }
        break;
    }
    am_buf_putc(b, '}');
}

const am_encoder am__enc_json = {1, begin, family, series, family_end, end};
