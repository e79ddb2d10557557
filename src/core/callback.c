/*
** callback.c: callback families and the sink their collect function fills.
**
** A callback family has no cells: its series exist only while an exposition
** runs, computed by the user's function (a queue length read from Redis, a
** value from /proc). Each reported series is checked like a child would be
** -- label count, UTF-8, counter values >= 0 -- and a label set reported
** twice is refused, since a duplicate series makes the exposition invalid.
*/
#include <math.h>
#include <string.h>

#include "../util/alloc.h"
#include "sink.h"
#include "typed.h"
#include "../util/render.h"
#include "../util/validate.h"

am_err am_callback_new(am_registry *r, am_metric_type type, const am_metric_opts *o,
                       am_collect_fn fn, void *userdata, am_callback **out)
{
    if (type != AM_TYPE_GAUGE && type != AM_TYPE_COUNTER && type != AM_TYPE_UNKNOWN)
        return am__err(AM_EINVAL, "callback metrics are gauges, counters or unknown");
    if (!fn || !out)
        return am__err(AM_EINVAL, "collect function or out pointer is NULL");
    am_family *f;
    am_err rc = am__register(r, type, o, fn, userdata, &f);
    if (rc == AM_OK)
        *out = (am_callback *)atomic_load_explicit(&f->root, am_relaxed);
    return rc;
}

void am__sink_init(am_sink *s, am_family *f)
{
    memset(s, 0, sizeof *s);
    s->f = f;
    am_buf_init(&s->strs, 0);
}

void am__sink_collect(am_sink *s)
{
    s->f->collect(s, s->f->collect_ud);
}

void am__sink_free(am_sink *s)
{
    am_buf_free(&s->strs);
    am__free(s->items);
    am__map_free(&s->set);
    memset(s, 0, sizeof *s);
}

static bool same_values(const am_sink *s, const am_sink_item *it, const char *const *values,
                        size_t n)
{
    const char *p = s->strs.p + it->values_off;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(p, values[i]) != 0)
            return false;
        p += strlen(p) + 1;
    }
    return true;
}

/* Insert item index idx into the duplicate set; false if already there
   (or out of memory: s->err). */
static bool set_add(am_sink *s, size_t idx, const char *const *values, size_t n)
{
    uint32_t h = s->items[idx].hash;
    size_t i = AM__MAP_PROBE_START;
    for (am__map_slot *sl; (sl = am__map_probe(&s->set, h, &i));)
        if (same_values(s, &s->items[(uintptr_t)sl->val - 1], values, n))
            return false;
    if (am__map_put_h(&s->set, h, (void *)(uintptr_t)(idx + 1))) {
        s->err = AM_ENOMEM;
        return false;
    }
    return true;
}

am_err am_sink_put(am_sink *s, const char *const *values, size_t n, double v)
{
    if (!s)
        return am__err(AM_EINVAL, "sink is NULL");
    am_family *f = s->f;
    if (n != f->n_labels || (n && !values))
        return am__err(AM_EINVAL, "metric \"%s\" has %zu labels, got %zu values", f->name,
                       f->n_labels, n);
    if (f->type == AM_TYPE_COUNTER && (!(v >= 0) || isinf(v)))
        return am__err(AM_EINVAL, "counter \"%s\": value %g is not finite and >= 0", f->name, v);
    size_t lens[AM_MAX_LABELS];
    for (size_t i = 0; i < n; i++) {
        am_err rc = am__check_text(values[i], AM_MAX_LABEL_VALUE, "label value");
        if (rc)
            return rc;
    }
    am_sink_item *items = am__grow(s->items, &s->cap, s->n + 1, sizeof *items, 16);
    if (!items)
        return s->err = am__err(AM_ENOMEM, "out of memory collecting \"%s\"", f->name);
    s->items = items;
    am_sink_item *it = &s->items[s->n];
    it->v = v;
    it->hash = am__labels_hash(values, n, lens);
    if (!set_add(s, s->n, values, n)) {
        if (s->err)
            return am__err(AM_ENOMEM, "out of memory collecting \"%s\"", f->name);
        return am__err(AM_EINVAL, "metric \"%s\": this label set was already reported", f->name);
    }
    size_t mark = s->strs.len;
    it->values_off = mark;
    for (size_t i = 0; i < n; i++)
        am_buf_append(&s->strs, values[i], lens[i] + 1);
    size_t rlen = am__render_pairs(NULL, (const char *const *)f->label_names, values, n, 1);
    char *w = am_buf_reserve(&s->strs, rlen + 1);
    if (!w || am_buf_err(&s->strs)) {
        s->err = AM_ENOMEM;
        return am__err(AM_ENOMEM, "out of memory collecting \"%s\"", f->name);
    }
    it->labels_off = s->strs.len;
    it->labels_len = rlen;
    am__render_pairs(w, (const char *const *)f->label_names, values, n, 1);
    s->strs.len += rlen + 1;
    s->strs.p[s->strs.len] = '\0';
    s->n++;
    return AM_OK;
}
