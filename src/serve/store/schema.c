/*
** schema.c: the collector's tables (see schema.h). Column names and units
** of the first three are monitoring-analytics-slice.md's; the rest are
** ours, named after the metrics the same events move.
*/
#include <string.h>

#include "schema.h"

#define ID                                                                                         \
    {                                                                                              \
        "id", AM_COL_TEXT, false, NULL                                                             \
    }
#define TS                                                                                         \
    {                                                                                              \
        "timestamp", AM_COL_TIME, false, "seconds"                                                 \
    }
/* every event may carry these (monitoring-collector-spec.md 10.3) */
#define SESSION                                                                                    \
    {                                                                                              \
        "session_id", AM_COL_TEXT, true, NULL, true                                                \
    }
#define TRACE                                                                                      \
    {                                                                                              \
        "trace_id", AM_COL_TEXT, false, NULL                                                       \
    }
#define N(a) (sizeof(a) / sizeof((a)[0]))

static const am_column COMMUNICATION[] = {
    ID,
    TS,
    SESSION,
    {"source_agent_id", AM_COL_TEXT, true, NULL, false, true},
    {"target_agent_id", AM_COL_TEXT, true, NULL, false, true},
    {"message_type", AM_COL_TEXT, true, NULL, false, true},
    {"message_size", AM_COL_INT, false, "bytes", false, true},
    {"processing_time", AM_COL_REAL, false, "ms", false, true},
    {"response_time", AM_COL_REAL, false, "ms"},
    {"cpu_usage", AM_COL_REAL, false, "%"},
    {"memory_usage", AM_COL_REAL, false, "MB"},
    {"context_size", AM_COL_INT, false, "bytes"},
    {"context_relevance_score", AM_COL_REAL, false, NULL},
    {"error_count", AM_COL_INT, false, NULL},
    {"error_type", AM_COL_TEXT, true, NULL},
    {"retry_count", AM_COL_INT, false, NULL},
    TRACE,
};

static const am_column SYSTEM[] = {
    ID,
    TS,
    {"host", AM_COL_TEXT, true, NULL},
    {"cpu_usage", AM_COL_REAL, false, "%"},
    {"memory_usage", AM_COL_REAL, false, "MB"},
    {"disk_usage", AM_COL_REAL, false, "MB"},
    {"network_latency", AM_COL_REAL, false, "ms"},
    {"network_rx_bytes", AM_COL_INT, false, "bytes"},
    {"network_tx_bytes", AM_COL_INT, false, "bytes"},
    {"load_1m", AM_COL_REAL, false, NULL},
    {"db_connections", AM_COL_INT, false, NULL},
    {"db_query_time", AM_COL_REAL, false, "ms"},
    {"db_size", AM_COL_REAL, false, "MB"},
    {"active_connections", AM_COL_INT, false, NULL},
    {"message_queue_size", AM_COL_INT, false, NULL},
    {"websocket_latency", AM_COL_REAL, false, "ms"},
    SESSION,
    TRACE,
};

static const am_column AGENT[] = {
    ID,
    TS,
    {"agent_id", AM_COL_TEXT, true, NULL, false, true},
    {"response_time", AM_COL_REAL, false, "ms"},
    {"processing_time", AM_COL_REAL, false, "ms"},
    {"error_rate", AM_COL_REAL, false, "%"},
    {"request_count", AM_COL_INT, false, NULL},
    {"success_count", AM_COL_INT, false, NULL},
    {"failure_count", AM_COL_INT, false, NULL},
    {"memory_usage", AM_COL_REAL, false, "MB"},
    {"cpu_usage", AM_COL_REAL, false, "%"},
    SESSION,
    TRACE,
};

static const am_column TASK[] = {
    ID,
    TS,
    {"agent_id", AM_COL_TEXT, true, NULL, false, true},
    {"status", AM_COL_TEXT, true, NULL, false, true}, /* success | failure, as agent_task_* */
    {"error_type", AM_COL_TEXT, true, NULL},
    {"duration", AM_COL_REAL, false, "seconds", false, true},
    SESSION,
    TRACE,
};

static const am_column LLM[] = {
    ID,
    TS,
    {"provider", AM_COL_TEXT, true, NULL, false, true},
    {"model", AM_COL_TEXT, true, NULL, false, true},
    {"task_type", AM_COL_TEXT, true, NULL},
    {"status", AM_COL_TEXT, true, NULL, false, true}, /* success | error, as ccr_requests_total */
    {"error_type", AM_COL_TEXT, true, NULL},
    {"latency", AM_COL_REAL, false, "seconds", false, true},
    {"input_tokens", AM_COL_INT, false, NULL},
    {"output_tokens", AM_COL_INT, false, NULL},
    SESSION,
    TRACE,
};

static const am_column METRIC[] = {
    ID,
    TS,
    {"name", AM_COL_TEXT, true, NULL, false, true},
    {"type", AM_COL_TEXT, true, NULL, false, true}, /* counter | gauge | histogram | ... */
    {"labels", AM_COL_TEXT, false, NULL},           /* canonical: {a="1",b="2"}, sorted by name */
    {"value", AM_COL_REAL, false, NULL, false, true},
    {"source", AM_COL_TEXT, true, NULL}, /* event | statsd | scrape:<target> */
    SESSION,
    TRACE,
};

static const am_table TABLES[AM_T__N] = {
    {AM_T_COMMUNICATION, "communication", "communication_metrics", COMMUNICATION, N(COMMUNICATION),
     "processing_time", "error_count", NULL},
    {AM_T_SYSTEM, "system", "system_metrics", SYSTEM, N(SYSTEM), "cpu_usage", NULL, NULL},
    {AM_T_AGENT, "agent", "agent_metrics", AGENT, N(AGENT), "response_time", "failure_count", NULL},
    {AM_T_TASK, "task", "task_events", TASK, N(TASK), "duration", "status", "failure"},
    {AM_T_LLM, "llm", "llm_events", LLM, N(LLM), "latency", "status", "error"},
    {AM_T_METRIC, "metric", "metric_samples", METRIC, N(METRIC), "value", NULL, NULL},
};

const am_table *am_table_get(am_table_id id)
{
    return (unsigned)id < AM_T__N ? &TABLES[id] : NULL;
}

const am_table *am_table_by_api_name(const char *name)
{
    for (int i = 0; name && i < AM_T__N; i++)
        if (strcmp(TABLES[i].api_name, name) == 0)
            return &TABLES[i];
    return NULL;
}

int am_table_col(const am_table *t, const char *name)
{
    for (size_t i = 0; name && i < t->n_cols; i++)
        if (strcmp(t->cols[i].name, name) == 0)
            return (int)i;
    return -1;
}
