/*
** log_lines.c: JSON log lines -> log_lines records (see log_lines.h).
**
** DESIGN
** The NDJSON walk, the arena and the rejections are events.c's
** (am__events_decode_lines): this file only reads one line. A line is
** read twice by the pull reader. The first pass (AM_JSON_CHECK: nothing
** written) notes each top-level member's raw key and value spans and
** which column, if any, the key names; the raw text of the members that
** are not columns is copied, as it is, into one JSON object -- the
** "fields" column -- so nested values and numbers keep their exact text.
** The second pass reads for real (strings unescaped in place) and sets
** the columns, matching members by position with the first pass, so a
** key is classified once. Known keys are compared on their raw text, as
** src/log writes them (no escapes): an escaped spelling of "trace_id" is a
** field like any other.
**
** The id is two am__hash64 of the line under different seeds (32 hex
** digits): resending or re-tailing a line stores nothing twice.
**
** MEMORY: as events.c -- strings point into the body; values, ids and
** the fields text come from the am_events' arena. Threads: none of its
** own; one call, one thread.
*/
#include <stdio.h>
#include <string.h>

#include "../../util/civil.h"
#include "../../util/error.h"
#include "../../util/hash.h"
#include "../../util/json.h"
#include "../store/store.h"
#include "log_lines.h"

#define MAX_MEMBERS 96 /* top-level members of one line */

/* The columns a log line's keys name, as they appear in the line. */
static const struct {
    const char *raw; /* the key with its quotes */
    int col;
} KEYS[] = {
    {"\"timestamp\"", AM_LOG_TIMESTAMP}, {"\"level\"", AM_LOG_LEVEL},
    {"\"component\"", AM_LOG_COMPONENT}, {"\"message\"", AM_LOG_MESSAGE},
    {"\"trace_id\"", AM_LOG_TRACE_ID},   {"\"span_id\"", AM_LOG_SPAN_ID},
    {"\"agent_id\"", AM_LOG_AGENT_ID},
};

typedef struct member {
    size_t k0, k1; /* the raw key, quotes included */
    size_t v0, v1; /* the raw value */
    int col;       /* -1: one of the fields */
} member;

static int column_of(const char *key, size_t n)
{
    for (size_t i = 0; i < sizeof KEYS / sizeof KEYS[0]; i++)
        if (strlen(KEYS[i].raw) == n && memcmp(KEYS[i].raw, key, n) == 0)
            return KEYS[i].col;
    return -1;
}

/* Pass 1: the members' spans. -1 after rejecting the line. */
static int spans(am_events *ev, size_t index, char *line, size_t n, member *m, size_t *n_m)
{
    am_json j;
    am__json_init(&j, line, n, AM_JSON_CHECK);
    if (am__json_next(&j) != AM_JSON_OBJECT)
        return am__events_reject(ev, index, "a log line must be a JSON object");
    bool seen[AM_LOG__N] = {false};
    *n_m = 0;
    for (am_json_tok t; (t = am__json_next(&j)) == AM_JSON_KEY;) {
        if (*n_m == MAX_MEMBERS)
            return am__events_reject(ev, index, "the line has more than %d members", MAX_MEMBERS);
        member *x = &m[(*n_m)++];
        x->k0 = j.tok_off;
        x->k1 = am__json_offset(&j);
        /* the reader is past the ':' after the key: back to its quote */
        while (x->k1 > x->k0 && line[x->k1 - 1] != '"')
            x->k1--;
        am_json_tok v = am__json_next(&j);
        x->v0 = j.tok_off;
        if (am__json_skip(&j, v) == AM_JSON_ERROR)
            return am__events_reject(ev, index, "the line is not JSON: %s", am__json_error(&j));
        x->v1 = am__json_offset(&j);
        x->col = column_of(line + x->k0, x->k1 - x->k0);
        if (x->col >= 0 && seen[x->col])
            return am__events_reject(ev, index, "member \"%s\" is given twice",
                                     am_table_get(AM_T_LOG)->cols[x->col].name);
        if (x->col >= 0)
            seen[x->col] = true;
    }
    return 0;
}

/* The members that are not columns, as one JSON object in the arena;
   NULL when there are none (*bad set when too long or out of memory). */
static char *fields_text(am_events *ev, const char *line, const member *m, size_t n_m, int *bad)
{
    size_t len = 2;
    for (size_t i = 0; i < n_m; i++)
        if (m[i].col < 0)
            len += (m[i].k1 - m[i].k0) + 1 + (m[i].v1 - m[i].v0) + 1;
    *bad = 0;
    if (len == 2)
        return NULL;
    if (len - 1 > AM_STORE_MAX_TEXT) {
        *bad = 1;
        return NULL;
    }
    char *s = am__events_alloc(ev, len + 1);
    if (!s) {
        *bad = 2;
        return NULL;
    }
    size_t at = 0;
    s[at++] = '{';
    for (size_t i = 0; i < n_m; i++) {
        if (m[i].col >= 0)
            continue;
        if (at > 1)
            s[at++] = ',';
        memcpy(s + at, line + m[i].k0, m[i].k1 - m[i].k0);
        at += m[i].k1 - m[i].k0;
        s[at++] = ':';
        memcpy(s + at, line + m[i].v0, m[i].v1 - m[i].v0);
        at += m[i].v1 - m[i].v0;
    }
    s[at++] = '}';
    s[at] = '\0';
    return s;
}

/* Column c from the value token v just read (j unescaping). */
static int set_col(am_events *ev, size_t index, am_json *j, am_json_tok v, int c, am_value *vals)
{
    const char *name = am_table_get(AM_T_LOG)->cols[c].name;
    if (v == AM_JSON_NULL && c == AM_LOG_TIMESTAMP)
        return am__events_reject(ev, index, "member \"timestamp\" must not be null");
    if (v == AM_JSON_NULL) {
        vals[c].is_null = true;
        return 0;
    }
    if (c == AM_LOG_TIMESTAMP) {
        double d = j->num;
        if (v == AM_JSON_STRING) {
            if (am__time_parse(j->str, j->len, name, &d))
                return am__events_reject(ev, index, "%s", am_errmsg());
        } else if (v != AM_JSON_NUMBER || !(d >= 0 && d < (double)AM_CIVIL_MAX_SEC + 1)) {
            return am__events_reject(ev, index,
                                     "member \"timestamp\" must be RFC 3339 text or unix "
                                     "seconds in 1970 .. 9999");
        }
        vals[c].is_null = false;
        vals[c].v.d = d;
        return 0;
    }
    if (v != AM_JSON_STRING)
        return am__events_reject(ev, index, "member \"%s\" must be a string", name);
    if (j->len > AM_STORE_MAX_TEXT)
        return am__events_reject(ev, index, "member \"%s\" is %zu bytes long; at most %d", name,
                                 j->len, AM_STORE_MAX_TEXT);
    if (memchr(j->str, '\0', j->len))
        return am__events_reject(ev, index, "member \"%s\" holds a NUL character (\\u0000)", name);
    vals[c].is_null = false;
    vals[c].v.s = j->str;
    return 0;
}

static void decode_line(am_events *ev, size_t index, char *line, size_t n, double now)
{
    member m[MAX_MEMBERS];
    size_t n_m = 0;
    if (spans(ev, index, line, n, m, &n_m))
        return;
    /* the values, then the id and the trace id's hex (33 bytes each) */
    am_value *vals = am__events_alloc(ev, AM_LOG__N * sizeof *vals + 2 * 33);
    if (!vals) {
        am__events_reject(ev, index, "out of memory");
        return;
    }
    char *id = (char *)(vals + AM_LOG__N), *trace = id + 33;
    int bad;
    char *fields = fields_text(ev, line, m, n_m, &bad);
    if (bad) {
        am__events_reject(ev, index,
                          bad == 1 ? "the line's other members are more than %d bytes of JSON"
                                   : "out of memory (%d)",
                          AM_STORE_MAX_TEXT);
        return;
    }
    uint64_t h1 = am__hash64(0x6c6f676c696e6531ull, line, n);
    uint64_t h2 = am__hash64(0x6c6f676c696e6532ull, line, n);
    snprintf(id, 33, "%016llx%016llx", (unsigned long long)h1, (unsigned long long)h2);
    for (int c = 0; c < AM_LOG__N; c++)
        vals[c].is_null = true;
    vals[AM_LOG_ID] = (am_value){false, {.s = id}};
    vals[AM_LOG_TIMESTAMP] = (am_value){false, {.d = now}};
    if (fields)
        vals[AM_LOG_FIELDS] = (am_value){false, {.s = fields}};

    /* pass 2: the columns, unescaped (the fields were copied already) */
    am_json j;
    am__json_init(&j, line, n, 0);
    am__json_next(&j); /* '{' */
    for (size_t i = 0; i < n_m; i++) {
        am__json_next(&j); /* the key */
        am_json_tok v = am__json_next(&j);
        if (m[i].col >= 0 && set_col(ev, index, &j, v, m[i].col, vals))
            return;
        am__json_skip(&j, v);
    }
    if (!vals[AM_LOG_TRACE_ID].is_null) {
        am_record rec = {AM_T_LOG, vals};
        if (!am__event_trace_hex(&rec, trace)) {
            am__events_reject(ev, index,
                              "member \"trace_id\" must be 32 hex digits (W3C trace context) "
                              "or a UUID");
            return;
        }
        vals[AM_LOG_TRACE_ID].v.s = trace;
    }
    am__events_accept(ev, index, AM_T_LOG, vals);
}

am_err am__log_lines_decode(char *body, size_t len, double now, am_events *out)
{
    return am__events_decode_lines(body, len, now, decode_line, out);
}
