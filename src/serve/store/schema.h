/*
** schema.h: the collector's record tables, described once.
**
** Every part of `agentmon serve` that touches a record -- the JSON event
** decoder, both store backends (their CREATE TABLE, INSERT and SELECT), the
** query API's parameter checks and its JSON output -- walks these tables
** instead of naming columns itself, so a column is added in one place.
**
** The first three tables are those of monitoring-analytics-slice.md, with
** its column names and units (times in milliseconds, memory in MB); the
** others hold the task and LLM events of monitoring-collector-spec.md and
** metrics-exposure-story.md, and generic metric samples (StatsD, scrapes,
** "metric" events). Every table has `id` (TEXT, unique) and `timestamp`
** (unix seconds as a double, UTC).
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
    /* group_by, indexed, but with too many values (one per session) to be
       a rollup dimension: summaries by it read rows */
    bool is_high_cardinality;
    /* an event of this table must carry it (the JSON decoder refuses one
       without); the others are SQL NULL when absent */
    bool required;
} am_column;

/* Query API names: /api/v1/metrics/{name}. */
typedef enum am_table_id {
    AM_T_COMMUNICATION, /* communication_metrics */
    AM_T_SYSTEM,        /* system_metrics */
    AM_T_AGENT,         /* agent_metrics */
    AM_T_TASK,          /* task_events */
    AM_T_LLM,           /* llm_events */
    AM_T_METRIC,        /* metric_samples */
    AM_T__N
} am_table_id;

typedef struct am_table {
    am_table_id id;
    const char *api_name;  /* "communication" */
    const char *sql_name;  /* "communication_metrics" */
    const am_column *cols; /* cols[0] is id, cols[1] is timestamp */
    size_t n_cols;
    /* The summary endpoint: percentiles of this REAL column (NULL: none) */
    const char *value_col;
    /* and the error rate: a row is an error when this INT/REAL column > 0,
       or this TEXT column equals error_text (NULL: no error rate). */
    const char *error_col;
    const char *error_text;
} am_table;

/* The table of id, or of an API name (NULL when unknown). */
const am_table *am_table_get(am_table_id id);
const am_table *am_table_by_api_name(const char *name);
/* Column index by name, or -1. */
int am_table_col(const am_table *t, const char *name);

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
