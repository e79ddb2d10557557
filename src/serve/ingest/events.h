/*
** events.h: the JSON events of POST /api/v1/events, decoded into records
** of the collector's tables (schema.h).
**
** A body is one JSON object, an array of objects, or NDJSON (one object
** per line). Every event names its table in "event" (communication,
** system, agent, task, llm, metric); its other fields are the table's
** column names (schema.c), plus:
**   id         optional; one is made (a UUID) when absent. A resent id is
**              stored once (the store skips ids it has).
**   timestamp  RFC 3339 or unix seconds; the time of arrival when absent.
**   labels     (metric events) an object of label name -> string value.
**   context_metrics {size, relevance}, error_info {type, retries}
**              (communication) and performance_metrics {column: value}
**              (agent): the nested shapes of monitoring-analytics-slice.md.
** An event that breaks a rule is rejected alone, with its index and why
** (a member given twice included: RFC 8259 leaves its meaning open, and we
** refuse to guess); the others are decoded. Only a body that is not JSON
** at all fails as a whole. In NDJSON each line stands alone; objects one
** after another ({..}{..}) are events as the elements of an array are.
*/
#ifndef AM_SERVE_EVENTS_H
#define AM_SERVE_EVENTS_H

#include <stdbool.h>
#include <stddef.h>

#include "agentmon/common.h"
#include "../store/schema.h"

#define AM_EVENTS_MAX 100000         /* events in one body */
#define AM_EVENT_MAX_BYTES (1 << 20) /* JSON text of one event */
#define AM_EVENT_ERROR_MAX 256       /* bytes of one rejection's reason */
/* What one event may cost beyond its text: its values, a made id, label
   text (AM_STORE_MAX_TEXT at most) and a reason, rounded up. */
#define AM_EVENT_ARENA_MAX (32 * 16 + 48 + 16400 + AM_EVENT_ERROR_MAX + 64)

typedef struct am_event_reject {
    size_t index; /* position in the body, from 0 */
    char *error;  /* owned by the am_events */
} am_event_reject;

typedef struct am_events {
    size_t n_events; /* events seen */
    am_record *recs; /* the accepted ones, in body order */
    size_t *index;   /* index[i]: body position of recs[i] */
    size_t n_recs;
    am_event_reject *rejects; /* in body order */
    size_t n_rejects;
    size_t arena_bytes; /* memory made for the events: at most */
                        /* AM_EVENT_ARENA_MAX per event seen */
    void *priv;         /* the memory the records point into */
} am_events;

/*
** Decode body[0..len); ndjson forces one event per line (Content-Type
** application/x-ndjson), otherwise a body that is not JSON but holds
** objects on lines is read as NDJSON. now: the timestamp of events
** without one. body is borrowed and written to (strings are unescaped in
** place): the records point into it, so it must outlive *out. The body is
** checked and its events counted before anything is allocated for them:
** memory is the body's plus a bounded amount per event, never per JSON
** node. On AM_OK *out holds the records and rejections (free with
** am__events_free(), also after an error). AM_EINVAL: not JSON, or no
** event in it; AM_ELIMIT: more than AM_EVENTS_MAX events; AM_ENOMEM.
** am_errmsg() says which.
*/
am_err am__events_decode(char *body, size_t len, bool ndjson, double now, am_events *out);
void am__events_free(am_events *ev);

/*
** Turn accepted record k (recs[k]) into a rejection with the reason fmt
** (for checks made after decoding: the timestamp against the retention,
** whether a metric event can be applied). The records after k move down;
** the rejections stay in body order. AM_OK or AM_ENOMEM (nothing changed).
*/
am_err am__events_drop(am_events *ev, size_t k, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
** For other NDJSON decoders (log_lines.c): read body as one JSON value per
** line, as am__events_decode does with ndjson, calling one(ev, index,
** line, n, now) for each line that is JSON (checked: one may read it for
** real, unescaping in place); a line that is not is rejected here. one
** adds a record with am__events_accept() or a rejection with
** am__events_reject(), whose memory it takes from am__events_alloc() (freed
** with the am_events). Same errors as am__events_decode.
*/
typedef void (*am_event_line_fn)(am_events *ev, size_t index, char *line, size_t n, double now);
am_err am__events_decode_lines(char *body, size_t len, double now, am_event_line_fn one,
                               am_events *out);
void *am__events_alloc(am_events *ev, size_t n); /* 16-aligned; NULL when out of memory */
/* Reject event index with the reason fmt; returns -1. */
int am__events_reject(am_events *ev, size_t index, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Take vals (from am__events_alloc) as the record of event index. */
void am__events_accept(am_events *ev, size_t index, am_table_id t, am_value *vals);

/* The trace id of a record ("trace_id" column: 32 hex digits, or a UUID
   whose dashes are dropped) as 32 lowercase hex digits and a NUL; false
   when it has none. */
bool am__event_trace_hex(const am_record *rec, char out[33]);

#endif
