/*
** fuzz_events.c: libFuzzer target -- any bytes as the body of POST
** /api/v1/events (src/serve/events.c), both as JSON and as NDJSON, and as
** a gzip-encoded body (am__gunzip, src/http/gzip.c).
**
** WHAT IT CHECKS
**   The memory made for events is at most AM_EVENT_ARENA_MAX per event
**   and there are at most AM_EVENTS_MAX of them (size accounting).
**   The decoder returns AM_OK, AM_EINVAL or AM_ELIMIT (never AM_ENOMEM
**   here: bodies are small). On AM_OK every event is either a record or a
**   rejection with a non-empty reason, in body order; and every record is
**   one the store accepts: id non-empty and at most AM_STORE_MAX_ID bytes,
**   a timestamp in 1970..9999, required columns present, TEXT values valid
**   UTF-8 of at most AM_STORE_MAX_TEXT bytes, no NaN or infinity in REAL
**   columns, INT values >= 0; a metric record's label text splits back
**   (am__labels_split) into pairs that make the same text again.
** A violation prints what was wrong and traps.
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentmon/agentmon.h"
#include "util/alloc.h"
#include "util/civil.h"
#include "util/validate.h"
#include "util/gzip.h"
#include "serve/ingest/events.h"
#include "serve/store/labels.h"
#include "serve/store/store.h"

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_events: " __VA_ARGS__);                                          \
            fprintf(stderr, "\n");                                                                 \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

/* A metric record's label text splits back into pairs that make the same
   text again (labels.c, both ways). */
static void check_labels(const am_record *r)
{
    const am_value *v = &r->vals[AM_METRIC_LABELS];
    if (v->is_null)
        return;
    size_t len = strlen(v->v.s), n;
    char *scratch = malloc(len + 1);
    const char *names[AM_LABELS_MAX], *values[AM_LABELS_MAX];
    am_err rc = am__labels_split(v->v.s, scratch, len + 1, names, values, AM_LABELS_MAX, &n);
    CHECK(rc == AM_OK, "labels %s do not split: %s", v->v.s, am_errmsg());
    am_buf b;
    am_buf_init(&b, 0);
    am__labels_canonical(&b, names, values, n);
    CHECK(strcmp(b.p ? b.p : "", v->v.s) == 0, "labels %s came back as %s", v->v.s, b.p ? b.p : "");
    am_buf_free(&b);
    free(scratch);
}

static void check(const uint8_t *data, size_t size, bool ndjson)
{
    am_events ev;
    /* the decoder writes into the body: a copy of its own, exactly sized so
       that ASan sees any read or write past the end */
    char *body = malloc(size ? size : 1);
    memcpy(body, data, size);
    am_err rc = am__events_decode(body, size, ndjson, 1700000000.0, &ev);
    CHECK(rc == AM_OK || rc == AM_EINVAL || rc == AM_ELIMIT, "returned %s", am_err_name(rc));
    if (rc == AM_OK) {
        CHECK(ev.n_recs + ev.n_rejects == ev.n_events, "%zu + %zu != %zu", ev.n_recs, ev.n_rejects,
              ev.n_events);
        /* size accounting: a bounded cost per event, whatever the text */
        CHECK(ev.n_events <= AM_EVENTS_MAX, "%zu events", ev.n_events);
        CHECK(ev.arena_bytes <= ev.n_events * AM_EVENT_ARENA_MAX, "%zu bytes for %zu events",
              ev.arena_bytes, ev.n_events);
        for (size_t i = 0; i < ev.n_rejects; i++) {
            CHECK(ev.rejects[i].error[0], "empty reason");
            CHECK(i == 0 || ev.rejects[i].index > ev.rejects[i - 1].index, "rejects out of order");
        }
        for (size_t i = 0; i < ev.n_recs; i++) {
            const am_record *r = &ev.recs[i];
            const am_table *t = am_table_get(r->table);
            CHECK(t, "bad table");
            CHECK(i == 0 || ev.index[i] > ev.index[i - 1], "records out of order");
            const char *id = r->vals[0].v.s;
            CHECK(!r->vals[0].is_null && id && id[0] && strlen(id) <= AM_STORE_MAX_ID, "bad id");
            double ts = r->vals[1].v.d;
            CHECK(!r->vals[1].is_null && ts >= 0 && ts <= (double)AM_CIVIL_MAX_SEC + 1, "bad ts");
            if (r->table == AM_T_METRIC)
                check_labels(r);
            for (size_t c = 2; c < t->n_cols; c++) {
                const am_value *v = &r->vals[c];
                CHECK(!(t->cols[c].required && v->is_null), "%s missing", t->cols[c].name);
                if (v->is_null)
                    continue;
                switch (t->cols[c].type) {
                case AM_COL_TEXT:
                    CHECK(v->v.s && strlen(v->v.s) <= AM_STORE_MAX_TEXT &&
                              am__utf8_valid(v->v.s, strlen(v->v.s), NULL),
                          "bad text in %s", t->cols[c].name);
                    break;
                case AM_COL_INT:
                    CHECK(v->v.i >= 0, "negative %s", t->cols[c].name);
                    break;
                case AM_COL_REAL:
                case AM_COL_TIME:
                    CHECK(isfinite(v->v.d), "%s not finite", t->cols[c].name);
                    break;
                }
            }
        }
    }
    am__events_free(&ev);
    free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check(data, size, false);
    check(data, size, true);
    /* the same bytes as a gzip body: refused cleanly, or inflated within
       the cap and NUL-terminated */
    char *out = NULL;
    size_t n = 0;
    am_err rc = am__gunzip((const char *)data, size, 1 << 16, &out, &n);
    CHECK(rc == AM_OK || rc == AM_EINVAL || rc == AM_ELIMIT, "gunzip returned %s", am_err_name(rc));
    CHECK(rc != AM_OK || (n <= (1 << 16) && out[n] == '\0'), "gunzip output");
    am__free(out);
    return 0;
}
