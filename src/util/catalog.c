/*
** catalog.c: registering metric definition rows (see catalog.h).
**
** One function turns a row into the am_<type>_new() call its type needs, so
** every table-driven part of agentmon registers its metrics the same way.
** (am__catalog(), the list of the library's tables, lives at the top of
** the library, in src/packs/catalog.c, because the tables belong to the
** parts above core; the collector's list is src/serve/catalog.c.) Only the
** public constructors are called, so the program's copy of util registers
** into libagentmon.so's registries as the library's copy does.
*/
#include "catalog.h"
#include "error.h"

size_t am__def_n_labels(const am_metric_def *d)
{
    size_t n = 0;
    while (d->labels && d->labels[n])
        n++;
    return n;
}

am_metric_opts am__def_opts(const am_metric_def *d)
{
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.name = d->name;
    o.json_name = d->json_name;
    o.help = d->help;
    o.unit = d->unit;
    o.label_names = d->labels;
    o.n_labels = am__def_n_labels(d);
    o.buckets = d->buckets;
    o.n_buckets = d->n_buckets;
    o.states = d->states;
    while (d->states && d->states[o.n_states])
        o.n_states++;
    return o;
}

am_err am__def_register(am_registry *r, const am_metric_def *d, void **out)
{
    am_metric_opts o = am__def_opts(d);
    switch (d->type) {
    case AM_TYPE_COUNTER:
        return am_counter_new(r, &o, (am_counter **)out);
    case AM_TYPE_GAUGE:
        return am_gauge_new(r, &o, (am_gauge **)out);
    case AM_TYPE_HISTOGRAM:
        return am_histogram_new(r, &o, (am_histogram **)out);
    case AM_TYPE_INFO:
        return am_info_new(r, &o, (am_info **)out);
    case AM_TYPE_STATESET:
        return am_stateset_new(r, &o, (am_stateset **)out);
    default:
        return am__err(AM_EINVAL, "metric \"%s\": a definition row cannot be of type %d", d->name,
                       (int)d->type);
    }
}

am_err am__defs_register(am_registry *r, const am_metric_def *defs, size_t n, void **out)
{
    for (size_t i = 0; i < n; i++) {
        am_err rc = am__def_register(r, &defs[i], &out[i]);
        if (rc)
            return rc;
    }
    return AM_OK;
}

void am__def_info(const am_metric_def *d, am_metric_def_info *out)
{
    am_metric_opts o = am__def_opts(d);
    *out = (am_metric_def_info){0};
    out->group = d->group;
    out->name = d->name;
    out->json_name = d->json_name;
    out->help = d->help;
    out->unit = d->unit;
    out->source = d->source;
    out->type = d->type;
    out->labels = d->labels;
    out->n_labels = o.n_labels;
    out->buckets = d->buckets;
    out->n_buckets = d->n_buckets;
    out->states = d->states;
    out->n_states = o.n_states;
}
