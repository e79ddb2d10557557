/*
** logs.c: GET /api/v1/logs -- the log lines of the file this server writes
** (the demo's JSON log), for the dashboard's trace page:
**
**   GET /api/v1/logs?trace_id=ID&limit=N   (read)
**   {"status":"success","data":[<line>, ...]}   oldest first
**
** Design. The log file is already one JSON object per line with trace_id
** and span_id (src/log), written by the agents' threads; rather than keep a
** second copy in memory, this reads the file's last LOGS_TAIL_BYTES (a few
** minutes of a busy demo) and keeps the lines that are JSON objects and,
** with trace_id, belong to that trace. Each line is parsed (jansson) so
** that a torn or foreign line never makes the answer invalid JSON; kept
** lines are copied as they are. A full index by trace id over all the
** lines the collector is sent is not built: see docs/DASHBOARD.md.
**
** Threading: each request opens the file itself; the writer appends with
** O_APPEND, so a reader sees whole lines or a partial last one (skipped:
** it does not parse). Ownership: log_path is borrowed from am_dashboard.
*/
#define _GNU_SOURCE /* memmem */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../serve/api/reply.h"
#include "../util/alloc.h"
#include "../util/buf.h"
#include "dashboard.h"

#define LOGS_TAIL_BYTES (8u << 20)
#define LOGS_DEFAULT_LIMIT 200
#define LOGS_MAX_LIMIT 2000

bool am__trace_id_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n != 32 && n != 36)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool dash = n == 36 && (i == 8 || i == 13 || i == 18 || i == 23);
        bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (dash ? c != '-' : !hex)
            return false;
    }
    return true;
}

/* Whether line is a JSON object whose trace_id is trace_id (any, if NULL). */
static bool keep(const char *line, size_t n, const char *trace_id)
{
    if (n < 2 || line[0] != '{')
        return false;
    /* parse only the lines that hold the id at all: most of 8 MiB do not */
    if (trace_id && !memmem(line, n, trace_id, strlen(trace_id)))
        return false;
    json_error_t e;
    json_t *j = json_loadb(line, n, JSON_REJECT_DUPLICATES, &e);
    bool ok = j && json_is_object(j);
    if (ok && trace_id) {
        const char *t = json_string_value(json_object_get(j, "trace_id"));
        ok = t && strcmp(t, trace_id) == 0;
    }
    json_decref(j);
    return ok;
}

void am__logs_filter(const char *text, size_t len, const char *trace_id, size_t max, am_buf *out)
{
    /* walk back from the end, so that the last max lines are found first;
       then write them oldest first */
    size_t *starts = am__calloc(max ? max : 1, sizeof *starts);
    size_t *lens = am__calloc(max ? max : 1, sizeof *lens);
    size_t n = 0, end = len;
    if (!starts || !lens) {
        am__free(starts);
        am__free(lens);
        am_buf_puts(out, "[]");
        return;
    }
    while (end > 0 && n < max) {
        size_t s = end;
        while (s > 0 && text[s - 1] != '\n')
            s--;
        /* s == 0 with more of the file before the tail: a partial line,
           which keep() refuses unless it happens to be whole */
        size_t l = end - s;
        while (l > 0 && (text[s + l - 1] == '\n' || text[s + l - 1] == '\r'))
            l--;
        if (keep(text + s, l, trace_id)) {
            starts[n] = s;
            lens[n++] = l;
        }
        end = s > 0 ? s - 1 : 0;
    }
    am_buf_putc(out, '[');
    for (size_t i = n; i-- > 0;) {
        am_buf_append(out, text + starts[i], lens[i]);
        if (i)
            am_buf_putc(out, ',');
    }
    am_buf_putc(out, ']');
    am__free(starts);
    am__free(lens);
}

/* The last LOGS_TAIL_BYTES of path, from a line start: owned, am__free(). */
static char *read_tail(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    long from = size > (long)LOGS_TAIL_BYTES ? size - (long)LOGS_TAIL_BYTES : 0;
    char *buf = size >= 0 ? am__malloc((size_t)(size - from) + 1) : NULL;
    size_t n = 0;
    if (buf && fseek(f, from, SEEK_SET) == 0)
        n = fread(buf, 1, (size_t)(size - from), f);
    fclose(f);
    if (!buf)
        return NULL;
    buf[n] = '\0';
    size_t skip = 0;
    if (from > 0) { /* started mid-line: drop up to the first newline */
        while (skip < n && buf[skip] != '\n')
            skip++;
        skip += skip < n;
    }
    memmove(buf, buf + skip, n - skip + 1);
    *len = n - skip;
    return buf;
}

static void get_logs(am_http_req *req, am_http_resp *resp, void *ud)
{
    const am_dashboard *d = ud;
    const char *trace_id = am_http_req_query(req, "trace_id");
    if (trace_id && !am__trace_id_valid(trace_id)) {
        am_http_resp_error(resp, 400, "bad_data",
                           "trace_id: 32 hex digits (W3C traceparent) or a UUID");
        return;
    }
    size_t limit;
    if (!am__web_limit(req, resp, LOGS_DEFAULT_LIMIT, LOGS_MAX_LIMIT, &limit))
        return;
    size_t len = 0;
    char *text = read_tail(d->log_path, &len);
    am_buf b;
    am_buf_init(&b, 0);
    am_buf_puts(&b, "{\"status\":\"success\",\"data\":");
    if (text)
        am__logs_filter(text, len, trace_id, limit, &b);
    else
        am_buf_puts(&b, "[]"); /* not written yet */
    am__free(text);
    am_buf_putc(&b, '}');
    am__http_reply_json(resp, 200, &b);
}

am_err am__logs_routes_add(am_http *h, const am_dashboard *d)
{
    return am_http_route(h, AM_HTTP_GET, "/api/v1/logs", get_logs, (void *)d, d->read_auth);
}
