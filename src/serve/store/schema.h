/*
** schema.h: the collector's tables, described once, with the history of
** every column.
**
** Every part of `agentmon serve` that touches a record -- the JSON event
** decoder, both store backends (their migrations, INSERT and SELECT), the
** query API's parameter checks and its JSON output -- walks these tables
** instead of naming columns itself, so a column is added in one place.
** Code that needs one particular column names it by its enum below
** (vals[AM_TASK_AGENT_ID]), never by its text.
**
** The first three tables are those of monitoring-analytics-slice.md, with
** its column names and units (times in milliseconds, memory in MB); the
** next three hold the task and LLM events of monitoring-collector-spec.md
** and metrics-exposure-story.md, and generic metric samples (StatsD,
** scrapes, "metric" events). These six are the record tables: event kinds
** of POST /api/v1/events and types of GET /api/v1/metrics/{type}. The
** others are the collector's own (is_internal): alert state, alert history
** and silences for alerting, and log lines for the trace view. Every
** table has `id` (TEXT, unique) and `timestamp` (unix seconds as a double,
** UTC) as its columns 0 and 1.
**
** VERSIONS. The database is built by numbered migrations (store_migrate.c),
** and migration N is a function of N alone: every table, column, index and
** rollup carries the number of the migration that made it (since,
** indexed, sparse_since, unindexed, rollup_since), and migration N
** creates, ALTERs or drops exactly what carries N. The description is
** therefore append-only: a column is never removed, renamed or retyped
** (its index may be dropped or remade by a later migration, which says
** so in the column), and a new one goes at the END of its table
** (so columns are in the order of their `since`, and the columns a
** version has are a prefix of the table) with the next migration's number;
** a new table goes at the end of am_table_id. tests/unit/golden/
** migrations.sql holds the SQL every migration ran, and the store's tests
** fail when a change would alter it.
*/
#ifndef AM_SERVE_SCHEMA_H
#define AM_SERVE_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum am_col_type {
    AM_COL_TEXT, /* UTF-8, NULL allowed */
    AM_COL_INT,  /* int64 */
    AM_COL_REAL, /* double */
    AM_COL_TIME  /* unix seconds (double); stored as the backend's best type */
} am_col_type;

typedef struct am_column {
    const char *name;
    am_col_type type;
    bool group_by;    /* may be a summary's group_by / a rollup dimension */
    const char *unit; /* "ms", "MB", "%", "bytes", "seconds", ... or NULL */
    /* group_by, but with too many values (one per session) to be a rollup
       dimension or to have an index of its own */
    bool is_high_cardinality;
    /* an event of this table must carry it (the JSON decoder refuses one
       without); the others are SQL NULL when absent */
    bool required;
    int since;   /* the migration that added the column */
    int indexed; /* the migration that made its (column, timestamp) index; 0: none */
    /* mostly NULL (trace ids): its index leaves the NULL rows out, so rows
       without one cost no index insertion */
    bool is_sparse;
    /* the migration that remade its index leaving the NULL rows out (as
       is_sparse does from the start); 0: never */
    int sparse_since;
    /* the migration that dropped its index (no query needs it, and every
       insert paid for it); 0: never */
    int unindexed;
} am_column;

/* Query API names: /api/v1/metrics/{name}. Append-only (see VERSIONS). */
typedef enum am_table_id {
    AM_T_COMMUNICATION, /* communication_metrics */
    AM_T_SYSTEM,        /* system_metrics */
    AM_T_AGENT,         /* agent_metrics */
    AM_T_TASK,          /* task_events */
    AM_T_LLM,           /* llm_events */
    AM_T_METRIC,        /* metric_samples */
    AM_T_ALERT,         /* alert_state: one row per alert (rule + label set), replaced */
    AM_T_ALERT_HISTORY, /* alert_history: one row per state change */
    AM_T_SILENCE,       /* silences: one row per silence, replaced */
    AM_T_LOG,           /* log_lines: JSON log lines, found by trace id */
    AM_T__N
} am_table_id;

/* The columns of each table, by index into its vals[]. */
enum {
    AM_C_ID,       /* every table */
    AM_C_TIMESTAMP /* every table */
};
typedef enum am_comm_col {
    AM_COMM_ID,
    AM_COMM_TIMESTAMP,
    AM_COMM_SESSION_ID,
    AM_COMM_SOURCE_AGENT_ID,
    AM_COMM_TARGET_AGENT_ID,
    AM_COMM_MESSAGE_TYPE,
    AM_COMM_MESSAGE_SIZE,
    AM_COMM_PROCESSING_TIME,
    AM_COMM_RESPONSE_TIME,
    AM_COMM_CPU_USAGE,
    AM_COMM_MEMORY_USAGE,
    AM_COMM_CONTEXT_SIZE,
    AM_COMM_CONTEXT_RELEVANCE_SCORE,
    AM_COMM_ERROR_COUNT,
    AM_COMM_ERROR_TYPE,
    AM_COMM_RETRY_COUNT,
    AM_COMM_TRACE_ID,
    AM_COMM__N
} am_comm_col;
typedef enum am_sys_col {
    AM_SYS_ID,
    AM_SYS_TIMESTAMP,
    AM_SYS_HOST,
    AM_SYS_CPU_USAGE,
    AM_SYS_MEMORY_USAGE,
    AM_SYS_DISK_USAGE,
    AM_SYS_NETWORK_LATENCY,
    AM_SYS_NETWORK_RX_BYTES,
    AM_SYS_NETWORK_TX_BYTES,
    AM_SYS_LOAD_1M,
    AM_SYS_DB_CONNECTIONS,
    AM_SYS_DB_QUERY_TIME,
    AM_SYS_DB_SIZE,
    AM_SYS_ACTIVE_CONNECTIONS,
    AM_SYS_MESSAGE_QUEUE_SIZE,
    AM_SYS_WEBSOCKET_LATENCY,
    AM_SYS_SESSION_ID,
    AM_SYS_TRACE_ID,
    AM_SYS__N
} am_sys_col;
typedef enum am_agent_col {
    AM_AGENT_ID,
    AM_AGENT_TIMESTAMP,
    AM_AGENT_AGENT_ID,
    AM_AGENT_RESPONSE_TIME,
    AM_AGENT_PROCESSING_TIME,
    AM_AGENT_ERROR_RATE,
    AM_AGENT_REQUEST_COUNT,
    AM_AGENT_SUCCESS_COUNT,
    AM_AGENT_FAILURE_COUNT,
    AM_AGENT_MEMORY_USAGE,
    AM_AGENT_CPU_USAGE,
    AM_AGENT_SESSION_ID,
    AM_AGENT_TRACE_ID,
    AM_AGENT__N
} am_agent_col;
typedef enum am_task_col {
    AM_TASK_ID,
    AM_TASK_TIMESTAMP,
    AM_TASK_AGENT_ID,
    AM_TASK_STATUS,
    AM_TASK_ERROR_TYPE,
    AM_TASK_DURATION,
    AM_TASK_SESSION_ID,
    AM_TASK_TRACE_ID,
    AM_TASK__N
} am_task_col;
typedef enum am_llm_col {
    AM_LLM_ID,
    AM_LLM_TIMESTAMP,
    AM_LLM_PROVIDER,
    AM_LLM_MODEL,
    AM_LLM_TASK_TYPE,
    AM_LLM_STATUS,
    AM_LLM_ERROR_TYPE,
    AM_LLM_LATENCY,
    AM_LLM_INPUT_TOKENS,
    AM_LLM_OUTPUT_TOKENS,
    AM_LLM_SESSION_ID,
    AM_LLM_TRACE_ID,
    AM_LLM_AGENT_ID, /* migration 4: the agent that made the call */
    AM_LLM__N
} am_llm_col;
typedef enum am_metric_col {
    AM_METRIC_ID,
    AM_METRIC_TIMESTAMP,
    AM_METRIC_NAME,
    AM_METRIC_TYPE,
    AM_METRIC_LABELS,
    AM_METRIC_VALUE,
    AM_METRIC_SOURCE,
    AM_METRIC_SESSION_ID,
    AM_METRIC_TRACE_ID,
    AM_METRIC__N
} am_metric_col;
/* Alerting (migration 4): an alert is a rule's alert name and one label
   set; id is its identity (the writer's choice, e.g. name + fingerprint). */
typedef enum am_alert_col {
    AM_ALERT_ID,
    AM_ALERT_TIMESTAMP, /* of the last change */
    AM_ALERT_ALERT_NAME,
    AM_ALERT_FINGERPRINT, /* of the label set */
    AM_ALERT_LABELS,      /* canonical text, as metric_samples.labels */
    AM_ALERT_STATE,       /* pending | firing | resolved */
    AM_ALERT_ACTIVE_AT,   /* pending since ("for" counts from here) */
    AM_ALERT_FIRED_AT,
    AM_ALERT_RESOLVED_AT,
    AM_ALERT_KEEP_FIRING_SINCE, /* keep_firing_for counts from here */
    AM_ALERT_LAST_SENT_AT,      /* notified last: a restart does not page again */
    AM_ALERT_VALUE,
    AM_ALERT_ANNOTATIONS, /* JSON object text */
    AM_ALERT__N
} am_alert_col;
typedef enum am_alert_history_col {
    AM_AHIST_ID,
    AM_AHIST_TIMESTAMP, /* of the change */
    AM_AHIST_ALERT_NAME,
    AM_AHIST_FINGERPRINT,
    AM_AHIST_LABELS,
    AM_AHIST_STATE, /* the state entered */
    AM_AHIST_VALUE,
    AM_AHIST_ANNOTATIONS,
    AM_AHIST__N
} am_alert_history_col;
typedef enum am_silence_col {
    AM_SILENCE_ID,
    AM_SILENCE_TIMESTAMP, /* created or last updated */
    AM_SILENCE_MATCHERS,  /* JSON array of Alertmanager matchers */
    AM_SILENCE_STARTS_AT,
    AM_SILENCE_ENDS_AT, /* expiring a silence moves this to now */
    AM_SILENCE_CREATED_BY,
    AM_SILENCE_COMMENT,
    AM_SILENCE__N
} am_silence_col;
typedef enum am_log_col {
    AM_LOG_ID,
    AM_LOG_TIMESTAMP,
    AM_LOG_LEVEL, /* DEBUG ... CRITICAL, as the log lines write it */
    AM_LOG_COMPONENT,
    AM_LOG_MESSAGE,
    AM_LOG_TRACE_ID,
    AM_LOG_SPAN_ID,
    AM_LOG_AGENT_ID,
    AM_LOG_FIELDS, /* the line's other fields: JSON object text */
    AM_LOG__N
} am_log_col;

/* The most columns a table has (records carry an am_value per column). */
#define AM_TABLE_MAX_COLS 32

/* The migration that gave every rollup table a `writer` column in its
   key: each store (collector) sharing a database keeps rollup rows of its
   own, and summaries add them up (store_rollup.c). Tables that had
   rollups before it are rebuilt with their rows as writer ''. */
#define AM_ROLLUP_WRITER_SINCE 5

typedef struct am_table {
    am_table_id id;
    const char *api_name;  /* "communication" */
    const char *sql_name;  /* "communication_metrics" */
    const am_column *cols; /* cols[0] is id, cols[1] is timestamp */
    size_t n_cols;
    /* The summary endpoint: percentiles of this REAL column (-1: none) */
    int value_col;
    /* and the error rate: a row is an error when this INT/REAL column > 0,
       or this TEXT column equals error_text (-1: no error rate). */
    int error_col;
    const char *error_text;
    int trace_col;    /* the W3C trace id of a row (-1: none) */
    int since;        /* the migration that created the table */
    int rollup_since; /* the migration that gave it rollups (0: none) */
    /* the collector's own: no event kind, no /api/v1/metrics type
       (am_table_by_api_name does not find it) */
    bool is_internal;
    /* a record whose id is stored replaces the row (state), rather than
       being skipped as a resend */
    bool is_upsert;
    /* retention leaves its rows alone (state the collector must keep) */
    bool is_kept;
} am_table;

/* The table of id, or of an API name (NULL when unknown). */
const am_table *am_table_get(am_table_id id);
const am_table *am_table_by_api_name(const char *name);
/* Column index by name, or -1: for names that arrive as text (JSON keys,
   query parameters); code names columns by their enum. */
int am_table_col(const am_table *t, const char *name);

/* The number of columns t has in a database at schema version v (a
   prefix of t->cols; 0 when t is newer than v). */
size_t am_table_cols_at(const am_table *t, int v);

/*
** One record: a value per column, in the table's column order. A NULL
** text, or is_null set, is SQL NULL. Strings are borrowed by whoever
** holds the record; the store copies what it keeps.
*/
typedef struct am_value {
    bool is_null;
    union {
        const char *s;
        int64_t i;
        double d; /* REAL and TIME */
    } v;
} am_value;

typedef struct am_record {
    am_table_id table;
    am_value *vals; /* n_cols of the table */
} am_record;

#endif
