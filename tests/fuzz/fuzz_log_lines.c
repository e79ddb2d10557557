/*
** fuzz_log_lines.c: libFuzzer target -- any bytes as the body of POST
** /api/v1/logs or a chunk of a --tail file (src/serve/ingest/log_lines.c).
**
** WHAT IT CHECKS
**   The decoder returns AM_OK, AM_EINVAL or AM_ELIMIT. On AM_OK every line
**   is a record or a rejection with a reason, in order; every record is
**   one the store accepts: an id of 32 hex digits, a timestamp in
**   1970..9999, TEXT values valid UTF-8 of at most AM_STORE_MAX_TEXT
**   bytes; a trace id is 32 lowercase hex digits; "fields" is one JSON
**   object (the pull reader takes it whole). Decoding the same bytes again
**   gives the same ids.
** A violation prints what was wrong and traps.
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentmon/agentmon.h"
#include "util/civil.h"
#include "util/json.h"
#include "util/validate.h"
#include "serve/ingest/log_lines.h"
#include "serve/store/store.h"

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_log_lines: " __VA_ARGS__);                                       \
            fprintf(stderr, "\n");                                                                 \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

static bool all_hex(const char *s, size_t n)
{
    if (strlen(s) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static void check_fields(const char *s)
{
    size_t n = strlen(s);
    char *copy = malloc(n + 1);
    memcpy(copy, s, n + 1);
    am_json j;
    am__json_init(&j, copy, n, AM_JSON_CHECK);
    am_json_tok t = am__json_next(&j);
    CHECK(t == AM_JSON_OBJECT, "fields %s is not an object", s);
    CHECK(am__json_skip(&j, t) == AM_JSON_OBJECT_END && am__json_next(&j) == AM_JSON_END,
          "fields %s is not one JSON object", s);
    free(copy);
}

static void decode(const uint8_t *data, size_t size, am_events *ev, char **body)
{
    /* exactly sized, so that ASan sees a read past the end */
    *body = malloc(size ? size : 1);
    memcpy(*body, data, size);
    am_err rc = am__log_lines_decode(*body, size, 1700000000.0, ev);
    CHECK(rc == AM_OK || rc == AM_EINVAL || rc == AM_ELIMIT, "returned %s", am_err_name(rc));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    am_events ev, ev2;
    char *body, *body2;
    decode(data, size, &ev, &body);
    decode(data, size, &ev2, &body2);
    CHECK(ev.n_recs == ev2.n_recs, "not the same records twice");
    CHECK(ev.n_recs + ev.n_rejects == ev.n_events, "%zu + %zu != %zu", ev.n_recs, ev.n_rejects,
          ev.n_events);
    for (size_t i = 0; i < ev.n_rejects; i++)
        CHECK(ev.rejects[i].error[0], "empty reason");
    const am_table *t = am_table_get(AM_T_LOG);
    for (size_t i = 0; i < ev.n_recs; i++) {
        const am_record *r = &ev.recs[i];
        CHECK(r->table == AM_T_LOG, "bad table");
        CHECK(all_hex(r->vals[AM_LOG_ID].v.s, 32), "bad id");
        CHECK(strcmp(r->vals[AM_LOG_ID].v.s, ev2.recs[i].vals[AM_LOG_ID].v.s) == 0, "ids differ");
        double ts = r->vals[AM_LOG_TIMESTAMP].v.d;
        CHECK(!r->vals[AM_LOG_TIMESTAMP].is_null && isfinite(ts) && ts >= 0 &&
                  ts <= (double)AM_CIVIL_MAX_SEC + 1,
              "bad timestamp");
        for (size_t c = 2; c < t->n_cols; c++) {
            const am_value *v = &r->vals[c];
            if (v->is_null)
                continue;
            size_t n = strlen(v->v.s);
            CHECK(n <= AM_STORE_MAX_TEXT && am__utf8_valid(v->v.s, n, NULL), "bad text in %s",
                  t->cols[c].name);
        }
        if (!r->vals[AM_LOG_TRACE_ID].is_null)
            CHECK(all_hex(r->vals[AM_LOG_TRACE_ID].v.s, 32), "trace id %s",
                  r->vals[AM_LOG_TRACE_ID].v.s);
        if (!r->vals[AM_LOG_FIELDS].is_null)
            check_fields(r->vals[AM_LOG_FIELDS].v.s);
    }
    am__events_free(&ev);
    am__events_free(&ev2);
    free(body);
    free(body2);
    return 0;
}
