/*
** event_metrics.c: records -> the collector's registry (see
** event_metrics.h). The packs do the recording, so a series moved by an
** event is the one an embedded agent would have moved; this file only maps
** columns to their arguments.
*/
#include <stdio.h>
#include <string.h>

#include "agentmon/packs.h"
#include "../../util/alloc.h"
#include "../../util/error.h"
#include "../../util/pack.h"
#include "event_metrics.h"
#include "events.h"
#include "statsd.h"
#include "../store/labels.h"
#include "statsd_agg.h"

static const am_metric_def EVENTS[] = {
    {"ingest", AM_TYPE_COUNTER, "agentmon_ingest_events_total", NULL,
     "Events the collector stored, by protocol and type (the table: communication, system, "
     "agent, task, llm, metric).",
     NULL, AM_DEF_LABELS("protocol", "type"), NULL, 0, NULL, "agentmon"},
    {"ingest", AM_TYPE_COUNTER, "agentmon_ingest_unapplied_total", NULL,
     "Events stored that moved none of the collector's series: a metric event that clashes "
     "with an earlier one of the same request (another type, other labels); events that clash "
     "with what the collector held already are rejected instead.",
     NULL, AM_DEF_LABELS("protocol", "type"), NULL, 0, NULL, "agentmon"},
};
const am_def_table am__table_events = {EVENTS, 2};

enum { CPU, MEM, DISK, RX, TX, LOAD1, N_SYSTEM };

static const am_metric_def SYSTEM[] = {
    [CPU] = {"system", AM_TYPE_GAUGE, "agentmon_system_cpu_usage_percent", NULL,
             "CPU busy over the last sample interval, percent of all CPUs.", NULL,
             AM_DEF_LABELS("host"), NULL, 0, NULL, "monitoring-analytics-slice.md"},
    [MEM] = {"system", AM_TYPE_GAUGE, "agentmon_system_memory_used_bytes", NULL,
             "Memory in use (total - available).", "bytes", AM_DEF_LABELS("host"), NULL, 0, NULL,
             "monitoring-analytics-slice.md"},
    [DISK] = {"system", AM_TYPE_GAUGE, "agentmon_system_disk_used_bytes", NULL,
              "Disk space in use on the file system of the store.", "bytes", AM_DEF_LABELS("host"),
              NULL, 0, NULL, "monitoring-analytics-slice.md"},
    [RX] = {"system", AM_TYPE_GAUGE, "agentmon_system_network_receive_bytes", NULL,
            "Bytes received by all interfaces but loopback since boot.", "bytes",
            AM_DEF_LABELS("host"), NULL, 0, NULL, "monitoring-analytics-slice.md"},
    [TX] = {"system", AM_TYPE_GAUGE, "agentmon_system_network_transmit_bytes", NULL,
            "Bytes sent by all interfaces but loopback since boot.", "bytes", AM_DEF_LABELS("host"),
            NULL, 0, NULL, "monitoring-analytics-slice.md"},
    [LOAD1] = {"system", AM_TYPE_GAUGE, "agentmon_system_load1", NULL,
               "Load average over one minute.", NULL, AM_DEF_LABELS("host"), NULL, 0, NULL,
               "monitoring-analytics-slice.md"},
};
const am_def_table am__table_system = {SYSTEM, N_SYSTEM};

struct am_event_metrics {
    /* metric events: an aggregator of their own, never flushed to the
       store (the events are stored as they came) */
    am_statsd_agg *agg;
    am_task_pack *task;
    am_llm_pack *llm;
    am_worker_pack *worker;
    am__pack *events;
    am__pack *ingest; /* am__defs_ingest: lines and invalid, shared with StatsD */
    size_t lines, invalid;
    am__pack *system;
};

am_err am__event_metrics_new(am_registry *r, size_t max_series, am_event_metrics **out)
{
    am_statsd_agg_opts ao = AM_STATSD_AGG_OPTS_INIT;
    ao.max_series = max_series;
    am_event_metrics *m = am__calloc(1, sizeof *m);
    if (!m)
        return am__err(AM_ENOMEM, "out of memory");
    am_err rc;
    if ((rc = am_task_pack_new(r, &m->task)) || (rc = am_llm_pack_new(r, &m->llm)) ||
        (rc = am_worker_pack_new(r, &m->worker)) || (rc = am__pack_new(r, EVENTS, 2, &m->events)) ||
        (rc = am__pack_new(r, am__defs_ingest, am__n_defs_ingest, &m->ingest)) ||
        (rc = am__pack_new(r, SYSTEM, N_SYSTEM, &m->system)) ||
        (rc = am__statsd_agg_new(r, &ao, &m->agg))) {
        am__event_metrics_free(m);
        return rc;
    }
    for (size_t i = 0; i < am__n_defs_ingest; i++) {
        if (strcmp(am__defs_ingest[i].name, "agentmon_ingest_lines_total") == 0)
            m->lines = i;
        if (strcmp(am__defs_ingest[i].name, "agentmon_ingest_invalid_total") == 0)
            m->invalid = i;
    }
    *out = m;
    return AM_OK;
}

size_t am__event_metrics_n_series(am_event_metrics *m)
{
    return am__statsd_agg_n_series(m->agg);
}

void am__event_metrics_free(am_event_metrics *m)
{
    if (!m)
        return;
    am_task_pack_free(m->task);
    am_llm_pack_free(m->llm);
    am_worker_pack_free(m->worker);
    am__pack_free(m->events);
    am__pack_free(m->ingest);
    am__pack_free(m->system);
    am__statsd_agg_free(m->agg);
    am__free(m);
}

/* Column accessors: the value of column c, or a default when NULL. */
static const char *text(const am_record *r, int c, const char *dflt)
{
    return !r->vals[c].is_null && r->vals[c].v.s ? r->vals[c].v.s : dflt;
}

static bool real(const am_record *r, int c, double *out)
{
    if (r->vals[c].is_null)
        return false;
    const am_table *t = am_table_get(r->table);
    *out = t->cols[c].type == AM_COL_INT ? (double)r->vals[c].v.i : r->vals[c].v.d;
    return true;
}

/* The record's trace as a context for exemplars: its trace id, a span of
   ours (the collector's receipt of the event), sampled. */
static const am_trace_ctx *trace_of(const am_record *r, am_trace_ctx *ctx)
{
    char hex[33], tp[56];
    if (!am__event_trace_hex(r, hex))
        return NULL;
    am_trace_ctx span;
    am_trace_new(&span);
    char sp[17];
    am_span_id_hex(&span, sp);
    snprintf(tp, sizeof tp, "00-%s-%s-01", hex, sp);
    return am_traceparent_parse(tp, strlen(tp), ctx) == AM_OK ? ctx : NULL;
}

/* A metric event, as the StatsD line it amounts to: one mechanism feeds
   the registry from both (statsd_agg.c: names, families, label checks).
   is_check: only say whether it would be applied. */
static am_err metric(am_event_metrics *m, const am_record *r, bool is_check)
{
    static const struct {
        const char *type;
        am_statsd_type as;
    } KINDS[] = {{"counter", AM_STATSD_COUNTER},
                 {"gauge", AM_STATSD_GAUGE},
                 {"histogram", AM_STATSD_HISTOGRAM}};
    const char *type = text(r, AM_METRIC_TYPE, ""), *labels = text(r, AM_METRIC_LABELS, "");
    am_statsd_line l;
    memset(&l, 0, sizeof l);
    for (size_t i = 0; i < sizeof KINDS / sizeof KINDS[0]; i++)
        if (strcmp(type, KINDS[i].type) == 0)
            l.type = KINDS[i].as;
    double v;
    if (!l.type || !real(r, AM_METRIC_VALUE, &v))
        return AM_OK; /* summary and untyped samples are stored only */
    size_t len = strlen(labels), n;
    char *scratch = am__malloc(len + 1);
    if (!scratch)
        return am__err(AM_ENOMEM, "out of memory");
    const char *names[AM_STATSD_MAX_TAGS], *values[AM_STATSD_MAX_TAGS];
    am_err rc = am__labels_split(labels, scratch, len + 1, names, values, AM_STATSD_MAX_TAGS, &n);
    if (!rc) {
        const char *name = text(r, AM_METRIC_NAME, "");
        l.name = (am_statsd_str){name, strlen(name)};
        l.n_values = 1;
        l.values[0] = v;
        l.sample_rate = 1;
        l.n_tags = n;
        for (size_t i = 0; i < n; i++) {
            l.tag_keys[i] = (am_statsd_str){names[i], strlen(names[i])};
            l.tag_values[i] = (am_statsd_str){values[i], strlen(values[i])};
        }
        l.tags = (am_statsd_str){labels, len}; /* canonical: a fine cache key */
        rc = is_check ? am__statsd_agg_check(m->agg, &l) : am__statsd_agg_line(m->agg, &l);
    }
    am__free(scratch);
    return rc;
}

am_err am__event_metrics_check(am_event_metrics *m, const am_record *r)
{
    return r->table == AM_T_METRIC ? metric(m, r, true) : AM_OK;
}

am_err am__event_metrics_apply(am_event_metrics *m, const am_record *r)
{
    am_trace_ctx ctx;
    double d = 0, n = 0;
    switch (r->table) {
    case AM_T_TASK: {
        const char *status = text(r, AM_TASK_STATUS, "success");
        const char *err =
            strcmp(status, "success") == 0 ? NULL : text(r, AM_TASK_ERROR_TYPE, "unknown");
        real(r, AM_TASK_DURATION, &d);
        return am_task_finished(m->task, text(r, AM_TASK_AGENT_ID, ""), err, d, trace_of(r, &ctx));
    }
    case AM_T_LLM: {
        am_llm_call call = AM_LLM_CALL_INIT;
        call.provider = text(r, AM_LLM_PROVIDER, "");
        call.model = text(r, AM_LLM_MODEL, "");
        call.task_type = text(r, AM_LLM_TASK_TYPE, NULL);
        if (strcmp(text(r, AM_LLM_STATUS, "success"), "success") != 0)
            call.error_type = text(r, AM_LLM_ERROR_TYPE, "unknown");
        real(r, AM_LLM_LATENCY, &call.seconds);
        if (real(r, AM_LLM_INPUT_TOKENS, &n))
            call.input_tokens = (uint64_t)n;
        if (real(r, AM_LLM_OUTPUT_TOKENS, &n))
            call.output_tokens = (uint64_t)n;
        call.trace = trace_of(r, &ctx);
        return am_llm_record(m->llm, &call);
    }
    case AM_T_COMMUNICATION:
        return am_worker_message(m->worker, text(r, AM_COMM_SOURCE_AGENT_ID, ""),
                                 text(r, AM_COMM_TARGET_AGENT_ID, ""),
                                 text(r, AM_COMM_MESSAGE_TYPE, ""));
    case AM_T_SYSTEM: {
        static const struct {
            int idx;
            int col;
            double scale;
        } MAP[] = {{CPU, AM_SYS_CPU_USAGE, 1},
                   {MEM, AM_SYS_MEMORY_USAGE, 1024.0 * 1024.0},
                   {DISK, AM_SYS_DISK_USAGE, 1024.0 * 1024.0},
                   {RX, AM_SYS_NETWORK_RX_BYTES, 1},
                   {TX, AM_SYS_NETWORK_TX_BYTES, 1},
                   {LOAD1, AM_SYS_LOAD_1M, 1}};
        const char *host = text(r, AM_SYS_HOST, "");
        am_err worst = AM_OK;
        for (size_t i = 0; i < sizeof MAP / sizeof MAP[0]; i++)
            if (real(r, MAP[i].col, &d))
                worst = am__pack_worst(worst, am__pack_set(m->system, (size_t)MAP[i].idx,
                                                           AM_LABELS(host), d * MAP[i].scale));
        return worst;
    }
    case AM_T_METRIC:
        return metric(m, r, false);
    default:
        return AM_OK;
    }
}

void am__event_metrics_received(am_event_metrics *m, const char *protocol, size_t n, size_t invalid)
{
    if (n)
        am__pack_count(m->ingest, m->lines, AM_LABELS(protocol), (double)n);
    if (invalid)
        am__pack_count(m->ingest, m->invalid, AM_LABELS(protocol), (double)invalid);
}

void am__event_metrics_stored(am_event_metrics *m, const char *protocol, am_table_id t)
{
    const am_table *tab = am_table_get(t);
    if (tab)
        am__pack_count(m->events, 0, AM_LABELS(protocol, tab->api_name), 1);
}

void am__event_metrics_unapplied(am_event_metrics *m, const char *protocol, am_table_id t)
{
    const am_table *tab = am_table_get(t);
    if (tab)
        am__pack_count(m->events, 1, AM_LABELS(protocol, tab->api_name), 1);
}
