/*
** fuzz_promql.c: libFuzzer target -- any bytes as a PromQL expression
** (am_promql_parse, src/alert/promql_*.c), and what parses is evaluated.
**
** WHAT IT CHECKS
**   Refused: a message in Prometheus' form ("L:C: parse error: ...").
**   Accepted: the tree's type is one of the four, and evaluating it at two
**   times over a small fixed window (counters with a reset, gauges with
**   NaN and infinities, histogram buckets, a stale series) either succeeds
**   -- and the result's JSON is well-formed enough to start right -- or
**   fails with an evaluation error and a message; a range query likewise.
**   Samples are capped, so no input can make it run away.
** Nothing leaks, nothing is read out of bounds (ASan); a violation traps.
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/promql.h"
#include "util/buf.h"

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_promql: " __VA_ARGS__);                                          \
            fprintf(stderr, "\n");                                                                 \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

static am_tsdb *g_db;

static void add(const char *name, const char *k, const char *v, int64_t t, double val)
{
    am_label p[3] = {{"__name__", name}, {k, v}, {"job", "j"}};
    (void)am_tsdb_append(g_db, NULL, p, 3, t, val);
}

static void setup(void)
{
    am_tsdb_opts o = AM_TSDB_OPTS_INIT;
    o.retention_ms = 24 * 3600 * 1000;
    am_tsdb_new(&o, &g_db);
    am_tsdb_begin(g_db, NULL);
    static const char *const LE[] = {"0.1", "1", "10", "+Inf"};
    for (int i = 0; i < 40; i++) {
        int64_t t = i * 15000;
        add("c_total", "a", "1", t, i * 3.0);
        add("c_total", "a", "2", t, i < 20 ? i : i - 20);
        add("g", "a", "1", t, i % 7 == 3 ? NAN : i % 11 == 5 ? INFINITY : sin(i) * 100);
        for (int k = 0; k < 4; k++)
            add("h_bucket", "le", LE[k], t, i * (k + 1.0));
        if (i < 10)
            add("gone", "a", "x", t, 1);
    }
    double stale = am__stale_nan();
    add("gone", "a", "x", 150000, stale);
    am_tsdb_commit(g_db, NULL, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_db)
        setup();
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    am_promql *q = NULL;
    char err[512];
    am_err rc = am_promql_parse(text, &q, err, sizeof err);
    if (rc) {
        CHECK(rc == AM_EINVAL || rc == AM_ENOMEM, "parse returned %d", rc);
        CHECK(rc == AM_ENOMEM || strstr(err, "parse error"), "message \"%s\"", err);
        free(text);
        return 0;
    }
    CHECK(q->root && q->root->type >= AM_PQL_SCALAR && q->root->type <= AM_PQL_STRING, "no type");
    am_promql_opts o = AM_PROMQL_OPTS_INIT;
    o.max_samples = 20000;
    static const int64_t TS[] = {300000, 600000};
    for (size_t i = 0; i < 2; i++) {
        am_promql_result *r = NULL;
        err[0] = '\0';
        rc = am_promql_eval(g_db, q, TS[i], &o, &r, err, sizeof err);
        if (rc) {
            CHECK(rc == AM_EINVAL || rc == AM_ELIMIT || rc == AM_ENOMEM, "eval returned %d", rc);
            CHECK(err[0], "eval error without a message");
            continue;
        }
        am_buf b;
        am_buf_init(&b, 0);
        am_promql_result_json(r, &b);
        CHECK(!am_buf_err(&b) && b.p && strncmp(b.p, "{\"resultType\":\"", 15) == 0, "json");
        am_buf_free(&b);
        am_promql_result_free(r);
    }
    am_promql_result *r = NULL;
    rc = am_promql_eval_range(g_db, q, 0, 600000, 120000, &o, &r, err, sizeof err);
    if (!rc)
        am_promql_result_free(r);
    am_promql_free(q);
    free(text);
    return 0;
}
