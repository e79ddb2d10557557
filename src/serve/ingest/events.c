/*
** events.c: JSON events -> records (see events.h).
**
** jansson parses; this file walks the table description of schema.c, so a
** column added there is accepted here with no change. The checks are the
** store's (store.h, am_store_submit) made per event, so that the batch the
** HTTP layer submits never fails as a whole for one bad event.
**
** Memory: the parsed JSON trees stay alive until am__events_free, and the
** records' strings point into them; what is made here (ids, label text)
** lives in one small block per record.
*/
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../../core/alloc.h"
#include "../../core/buf.h"
#include "../../core/civil.h"
#include "../../core/error.h"
#include "../../core/validate.h"
#include "../../log/trace_internal.h"
#include "events.h"
#include "../store/labels.h"
#include "../store/store.h"

/* What one record owns. */
typedef struct rec_mem {
    am_value vals[AM_TABLE_MAX_COLS];
    char id[37];
    char *labels; /* metric events: canonical label text */
} rec_mem;

typedef struct priv {
    json_t **roots;
    size_t n_roots, cap_roots;
    rec_mem **mems;
    size_t n_mems;
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

static int reject(am_events *ev, size_t index, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int reject(am_events *ev, size_t index, const char *fmt, ...)
{
    am_event_reject *r = &ev->rejects[ev->n_rejects++];
    r->index = index;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof r->error, fmt, ap);
    va_end(ap);
    return -1;
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

/* Set column c of rec from v; 0, or -1 after rejecting the event. */
static int set_value(am_events *ev, size_t index, const am_table *t, int c, json_t *v, rec_mem *m)
{
    const am_column *col = &t->cols[c];
    am_value *out = &m->vals[c];
    if (json_is_null(v)) {
        if (col->required || c < 2) /* id and timestamp may be left out, not null */
            return reject(ev, index, "field \"%s\" must not be null", col->name);
        out->is_null = true;
        return 0;
    }
    switch (col->type) {
    case AM_COL_TEXT: {
        if (!json_is_string(v))
            return reject(ev, index, "field \"%s\" must be a string", col->name);
        size_t n = json_string_length(v);
        size_t max = c == 0 ? AM_STORE_MAX_ID : AM_STORE_MAX_TEXT;
        if (n > max)
            return reject(ev, index, "field \"%s\" is %zu bytes long; at most %zu are allowed",
                          col->name, n, max);
        if (n == 0 && (c == 0 || col->required))
            return reject(ev, index, "field \"%s\" must not be empty", col->name);
        out->v.s = json_string_value(v);
        break;
    }
    case AM_COL_INT: {
        double d = json_number_value(v);
        if (!json_is_number(v) || d != floor(d) || !(d >= 0) || d > 9007199254740992.0)
            return reject(ev, index, "field \"%s\" must be a whole number >= 0", col->name);
        out->v.i = json_is_integer(v) ? (int64_t)json_integer_value(v) : (int64_t)d;
        break;
    }
    case AM_COL_REAL: {
        if (!json_is_number(v))
            return reject(ev, index, "field \"%s\" must be a number", col->name);
        double d = json_number_value(v);
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
        if (json_is_number(v)) {
            d = json_number_value(v);
            if (!(d >= 0 && d < (double)AM_CIVIL_MAX_SEC + 1))
                return reject(ev, index, "field \"%s\" is outside 1970-01-01 .. 9999-12-31",
                              col->name);
        } else if (json_is_string(v)) {
            if (am__time_parse(json_string_value(v), json_string_length(v), col->name, &d))
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

/* metric events: "labels" is an object of strings -> canonical text. */
static int set_labels(am_events *ev, size_t index, json_t *v, rec_mem *m, int c)
{
    if (json_is_null(v)) {
        m->vals[c].is_null = true;
        return 0;
    }
    if (!json_is_object(v))
        return reject(ev, index, "field \"labels\" must be an object of name: \"value\"");
    size_t n = json_object_size(v);
    if (n > AM_LABELS_MAX)
        return reject(ev, index, "field \"labels\" has %zu labels; at most %d are allowed", n,
                      AM_LABELS_MAX);
    const char *names[AM_LABELS_MAX], *values[AM_LABELS_MAX];
    size_t i = 0;
    const char *k;
    json_t *lv;
    json_object_foreach(v, k, lv)
    {
        if (am__check_label_name(k, "label name"))
            return reject(ev, index, "labels: %s", am_errmsg());
        if (!json_is_string(lv))
            return reject(ev, index, "label \"%s\" must have a string value", k);
        names[i] = k;
        values[i++] = json_string_value(lv);
    }
    am_buf b;
    am_buf_init(&b, AM_STORE_MAX_TEXT);
    am__labels_canonical(&b, names, values, n);
    if (am_buf_err(&b)) {
        am_buf_free(&b);
        return reject(ev, index, "field \"labels\" is longer than %d bytes as text",
                      AM_STORE_MAX_TEXT);
    }
    m->labels = am_buf_take(&b, NULL);
    if (!m->labels)
        m->labels = am__strdup("");
    if (!m->labels)
        return reject(ev, index, "out of memory");
    m->vals[c].is_null = false;
    m->vals[c].v.s = m->labels;
    return 0;
}

static int set_nested(am_events *ev, size_t index, const am_table *t, const nest *ns, json_t *v,
                      rec_mem *m, bool *given)
{
    if (!json_is_object(v))
        return reject(ev, index, "field \"%s\" must be an object", ns->field);
    const char *k;
    json_t *f;
    json_object_foreach(v, k, f)
    {
        const char *colname = ns->map ? NULL : k;
        for (size_t i = 0; i < ns->n_map; i++)
            if (strcmp(ns->map[i][0], k) == 0)
                colname = ns->map[i][1];
        int c = colname ? am_table_col(t, colname) : -1;
        if (c < 2) /* unknown, or id/timestamp, which belong at the top */
            return reject(ev, index, "field \"%s.%s\" is not known", ns->field, k);
        if (given[c])
            return reject(ev, index, "field \"%s\" is given twice", t->cols[c].name);
        if (set_value(ev, index, t, c, f, m))
            return -1;
        given[c] = true;
    }
    return 0;
}

/* What the analytics slice's record_*_metric fill in, and rules per table. */
static int finish(am_events *ev, size_t index, const am_table *t, rec_mem *m, bool *given)
{
    am_value *v = m->vals;
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
        uint8_t r[16];
        am__random_id(r, sizeof r);
        r[6] = (uint8_t)((r[6] & 0x0f) | 0x40); /* UUID version 4 */
        r[8] = (uint8_t)((r[8] & 0x3f) | 0x80); /* RFC 4122 variant */
        char h[32];
        am__hex(h, r, 16);
        snprintf(m->id, sizeof m->id, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16,
                 h + 20);
        v[0].is_null = false;
        v[0].v.s = m->id;
    }
    return 0;
}

static int decode_one(am_events *ev, size_t index, json_t *obj, double now)
{
    if (!json_is_object(obj))
        return reject(ev, index, "an event must be a JSON object");
    json_t *kind = json_object_get(obj, "event");
    if (!kind)
        return reject(ev, index,
                      "field \"event\" is missing: communication, system, agent, task, llm or "
                      "metric");
    const am_table *t = json_is_string(kind) ? am_table_by_api_name(json_string_value(kind)) : NULL;
    if (!t)
        return reject(ev, index,
                      "field \"event\" must be communication, system, agent, task, llm or "
                      "metric");
    priv *p = ev->priv;
    rec_mem *m = am__calloc(1, sizeof *m);
    if (!m)
        return reject(ev, index, "out of memory");
    p->mems[p->n_mems++] = m;

    bool given[AM_TABLE_MAX_COLS] = {false};
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        if (strcmp(k, "event") == 0)
            continue;
        const nest *ns = NULL;
        for (size_t i = 0; i < sizeof NESTS / sizeof NESTS[0]; i++)
            if (NESTS[i].table == t->id && strcmp(NESTS[i].field, k) == 0)
                ns = &NESTS[i];
        if (ns) {
            if (set_nested(ev, index, t, ns, v, m, given))
                return -1;
            continue;
        }
        int c = am_table_col(t, k);
        if (c < 0)
            return reject(ev, index, "field \"%s\" is not a column of %s events", k, t->api_name);
        if (given[c])
            return reject(ev, index, "field \"%s\" is given twice", k);
        int rc = t->id == AM_T_METRIC && strcmp(k, "labels") == 0
                     ? set_labels(ev, index, v, m, c)
                     : set_value(ev, index, t, c, v, m);
        if (rc)
            return -1;
        given[c] = true;
    }
    if (!given[1]) {
        m->vals[1].is_null = false;
        m->vals[1].v.d = now;
        given[1] = true;
    }
    if (finish(ev, index, t, m, given))
        return -1;
    ev->recs[ev->n_recs] = (am_record){t->id, m->vals};
    ev->index[ev->n_recs++] = index;
    return 0;
}

/* ------------------------------------------------------------------ */

static am_err keep_root(priv *p, json_t *root)
{
    json_t **r = am__grow(p->roots, &p->cap_roots, p->n_roots + 1, sizeof *r, 16);
    if (!r)
        return am__err(AM_ENOMEM, "out of memory");
    p->roots = r;
    p->roots[p->n_roots++] = root;
    return AM_OK;
}

static am_err reserve(am_events *ev, size_t n)
{
    if (n > AM_EVENTS_MAX)
        return am__err(AM_ELIMIT, "the body holds more than %d events; send fewer per request",
                       AM_EVENTS_MAX);
    priv *p = ev->priv;
    ev->recs = am__calloc(n ? n : 1, sizeof *ev->recs);
    ev->index = am__calloc(n ? n : 1, sizeof *ev->index);
    ev->rejects = am__calloc(n ? n : 1, sizeof *ev->rejects);
    p->mems = am__calloc(n ? n : 1, sizeof *p->mems);
    if (!ev->recs || !ev->index || !ev->rejects || !p->mems)
        return am__err(AM_ENOMEM, "out of memory");
    return AM_OK;
}

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    return true;
}

static am_err decode_ndjson(am_events *ev, const char *body, size_t len, double now)
{
    size_t lines = 0;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(body + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - body) : len;
        lines += !blank(body + i, end - i);
        i = end + 1;
    }
    if (lines == 0)
        return am__err(AM_EINVAL, "the body holds no event");
    am_err rc = reserve(ev, lines);
    if (rc)
        return rc;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(body + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - body) : len;
        if (!blank(body + i, end - i)) {
            size_t index = ev->n_events++;
            json_error_t err;
            json_t *root =
                json_loadb(body + i, end - i, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
            if (!root) {
                reject(ev, index, "line %zu is not JSON: %s", index + 1, err.text);
            } else {
                if ((rc = keep_root(ev->priv, root))) {
                    json_decref(root);
                    return rc;
                }
                decode_one(ev, index, root, now);
            }
        }
        i = end + 1;
    }
    return AM_OK;
}

am_err am__events_decode(const char *body, size_t len, bool ndjson, double now, am_events *out)
{
    memset(out, 0, sizeof *out);
    priv *p = am__calloc(1, sizeof *p);
    if (!p)
        return am__err(AM_ENOMEM, "out of memory");
    out->priv = p;
    if (ndjson)
        return decode_ndjson(out, body, len, now);

    json_error_t err;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
    if (!root) {
        /* several objects one after another: NDJSON sent without its type */
        size_t i = 0;
        while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n'))
            i++;
        if (i < len && body[i] == '{' && memchr(body + i, '\n', len - i))
            return decode_ndjson(out, body, len, now);
        return am__err(AM_EINVAL, "the body is not JSON: %s (line %d, column %d)", err.text,
                       err.line, err.column);
    }
    am_err rc = keep_root(p, root);
    if (rc) {
        json_decref(root);
        return rc;
    }
    if (json_is_array(root)) {
        size_t n = json_array_size(root);
        if (n == 0)
            return am__err(AM_EINVAL, "the body is an empty array: no event to take");
        if ((rc = reserve(out, n)))
            return rc;
        for (size_t i = 0; i < n; i++)
            decode_one(out, out->n_events++, json_array_get(root, i), now);
        return AM_OK;
    }
    if (!json_is_object(root))
        return am__err(AM_EINVAL, "the body must be a JSON object, an array of objects, or NDJSON");
    if ((rc = reserve(out, 1)))
        return rc;
    decode_one(out, out->n_events++, root, now);
    return AM_OK;
}

void am__events_free(am_events *ev)
{
    priv *p = ev->priv;
    if (p) {
        for (size_t i = 0; i < p->n_roots; i++)
            json_decref(p->roots[i]);
        for (size_t i = 0; i < p->n_mems; i++) {
            am__free(p->mems[i]->labels);
            am__free(p->mems[i]);
        }
        am__free(p->roots);
        am__free(p->mems);
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
