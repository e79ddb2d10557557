/*
** events.c: JSON events -> records (see events.h).
**
** DESIGN
** A body is read twice by the pull reader of util/json.c, and never
** turned into a tree. The first pass only checks (it writes nothing): the
** text is JSON, what shape it has (an array, objects one after another,
** or NDJSON lines) and how many events it holds -- so a body of more than
** AM_EVENTS_MAX events is refused before anything is allocated for it,
** whatever it inflated from. The second pass reads for real: strings are
** unescaped in place in the body, and each event's members are gathered
** into a small array on the stack (at most MAX_FIELDS, nested objects'
** members included) before they are read as columns, since "event", which
** says what the other members mean, may come anywhere in the object.
**
** This file walks the table description of schema.c, so a column added
** there is accepted here with no change. The checks are the store's
** (store.h, am_store_submit) made per event, so that the batch the HTTP
** layer submits never fails as a whole for one bad event.
**
** MEMORY. Records' strings point into the body, which therefore must
** outlive them. Everything else -- the records' values, made ids, label
** text, the reasons for rejections -- is carved out of one arena of
** chunks, freed at once by am__events_free. A request's memory is thus
** its body, plus a bounded amount per event it holds: nothing per JSON
** node.
*/
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../../util/alloc.h"
#include "../../util/buf.h"
#include "../../util/civil.h"
#include "../../util/error.h"
#include "../../util/validate.h"
#include "../../util/random.h"
#include "../../util/json.h"
#include "../store/labels.h"
#include "../store/store.h"
#include "events.h"

#define MAX_FIELDS 160         /* members of one event, its nested objects' included */
#define ARENA_CHUNK (1u << 20) /* above the mmap threshold: given back to the kernel when freed */

/* One member of an event: its name and its value (scalars read; a
   nested object's members follow it with parent set to its index). */
typedef struct field {
    const char *key;
    size_t klen;
    am_json_tok tok; /* the value's first token */
    const char *s;   /* STRING */
    size_t len;
    double num; /* NUMBER */
    int parent; /* -1: a member of the event itself */
} field;

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    _Alignas(16) char data[];
} chunk;

typedef struct priv {
    chunk *chunks;
} priv;

/* A nested object of the analytics slice: its keys -> columns (NULL map:
   the keys are column names). */
typedef struct nest {
    am_table_id table;
    const char *field;
    const char *const (*map)[2];
    size_t n_map;
} nest;

static const char *const CONTEXT_MAP[][2] = {{"size", "context_size"},
                                             {"relevance", "context_relevance_score"}};
static const char *const ERROR_MAP[][2] = {{"type", "error_type"}, {"retries", "retry_count"}};

static const nest NESTS[] = {
    {AM_T_COMMUNICATION, "context_metrics", CONTEXT_MAP, 2},
    {AM_T_COMMUNICATION, "error_info", ERROR_MAP, 2},
    {AM_T_AGENT, "performance_metrics", NULL, 0},
};

static const char *const METRIC_TYPES[] = {"counter", "gauge",   "histogram",
                                           "summary", "untyped", NULL};

/* ------------------------------------------------------------------ */

/* n bytes from the request's arena (16-aligned), or NULL. */
static void *arena_alloc(am_events *ev, size_t n)
{
    priv *p = ev->priv;
    n = (n + 15) & ~(size_t)15;
    chunk *c = p->chunks;
    if (!c || c->cap - c->used < n) {
        /* chunks double from 4 KiB (most bodies are small) to ARENA_CHUNK */
        size_t cap = c ? c->cap * 2 : 4096;
        if (cap > ARENA_CHUNK)
            cap = ARENA_CHUNK;
        if (cap < n)
            cap = n;
        c = am__malloc(sizeof *c + cap);
        if (!c)
            return NULL;
        c->used = 0;
        c->cap = cap;
        c->next = p->chunks;
        p->chunks = c;
    }
    void *r = c->data + c->used;
    c->used += n;
    ev->arena_bytes += n;
    return r;
}

static char *arena_strdup(am_events *ev, const char *s, size_t n)
{
    char *d = arena_alloc(ev, n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

void *am__events_alloc(am_events *ev, size_t n)
{
    return arena_alloc(ev, n);
}

/* this file's short name for it */
#define reject am__events_reject

static void reject_v(am_events *ev, size_t index, const char *fmt, va_list ap)
{
    char msg[AM_EVENT_ERROR_MAX];
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    size_t len = n < 0 ? 0 : (size_t)n >= sizeof msg ? sizeof msg - 1 : (size_t)n;
    am_event_reject *r = &ev->rejects[ev->n_rejects++];
    r->index = index;
    r->error = arena_strdup(ev, msg, len);
    if (!r->error)
        r->error = (char *)"out of memory";
}

int am__events_reject(am_events *ev, size_t index, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reject_v(ev, index, fmt, ap);
    va_end(ap);
    return -1;
}

void am__events_accept(am_events *ev, size_t index, am_table_id t, am_value *vals)
{
    ev->recs[ev->n_recs] = (am_record){t, vals};
    ev->index[ev->n_recs++] = index;
}

static bool one_of(const char *s, const char *const *set)
{
    for (; *set; set++)
        if (strcmp(s, *set) == 0)
            return true;
    return false;
}

static void set_of(char *out, size_t n, const char *const *set)
{
    size_t len = 0;
    out[0] = '\0';
    for (; *set && len < n; set++)
        len += (size_t)snprintf(out + len, n - len, "%s%s", len ? ", " : "", *set);
}

static bool is_key(const field *f, const char *name)
{
    return f->klen == strlen(name) && memcmp(f->key, name, f->klen) == 0;
}

/* Set column c of the record from f; 0, or -1 after rejecting the event. */
static int set_value(am_events *ev, size_t index, const am_table *t, int c, const field *f,
                     am_value *vals)
{
    const am_column *col = &t->cols[c];
    am_value *out = &vals[c];
    if (f->tok == AM_JSON_NULL) {
        if (col->required || c < 2) /* id and timestamp may be left out, not null */
            return reject(ev, index, "field \"%s\" must not be null", col->name);
        out->is_null = true;
        return 0;
    }
    switch (col->type) {
    case AM_COL_TEXT: {
        if (f->tok != AM_JSON_STRING)
            return reject(ev, index, "field \"%s\" must be a string", col->name);
        size_t n = f->len;
        size_t max = c == 0 ? AM_STORE_MAX_ID : AM_STORE_MAX_TEXT;
        if (n > max)
            return reject(ev, index, "field \"%s\" is %zu bytes long; at most %zu are allowed",
                          col->name, n, max);
        if (n == 0 && (c == 0 || col->required))
            return reject(ev, index, "field \"%s\" must not be empty", col->name);
        if (memchr(f->s, '\0', n))
            return reject(ev, index, "field \"%s\" holds a NUL character (\\u0000)", col->name);
        out->v.s = f->s;
        break;
    }
    case AM_COL_INT: {
        double d = f->num;
        if (f->tok != AM_JSON_NUMBER || d != floor(d) || !(d >= 0) || d > 9007199254740992.0)
            return reject(ev, index, "field \"%s\" must be a whole number >= 0", col->name);
        out->v.i = (int64_t)d;
        break;
    }
    case AM_COL_REAL: {
        if (f->tok != AM_JSON_NUMBER)
            return reject(ev, index, "field \"%s\" must be a number", col->name);
        double d = f->num;
        /* durations, sizes and percentages cannot be negative; a metric
           sample (no unit) can */
        if (col->unit && d < 0)
            return reject(ev, index, "field \"%s\" is %g; it must be >= 0 (%s)", col->name, d,
                          col->unit);
        out->v.d = d;
        break;
    }
    case AM_COL_TIME: {
        double d;
        if (f->tok == AM_JSON_NUMBER) {
            d = f->num;
            if (!(d >= 0 && d < (double)AM_CIVIL_MAX_SEC + 1))
                return reject(ev, index, "field \"%s\" is outside 1970-01-01 .. 9999-12-31",
                              col->name);
        } else if (f->tok == AM_JSON_STRING) {
            if (am__time_parse(f->s, f->len, col->name, &d))
                return reject(ev, index, "%s", am_errmsg());
        } else {
            return reject(ev, index, "field \"%s\" must be RFC 3339 text or unix seconds",
                          col->name);
        }
        out->v.d = d;
        break;
    }
    }
    out->is_null = false;
    return 0;
}

/* metric events: "labels" is an object of strings -> canonical text.
   fs[at] is the object; its members follow it. */
static int set_labels(am_events *ev, size_t index, const field *fs, size_t n_fs, size_t at,
                      am_value *vals, int c)
{
    const field *obj = &fs[at];
    if (obj->tok == AM_JSON_NULL) {
        vals[c].is_null = true;
        return 0;
    }
    if (obj->tok != AM_JSON_OBJECT)
        return reject(ev, index, "field \"labels\" must be an object of name: \"value\"");
    const char *names[AM_LABELS_MAX], *values[AM_LABELS_MAX];
    size_t n = 0;
    for (size_t i = at + 1; i < n_fs && fs[i].parent == (int)at; i++) {
        const field *f = &fs[i];
        if (n == AM_LABELS_MAX)
            return reject(ev, index, "field \"labels\" has more than %d labels", AM_LABELS_MAX);
        if (am__check_label_name(f->key, "label name"))
            return reject(ev, index, "labels: %s", am_errmsg());
        if (f->tok != AM_JSON_STRING)
            return reject(ev, index, "label \"%s\" must have a string value", f->key);
        if (memchr(f->s, '\0', f->len))
            return reject(ev, index, "label \"%s\" holds a NUL character (\\u0000)", f->key);
        for (size_t k = 0; k < n; k++)
            if (strcmp(names[k], f->key) == 0)
                return reject(ev, index, "label \"%s\" is given twice", f->key);
        names[n] = f->key;
        values[n++] = f->s;
    }
    am_buf b;
    am_buf_init(&b, AM_STORE_MAX_TEXT);
    am__labels_canonical(&b, names, values, n);
    if (am_buf_err(&b)) {
        am_buf_free(&b);
        return reject(ev, index, "field \"labels\" is longer than %d bytes as text",
                      AM_STORE_MAX_TEXT);
    }
    char *text = arena_strdup(ev, b.p ? b.p : "", b.len);
    am_buf_free(&b);
    if (!text)
        return reject(ev, index, "out of memory");
    vals[c].is_null = false;
    vals[c].v.s = text;
    return 0;
}

static int set_nested(am_events *ev, size_t index, const am_table *t, const nest *ns,
                      const field *fs, size_t n_fs, size_t at, am_value *vals, bool *given)
{
    if (fs[at].tok != AM_JSON_OBJECT)
        return reject(ev, index, "field \"%s\" must be an object", ns->field);
    for (size_t i = at + 1; i < n_fs && fs[i].parent == (int)at; i++) {
        const field *f = &fs[i];
        const char *colname = ns->map ? NULL : f->key;
        for (size_t m = 0; m < ns->n_map; m++)
            if (is_key(f, ns->map[m][0]))
                colname = ns->map[m][1];
        int c = colname ? am_table_col(t, colname) : -1;
        if (c < 2) /* unknown, or id/timestamp, which belong at the top */
            return reject(ev, index, "field \"%s.%s\" is not known", ns->field, f->key);
        if (given[c])
            return reject(ev, index, "field \"%s\" is given twice", t->cols[c].name);
        if (set_value(ev, index, t, c, f, vals))
            return -1;
        given[c] = true;
    }
    return 0;
}

/* What the analytics slice's record_*_metric fill in, and rules per table. */
static int finish(am_events *ev, size_t index, const am_table *t, am_value *v, char *id,
                  bool *given)
{
    if (t->id == AM_T_COMMUNICATION) {
        int rt = AM_COMM_RESPONSE_TIME, pt = AM_COMM_PROCESSING_TIME;
        int ec = AM_COMM_ERROR_COUNT, et = AM_COMM_ERROR_TYPE;
        if (!given[rt] && given[pt]) {
            v[rt] = v[pt];
            given[rt] = true;
        }
        if (!given[ec]) {
            v[ec].is_null = false;
            v[ec].v.i = given[et] && !v[et].is_null ? 1 : 0;
            given[ec] = true;
        }
    }
    for (size_t c = 2; c < t->n_cols; c++) {
        if (t->cols[c].required && !given[c])
            return reject(ev, index, "field \"%s\" is missing (required for %s events)",
                          t->cols[c].name, t->api_name);
        if (!given[c])
            v[c].is_null = true;
    }
    if (t->id == AM_T_TASK || t->id == AM_T_LLM) {
        int st = t->id == AM_T_TASK ? (int)AM_TASK_STATUS : (int)AM_LLM_STATUS;
        const char *ok[] = {"success", t->error_text, NULL};
        if (!one_of(v[st].v.s, ok))
            return reject(ev, index, "field \"status\" is \"%s\"; it must be success or %s",
                          v[st].v.s, t->error_text);
    }
    if (t->id == AM_T_METRIC) {
        int nc = AM_METRIC_NAME, tc = AM_METRIC_TYPE;
        if (am__check_metric_name(v[nc].v.s, "metric name"))
            return reject(ev, index, "field \"name\": %s", am_errmsg());
        if (!one_of(v[tc].v.s, METRIC_TYPES)) {
            char set[96];
            set_of(set, sizeof set, METRIC_TYPES);
            return reject(ev, index, "field \"type\" is \"%s\"; it must be one of %s", v[tc].v.s,
                          set);
        }
        int sc = AM_METRIC_SOURCE;
        if (!given[sc]) {
            v[sc].is_null = false;
            v[sc].v.s = "event";
        }
    }
    char hex[33];
    am_record rec = {t->id, v};
    int tr = t->trace_col;
    if (tr >= 0 && given[tr] && !v[tr].is_null && !am__event_trace_hex(&rec, hex))
        return reject(ev, index,
                      "field \"trace_id\" must be 32 hex digits (W3C trace context) or a UUID");
    if (!given[0]) {
        am__uuid4(id);
        v[0].is_null = false;
        v[0].v.s = id;
    }
    return 0;
}

/*
** Gather the members of the object whose '{' was just read into fs: the
** event's own (parent -1) and, after each nested object, its members.
** Deeper values are skipped (their field says OBJECT or ARRAY). Returns
** the number of fields; *too_many when members were left out; -1 when the
** text ends badly (the first pass makes that impossible).
*/
static int gather(am_json *j, field *fs, bool *too_many)
{
    int n = 0;
    int parent = -1;
    *too_many = false;
    for (;;) {
        am_json_tok t = am__json_next(j);
        if (t == AM_JSON_OBJECT_END) {
            if (parent < 0)
                return n;
            parent = -1; /* a nested object ended */
            continue;
        }
        if (t != AM_JSON_KEY)
            return -1;
        const char *key = j->str;
        size_t klen = j->len;
        am_json_tok v = am__json_next(j);
        if (v == AM_JSON_ERROR || v == AM_JSON_END)
            return -1;
        if (n == MAX_FIELDS) {
            *too_many = true;
            if (am__json_skip(j, v) == AM_JSON_ERROR)
                return -1;
            continue;
        }
        fs[n] = (field){key, klen, v, j->str, j->len, j->num, parent};
        if (v == AM_JSON_OBJECT && parent < 0) {
            parent = n++;
            continue;
        }
        n++;
        if (am__json_skip(j, v) == AM_JSON_ERROR)
            return -1;
    }
}

/* One event: the value whose first token t was just read. */
static void decode_one(am_events *ev, size_t index, am_json *j, am_json_tok t, double now)
{
    size_t begin = j->tok_off;
    if (t != AM_JSON_OBJECT) {
        am__json_skip(j, t);
        reject(ev, index, "an event must be a JSON object");
        return;
    }
    field fs[MAX_FIELDS];
    bool too_many;
    int n = gather(j, fs, &too_many);
    if (n < 0) {
        reject(ev, index, "the event is not JSON: %s", am__json_error(j));
        return;
    }
    size_t bytes = am__json_offset(j) - begin;
    if (bytes > AM_EVENT_MAX_BYTES) {
        reject(ev, index, "the event is %zu bytes of JSON; at most %d are taken per event", bytes,
               AM_EVENT_MAX_BYTES);
        return;
    }
    if (too_many) {
        reject(ev, index, "the event has more than %d fields", MAX_FIELDS);
        return;
    }
    const field *kind = NULL;
    for (int i = 0; i < n; i++)
        if (fs[i].parent < 0 && is_key(&fs[i], "event")) {
            if (kind) {
                reject(ev, index, "field \"event\" is given twice");
                return;
            }
            kind = &fs[i];
        }
    if (!kind) {
        reject(ev, index,
               "field \"event\" is missing: communication, system, agent, task, llm or metric");
        return;
    }
    const am_table *t_ = kind->tok == AM_JSON_STRING ? am_table_by_api_name(kind->s) : NULL;
    if (!t_) {
        reject(ev, index,
               "field \"event\" must be communication, system, agent, task, llm or metric");
        return;
    }
    am_value *vals = arena_alloc(ev, t_->n_cols * sizeof *vals + 40);
    if (!vals) {
        reject(ev, index, "out of memory");
        return;
    }
    char *id = (char *)(vals + t_->n_cols);
    bool given[AM_TABLE_MAX_COLS] = {false};
    for (int i = 0; i < n; i++) {
        const field *f = &fs[i];
        if (f->parent >= 0 || f == kind)
            continue;
        const nest *ns = NULL;
        for (size_t k = 0; k < sizeof NESTS / sizeof NESTS[0]; k++)
            if (NESTS[k].table == t_->id && is_key(f, NESTS[k].field))
                ns = &NESTS[k];
        if (ns) {
            if (set_nested(ev, index, t_, ns, fs, (size_t)n, (size_t)i, vals, given))
                return;
            continue;
        }
        int c = strlen(f->key) == f->klen ? am_table_col(t_, f->key) : -1;
        if (c < 0) {
            reject(ev, index, "field \"%s\" is not a column of %s events", f->key, t_->api_name);
            return;
        }
        if (given[c]) {
            reject(ev, index, "field \"%s\" is given twice", f->key);
            return;
        }
        int rc;
        if (t_->id == AM_T_METRIC && is_key(f, "labels"))
            rc = set_labels(ev, index, fs, (size_t)n, (size_t)i, vals, c);
        else
            rc = set_value(ev, index, t_, c, f, vals);
        if (rc)
            return;
        given[c] = true;
    }
    if (!given[1]) {
        vals[1].is_null = false;
        vals[1].v.d = now;
        given[1] = true;
    }
    if (finish(ev, index, t_, vals, id, given))
        return;
    am__events_accept(ev, index, t_->id, vals);
}

/* An NDJSON line of events: one event (the line is checked JSON). */
static void decode_event_line(am_events *ev, size_t index, char *line, size_t n, double now)
{
    am_json j;
    am__json_init(&j, line, n, 0);
    decode_one(ev, index, &j, am__json_next(&j), now);
}

/* ------------------------------------------------------------------ */

static am_err reserve(am_events *ev, size_t n)
{
    ev->recs = am__calloc(n ? n : 1, sizeof *ev->recs);
    ev->index = am__calloc(n ? n : 1, sizeof *ev->index);
    ev->rejects = am__calloc(n ? n : 1, sizeof *ev->rejects);
    if (!ev->recs || !ev->index || !ev->rejects)
        return am__err(AM_ENOMEM, "out of memory");
    return AM_OK;
}

static am_err too_many(void)
{
    return am__err(AM_ELIMIT, "the body holds more than %d events; send fewer per request",
                   AM_EVENTS_MAX);
}

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    return true;
}

static am_err decode_ndjson(am_events *ev, char *body, size_t len, double now, am_event_line_fn one)
{
    size_t lines = 0;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(body + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - body) : len;
        lines += !blank(body + i, end - i);
        if (lines > AM_EVENTS_MAX)
            return too_many();
        i = end + 1;
    }
    if (lines == 0)
        return am__err(AM_EINVAL, "the body holds no event");
    am_err rc = reserve(ev, lines);
    if (rc)
        return rc;
    for (size_t i = 0; i < len;) {
        char *nl = memchr(body + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - body) : len;
        if (!blank(body + i, end - i)) {
            size_t index = ev->n_events++;
            am_json j;
            am__json_init(&j, body + i, end - i, AM_JSON_CHECK);
            am_json_tok t;
            while ((t = am__json_next(&j)) > AM_JSON_END)
                ;
            if (t == AM_JSON_ERROR) {
                reject(ev, index, "line %zu is not JSON: %s", index + 1, am__json_error(&j));
            } else {
                one(ev, index, body + i, end - i, now);
            }
        }
        i = end + 1;
    }
    return AM_OK;
}

/* Whether token t, just read, begins a value at nesting level d. */
static bool begins_value(const am_json *j, am_json_tok t, unsigned d)
{
    if (t == AM_JSON_OBJECT || t == AM_JSON_ARRAY)
        return am__json_depth(j) == d + 1;
    return t >= AM_JSON_STRING && am__json_depth(j) == d;
}

/* The first pass: check the text and count its events (the elements of
   one array, or top-level values one after another). AM_OK, AM_EINVAL
   (*syntax set when the text is not JSON) or AM_ELIMIT. */
static am_err count_events(char *body, size_t len, bool *is_array, size_t *n, bool *syntax)
{
    am_json j;
    am__json_init(&j, body, len, AM_JSON_CHECK | AM_JSON_SEQUENCE);
    am_json_tok first = am__json_next(&j), t = first;
    unsigned level = first == AM_JSON_ARRAY ? 1 : 0;
    *is_array = first == AM_JSON_ARRAY;
    *n = 0;
    *syntax = false;
    if (*is_array)
        t = am__json_next(&j);
    for (; t > AM_JSON_END; t = am__json_next(&j)) {
        if (*is_array && am__json_depth(&j) == 0)
            break; /* the array's end */
        if (begins_value(&j, t, level) && ++*n > AM_EVENTS_MAX)
            return too_many();
    }
    if (*is_array && t == AM_JSON_ARRAY_END) {
        t = am__json_next(&j);
        if (t > AM_JSON_END)
            return *syntax = true, am__err(AM_EINVAL, "the body is not JSON: more text after "
                                                      "the array");
    }
    if (t == AM_JSON_ERROR) {
        *syntax = true;
        return am__err(AM_EINVAL, "the body is not JSON: %s", am__json_error(&j));
    }
    if (first == AM_JSON_END)
        return *syntax = true, am__err(AM_EINVAL, "the body is not JSON: it is empty");
    if (first != AM_JSON_ARRAY && first != AM_JSON_OBJECT)
        return am__err(AM_EINVAL, "the body must be a JSON object, an array of objects, or "
                                  "NDJSON");
    if (*is_array && *n == 0)
        return am__err(AM_EINVAL, "the body is an empty array: no event to take");
    return AM_OK;
}

am_err am__events_decode(char *body, size_t len, bool ndjson, double now, am_events *out)
{
    memset(out, 0, sizeof *out);
    priv *p = am__calloc(1, sizeof *p);
    if (!p)
        return am__err(AM_ENOMEM, "out of memory");
    out->priv = p;
    if (ndjson)
        return decode_ndjson(out, body, len, now, decode_event_line);

    bool is_array, syntax;
    size_t n;
    am_err rc = count_events(body, len, &is_array, &n, &syntax);
    if (rc == AM_EINVAL && syntax) {
        /* objects on lines, some of them broken: NDJSON sent without its
           type, where each line stands alone */
        size_t i = 0;
        while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n'))
            i++;
        if (i < len && body[i] == '{' && memchr(body + i, '\n', len - i))
            return decode_ndjson(out, body, len, now, decode_event_line);
    }
    if (rc)
        return rc;
    if ((rc = reserve(out, n)))
        return rc;
    am_json j;
    am__json_init(&j, body, len, AM_JSON_SEQUENCE);
    am_json_tok t = am__json_next(&j);
    if (is_array)
        t = am__json_next(&j);
    for (; t > AM_JSON_END && t != AM_JSON_ARRAY_END; t = am__json_next(&j))
        decode_one(out, out->n_events++, &j, t, now);
    return AM_OK;
}

am_err am__events_decode_lines(char *body, size_t len, double now, am_event_line_fn one,
                               am_events *out)
{
    memset(out, 0, sizeof *out);
    priv *p = am__calloc(1, sizeof *p);
    if (!p)
        return am__err(AM_ENOMEM, "out of memory");
    out->priv = p;
    return decode_ndjson(out, body, len, now, one);
}

am_err am__events_drop(am_events *ev, size_t k, const char *fmt, ...)
{
    char msg[AM_EVENT_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t len = n < 0 ? 0 : (size_t)n >= sizeof msg ? sizeof msg - 1 : (size_t)n;
    char *text = arena_strdup(ev, msg, len);
    if (!text)
        return am__err(AM_ENOMEM, "out of memory");
    /* the rejections have room: they were sized for every event */
    size_t index = ev->index[k], at = ev->n_rejects;
    while (at > 0 && ev->rejects[at - 1].index > index)
        at--;
    memmove(&ev->rejects[at + 1], &ev->rejects[at], (ev->n_rejects - at) * sizeof *ev->rejects);
    ev->rejects[at] = (am_event_reject){index, text};
    ev->n_rejects++;
    memmove(&ev->recs[k], &ev->recs[k + 1], (ev->n_recs - k - 1) * sizeof *ev->recs);
    memmove(&ev->index[k], &ev->index[k + 1], (ev->n_recs - k - 1) * sizeof *ev->index);
    ev->n_recs--;
    return AM_OK;
}

void am__events_free(am_events *ev)
{
    priv *p = ev->priv;
    if (p) {
        for (chunk *c = p->chunks, *next; c; c = next) {
            next = c->next;
            am__free(c);
        }
        am__free(p);
    }
    am__free(ev->recs);
    am__free(ev->index);
    am__free(ev->rejects);
    memset(ev, 0, sizeof *ev);
}

bool am__event_trace_hex(const am_record *rec, char out[33])
{
    const am_table *t = am_table_get(rec->table);
    int c = t ? t->trace_col : -1;
    if (c < 0 || rec->vals[c].is_null || !rec->vals[c].v.s)
        return false;
    const char *s = rec->vals[c].v.s;
    size_t n = strlen(s), j = 0;
    bool uuid = n == 36;
    if (n != 32 && !uuid)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (uuid && (i == 8 || i == 13 || i == 18 || i == 23)) {
            if (s[i] != '-')
                return false;
            continue;
        }
        int h = am__hexval(s[i]);
        if (h < 0)
            return false;
        out[j++] = "0123456789abcdef"[h];
    }
    out[32] = '\0';
    /* W3C: the all-zero trace id is invalid */
    return strspn(out, "0") != 32;
}
