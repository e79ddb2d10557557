/*
** schema.c: the collector's tables (see schema.h). Column names and units
** of the first three are monitoring-analytics-slice.md's; the rest are
** ours, named after the metrics the same events move.
**
** Each column says the migration that added it (the first argument of
** COL) and, in .indexed, the one that indexed it; schema.h's VERSIONS says
** why these numbers never change once released.
*/
#include <string.h>

#include "schema.h"

#define COL(v, n, ty, ...)                                                                         \
    {                                                                                              \
        .name = n, .type = AM_COL_##ty, .since = v, __VA_ARGS__                                    \
    }
/* every table's first two columns */
#define ID COL(1, "id", TEXT)
#define TS COL(1, "timestamp", TIME, .unit = "seconds")
/* every event may carry these (monitoring-collector-spec.md 10.3) */
#define SESSION COL(1, "session_id", TEXT, .group_by = true, .is_high_cardinality = true)
/* indexed by migration 4 for the trace view (issue 13): the records of one trace */
#define TRACE COL(1, "trace_id", TEXT, .indexed = 4, .is_sparse = true)
/* a rollup dimension of migration 1, indexed by migration 2 */
#define DIM(n, ...) COL(1, n, TEXT, .group_by = true, .indexed = 2, __VA_ARGS__)
/* Migration 6 (issue 14): every index costs each insert a B-tree
   insertion, so an index stays only where a filter on its column picks
   few rows of a time range. An enumeration of a few values (a status, a
   message or metric type) loses its index: the time index, filtered,
   reads at most a few times the rows it would have read. An optional
   column's index leaves its NULL rows out: `col = ?` still uses it, and
   `col IS NULL` matches most rows, which the time index serves as well. */
#define ENUM6 .unindexed = 6
#define SPARSE6 .sparse_since = 6
#define N(a) (sizeof(a) / sizeof((a)[0]))

static const am_column COMMUNICATION[] = {
    [AM_COMM_ID] = ID,
    [AM_COMM_TIMESTAMP] = TS,
    [AM_COMM_SESSION_ID] = SESSION,
    [AM_COMM_SOURCE_AGENT_ID] = DIM("source_agent_id", .required = true),
    [AM_COMM_TARGET_AGENT_ID] = DIM("target_agent_id", .required = true),
    [AM_COMM_MESSAGE_TYPE] = DIM("message_type", .required = true, ENUM6),
    [AM_COMM_MESSAGE_SIZE] = COL(1, "message_size", INT, .unit = "bytes", .required = true),
    [AM_COMM_PROCESSING_TIME] = COL(1, "processing_time", REAL, .unit = "ms", .required = true),
    [AM_COMM_RESPONSE_TIME] = COL(1, "response_time", REAL, .unit = "ms"),
    [AM_COMM_CPU_USAGE] = COL(1, "cpu_usage", REAL, .unit = "%"),
    [AM_COMM_MEMORY_USAGE] = COL(1, "memory_usage", REAL, .unit = "MB"),
    [AM_COMM_CONTEXT_SIZE] = COL(1, "context_size", INT, .unit = "bytes"),
    [AM_COMM_CONTEXT_RELEVANCE_SCORE] = COL(1, "context_relevance_score", REAL),
    [AM_COMM_ERROR_COUNT] = COL(1, "error_count", INT),
    [AM_COMM_ERROR_TYPE] = DIM("error_type", SPARSE6),
    [AM_COMM_RETRY_COUNT] = COL(1, "retry_count", INT),
    [AM_COMM_TRACE_ID] = TRACE,
};

static const am_column SYSTEM[] = {
    [AM_SYS_ID] = ID,
    [AM_SYS_TIMESTAMP] = TS,
    [AM_SYS_HOST] = DIM("host", SPARSE6),
    [AM_SYS_CPU_USAGE] = COL(1, "cpu_usage", REAL, .unit = "%"),
    [AM_SYS_MEMORY_USAGE] = COL(1, "memory_usage", REAL, .unit = "MB"),
    [AM_SYS_DISK_USAGE] = COL(1, "disk_usage", REAL, .unit = "MB"),
    [AM_SYS_NETWORK_LATENCY] = COL(1, "network_latency", REAL, .unit = "ms"),
    [AM_SYS_NETWORK_RX_BYTES] = COL(1, "network_rx_bytes", INT, .unit = "bytes"),
    [AM_SYS_NETWORK_TX_BYTES] = COL(1, "network_tx_bytes", INT, .unit = "bytes"),
    [AM_SYS_LOAD_1M] = COL(1, "load_1m", REAL),
    [AM_SYS_DB_CONNECTIONS] = COL(1, "db_connections", INT),
    [AM_SYS_DB_QUERY_TIME] = COL(1, "db_query_time", REAL, .unit = "ms"),
    [AM_SYS_DB_SIZE] = COL(1, "db_size", REAL, .unit = "MB"),
    [AM_SYS_ACTIVE_CONNECTIONS] = COL(1, "active_connections", INT),
    [AM_SYS_MESSAGE_QUEUE_SIZE] = COL(1, "message_queue_size", INT),
    [AM_SYS_WEBSOCKET_LATENCY] = COL(1, "websocket_latency", REAL, .unit = "ms"),
    [AM_SYS_SESSION_ID] = SESSION,
    [AM_SYS_TRACE_ID] = TRACE,
};

static const am_column AGENT[] = {
    [AM_AGENT_ID] = ID,
    [AM_AGENT_TIMESTAMP] = TS,
    [AM_AGENT_AGENT_ID] = DIM("agent_id", .required = true),
    [AM_AGENT_RESPONSE_TIME] = COL(1, "response_time", REAL, .unit = "ms"),
    [AM_AGENT_PROCESSING_TIME] = COL(1, "processing_time", REAL, .unit = "ms"),
    [AM_AGENT_ERROR_RATE] = COL(1, "error_rate", REAL, .unit = "%"),
    [AM_AGENT_REQUEST_COUNT] = COL(1, "request_count", INT),
    [AM_AGENT_SUCCESS_COUNT] = COL(1, "success_count", INT),
    [AM_AGENT_FAILURE_COUNT] = COL(1, "failure_count", INT),
    [AM_AGENT_MEMORY_USAGE] = COL(1, "memory_usage", REAL, .unit = "MB"),
    [AM_AGENT_CPU_USAGE] = COL(1, "cpu_usage", REAL, .unit = "%"),
    [AM_AGENT_SESSION_ID] = SESSION,
    [AM_AGENT_TRACE_ID] = TRACE,
};

static const am_column TASK[] = {
    [AM_TASK_ID] = ID,
    [AM_TASK_TIMESTAMP] = TS,
    [AM_TASK_AGENT_ID] = DIM("agent_id", .required = true),
    [AM_TASK_STATUS] =
        DIM("status", .required = true, ENUM6), /* success | failure, as agent_task_* */
    [AM_TASK_ERROR_TYPE] = DIM("error_type", SPARSE6),
    [AM_TASK_DURATION] = COL(1, "duration", REAL, .unit = "seconds", .required = true),
    [AM_TASK_SESSION_ID] = SESSION,
    [AM_TASK_TRACE_ID] = TRACE,
};

static const am_column LLM[] = {
    [AM_LLM_ID] = ID,
    [AM_LLM_TIMESTAMP] = TS,
    [AM_LLM_PROVIDER] = DIM("provider", .required = true),
    [AM_LLM_MODEL] = DIM("model", .required = true),
    [AM_LLM_TASK_TYPE] = DIM("task_type", SPARSE6),
    [AM_LLM_STATUS] =
        DIM("status", .required = true, ENUM6), /* success | error, as ccr_requests_total */
    [AM_LLM_ERROR_TYPE] = DIM("error_type", SPARSE6),
    [AM_LLM_LATENCY] = COL(1, "latency", REAL, .unit = "seconds", .required = true),
    [AM_LLM_INPUT_TOKENS] = COL(1, "input_tokens", INT),
    [AM_LLM_OUTPUT_TOKENS] = COL(1, "output_tokens", INT),
    [AM_LLM_SESSION_ID] = SESSION,
    [AM_LLM_TRACE_ID] = TRACE,
    /* the dashboard's agent filter applies to the LLM page too */
    [AM_LLM_AGENT_ID] = COL(4, "agent_id", TEXT, .group_by = true, .indexed = 4, SPARSE6),
};

static const am_column METRIC[] = {
    [AM_METRIC_ID] = ID,
    [AM_METRIC_TIMESTAMP] = TS,
    [AM_METRIC_NAME] = DIM("name", .required = true),
    [AM_METRIC_TYPE] = DIM("type", .required = true, ENUM6), /* counter | gauge | histogram | ... */
    [AM_METRIC_LABELS] = COL(1, "labels", TEXT),             /* canonical: {a="1",b="2"}, sorted */
    [AM_METRIC_VALUE] = COL(1, "value", REAL, .required = true),
    [AM_METRIC_SOURCE] = DIM("source", SPARSE6), /* event | statsd | scrape:<target> */
    [AM_METRIC_SESSION_ID] = SESSION,
    [AM_METRIC_TRACE_ID] = TRACE,
};

/* Alerting (issue 12): what a restart must not forget. */
static const am_column ALERT[] = {
    [AM_ALERT_ID] = COL(4, "id", TEXT),
    [AM_ALERT_TIMESTAMP] = COL(4, "timestamp", TIME, .unit = "seconds"),
    [AM_ALERT_ALERT_NAME] = COL(4, "alert_name", TEXT, .required = true),
    [AM_ALERT_FINGERPRINT] = COL(4, "fingerprint", TEXT, .required = true),
    [AM_ALERT_LABELS] = COL(4, "labels", TEXT),
    [AM_ALERT_STATE] = COL(4, "state", TEXT, .required = true),
    [AM_ALERT_ACTIVE_AT] = COL(4, "active_at", TIME, .unit = "seconds"),
    [AM_ALERT_FIRED_AT] = COL(4, "fired_at", TIME, .unit = "seconds"),
    [AM_ALERT_RESOLVED_AT] = COL(4, "resolved_at", TIME, .unit = "seconds"),
    [AM_ALERT_KEEP_FIRING_SINCE] = COL(4, "keep_firing_since", TIME, .unit = "seconds"),
    [AM_ALERT_LAST_SENT_AT] = COL(4, "last_sent_at", TIME, .unit = "seconds"),
    [AM_ALERT_VALUE] = COL(4, "value", REAL),
    [AM_ALERT_ANNOTATIONS] = COL(4, "annotations", TEXT),
};

/* What fired when (GET /api/v1/alerts/history), by alert or label set. */
static const am_column ALERT_HISTORY[] = {
    [AM_AHIST_ID] = COL(4, "id", TEXT),
    [AM_AHIST_TIMESTAMP] = COL(4, "timestamp", TIME, .unit = "seconds"),
    [AM_AHIST_ALERT_NAME] = COL(4, "alert_name", TEXT, .required = true, .indexed = 4),
    [AM_AHIST_FINGERPRINT] = COL(4, "fingerprint", TEXT, .required = true, .indexed = 4),
    [AM_AHIST_LABELS] = COL(4, "labels", TEXT),
    [AM_AHIST_STATE] = COL(4, "state", TEXT, .required = true),
    [AM_AHIST_VALUE] = COL(4, "value", REAL),
    [AM_AHIST_ANNOTATIONS] = COL(4, "annotations", TEXT),
};

static const am_column SILENCE[] = {
    [AM_SILENCE_ID] = COL(4, "id", TEXT),
    [AM_SILENCE_TIMESTAMP] = COL(4, "timestamp", TIME, .unit = "seconds"),
    [AM_SILENCE_MATCHERS] = COL(4, "matchers", TEXT, .required = true),
    [AM_SILENCE_STARTS_AT] = COL(4, "starts_at", TIME, .unit = "seconds", .required = true),
    [AM_SILENCE_ENDS_AT] = COL(4, "ends_at", TIME, .unit = "seconds", .required = true),
    [AM_SILENCE_CREATED_BY] = COL(4, "created_by", TEXT),
    [AM_SILENCE_COMMENT] = COL(4, "comment", TEXT),
};

/* The trace view (issue 13): a task's log lines, found by its trace id. */
static const am_column LOG[] = {
    [AM_LOG_ID] = COL(4, "id", TEXT),
    [AM_LOG_TIMESTAMP] = COL(4, "timestamp", TIME, .unit = "seconds"),
    [AM_LOG_LEVEL] = COL(4, "level", TEXT),
    [AM_LOG_COMPONENT] = COL(4, "component", TEXT),
    [AM_LOG_MESSAGE] = COL(4, "message", TEXT),
    [AM_LOG_TRACE_ID] = COL(4, "trace_id", TEXT, .indexed = 4, .is_sparse = true),
    [AM_LOG_SPAN_ID] = COL(4, "span_id", TEXT),
    [AM_LOG_AGENT_ID] = COL(4, "agent_id", TEXT),
    [AM_LOG_FIELDS] = COL(4, "fields", TEXT),
};

_Static_assert(N(COMMUNICATION) == AM_COMM__N, "communication columns and their enum");
_Static_assert(N(SYSTEM) == AM_SYS__N, "system columns and their enum");
_Static_assert(N(AGENT) == AM_AGENT__N, "agent columns and their enum");
_Static_assert(N(TASK) == AM_TASK__N, "task columns and their enum");
_Static_assert(N(LLM) == AM_LLM__N, "llm columns and their enum");
_Static_assert(N(METRIC) == AM_METRIC__N, "metric columns and their enum");
_Static_assert(N(ALERT) == AM_ALERT__N, "alert columns and their enum");
_Static_assert(N(ALERT_HISTORY) == AM_AHIST__N, "alert history columns and their enum");
_Static_assert(N(SILENCE) == AM_SILENCE__N, "silence columns and their enum");
_Static_assert(N(LOG) == AM_LOG__N, "log columns and their enum");

/* the six record tables of migration 1, rolled up by migration 3 */
#define RECORDS(t, a, s, c, tr)                                                                    \
    .id = t, .api_name = a, .sql_name = s, .cols = c, .n_cols = N(c), .trace_col = tr, .since = 1, \
    .rollup_since = 3

/* the collector's own tables of migration 4: no summaries, no rollups */
#define INTERNAL(t, a, s, c, tr)                                                                   \
    .id = t, .api_name = a, .sql_name = s, .cols = c, .n_cols = N(c), .value_col = -1,             \
    .error_col = -1, .trace_col = tr, .since = 4, .is_internal = true

static const am_table TABLES[AM_T__N] = {
    {RECORDS(AM_T_COMMUNICATION, "communication", "communication_metrics", COMMUNICATION,
             AM_COMM_TRACE_ID),
     .value_col = AM_COMM_PROCESSING_TIME, .error_col = AM_COMM_ERROR_COUNT},
    {RECORDS(AM_T_SYSTEM, "system", "system_metrics", SYSTEM, AM_SYS_TRACE_ID),
     .value_col = AM_SYS_CPU_USAGE, .error_col = -1},
    {RECORDS(AM_T_AGENT, "agent", "agent_metrics", AGENT, AM_AGENT_TRACE_ID),
     .value_col = AM_AGENT_RESPONSE_TIME, .error_col = AM_AGENT_FAILURE_COUNT},
    {RECORDS(AM_T_TASK, "task", "task_events", TASK, AM_TASK_TRACE_ID),
     .value_col = AM_TASK_DURATION, .error_col = AM_TASK_STATUS, .error_text = "failure"},
    {RECORDS(AM_T_LLM, "llm", "llm_events", LLM, AM_LLM_TRACE_ID), .value_col = AM_LLM_LATENCY,
     .error_col = AM_LLM_STATUS, .error_text = "error"},
    {RECORDS(AM_T_METRIC, "metric", "metric_samples", METRIC, AM_METRIC_TRACE_ID),
     .value_col = AM_METRIC_VALUE, .error_col = -1},
    /* migration 4 */
    {INTERNAL(AM_T_ALERT, "alert", "alert_state", ALERT, -1), .is_upsert = true, .is_kept = true},
    {INTERNAL(AM_T_ALERT_HISTORY, "alert_history", "alert_history", ALERT_HISTORY, -1)},
    {INTERNAL(AM_T_SILENCE, "silence", "silences", SILENCE, -1), .is_upsert = true,
     .is_kept = true},
    {INTERNAL(AM_T_LOG, "log", "log_lines", LOG, AM_LOG_TRACE_ID)},
};

const am_table *am_table_get(am_table_id id)
{
    return (unsigned)id < AM_T__N ? &TABLES[id] : NULL;
}

const am_table *am_table_by_api_name(const char *name)
{
    for (int i = 0; name && i < AM_T__N; i++)
        if (!TABLES[i].is_internal && strcmp(TABLES[i].api_name, name) == 0)
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

size_t am_table_cols_at(const am_table *t, int v)
{
    size_t n = 0;
    while (n < t->n_cols && t->cols[n].since <= v)
        n++;
    return t->since <= v ? n : 0;
}
