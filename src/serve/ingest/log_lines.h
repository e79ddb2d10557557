/*
** log_lines.h: agentmon's own JSON log lines (src/log: one object per
** line with timestamp, level, component, message, trace_id, span_id and
** the call's fields) decoded into records of the log_lines table, for the
** trace view: POST /api/v1/logs and `agentmon serve --tail FILE`.
**
** A body is NDJSON: one log line per line, blank lines ignored, each line
** taken or rejected alone (am_events, as for events.h). Per line:
**   timestamp  RFC 3339 or unix seconds; the time of arrival when absent
**   level, component, message, span_id, agent_id   strings (or null)
**   trace_id   32 hex digits (W3C trace context) or a UUID, stored as 32
**              lowercase hex digits, so a trace is found however written
**   anything else  kept as the line's "fields" (a JSON object of the other
**              members, their text as sent), at most AM_STORE_MAX_TEXT bytes
** The record's id is a hash of the line's bytes (128 bits, hex): a line
** sent twice -- a shipper's retry, a file tailed again after a restart --
** is stored once. Two lines identical to the byte (the same millisecond,
** message and fields) are therefore one line, which is what they say.
*/
#ifndef AM_SERVE_LOG_LINES_H
#define AM_SERVE_LOG_LINES_H

#include "events.h"

/* Decode body[0..len) (written to: strings are unescaped in place; the
   records point into it and into *out). now: the timestamp of lines
   without one. AM_OK with *out filled (am__events_free() it, also after
   an error); AM_EINVAL: no line in it; AM_ELIMIT: more than
   AM_EVENTS_MAX lines; AM_ENOMEM. */
am_err am__log_lines_decode(char *body, size_t len, double now, am_events *out);

#endif
