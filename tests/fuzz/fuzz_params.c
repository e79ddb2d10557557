/*
** fuzz_params.c: libFuzzer target -- any bytes as the query string of the
** query API (src/serve/params.c), decoded as the HTTP layer decodes it
** (src/http/query.c), for a select, a summary and a series query.
**
** WHAT IT CHECKS
**   Each parse returns AM_OK or AM_EINVAL (AM_ENOMEM never, here). Refused:
**   nothing is left to free. Accepted: limit within 1..10000; at most
**   AM_STORE_MAX_FILTERS filters, each on a column of the table, and no
**   column twice; group_by columns are groupable and distinct; start <=
**   end when both are set; summary and series ranges are finite with a
**   positive step (series: or 0) making at most 10000 points; series
**   names are valid metric names and matchers have label names.
** A violation prints what was wrong and traps.
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "agentmon/agentmon.h"
#include "util/validate.h"
#include "util/query.h"
#include "serve/api/params.h"

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_params: " __VA_ARGS__);                                          \
            fprintf(stderr, "\n  (errmsg: %s)\n", am_errmsg());                                    \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

static void check_filters(const am_table *t, const am_store_query *q)
{
    CHECK(q->n_filters <= AM_STORE_MAX_FILTERS, "too many filters");
    for (size_t i = 0; i < q->n_filters; i++) {
        CHECK(q->filters[i].col >= 0 && (size_t)q->filters[i].col < t->n_cols, "bad column");
        for (size_t j = 0; j < i; j++)
            CHECK(q->filters[i].col != q->filters[j].col, "column twice");
    }
    CHECK(!(q->start > q->end), "start after end");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    am_query qs;
    if (am__query_parse((const char *)data, size, &qs) != AM_OK)
        return 0;
    am_params p = {(const char *const *)qs.names, (const char *const *)qs.values, qs.n,
                   1700000000.0};
    am_params_mem mem;
    const am_table *t = am_table_get((am_table_id)(size % AM_T__N));

    am_store_query q;
    am_err rc = am__params_select(t, &p, &q, &mem);
    CHECK(rc == AM_OK || rc == AM_EINVAL, "select returned %s", am_err_name(rc));
    if (rc == AM_OK) {
        CHECK(q.limit >= 1 && q.limit <= 10000, "limit %zu", q.limit);
        check_filters(t, &q);
    }
    CHECK(rc == AM_OK || mem.n == 0, "memory left after an error");
    am__params_free(&mem);

    am_store_summary s;
    rc = am__params_summary(t, &p, &s, &mem);
    CHECK(rc == AM_OK || rc == AM_EINVAL, "summary returned %s", am_err_name(rc));
    if (rc == AM_OK) {
        check_filters(t, &s.q);
        CHECK(isfinite(s.q.start) && isfinite(s.q.end) && s.step > 0, "range");
        CHECK((s.q.end - s.q.start) / s.step <= 10000, "points");
        for (size_t i = 0; i < s.n_group_by; i++) {
            CHECK(t->cols[s.group_by[i]].group_by, "not groupable");
            for (size_t j = 0; j < i; j++)
                CHECK(s.group_by[i] != s.group_by[j], "group twice");
        }
    }
    CHECK(rc == AM_OK || mem.n == 0, "memory left after an error");
    am__params_free(&mem);

    am_store_series r;
    rc = am__params_series(&p, &r, &mem);
    CHECK(rc == AM_OK || rc == AM_EINVAL, "series returned %s", am_err_name(rc));
    if (rc == AM_OK) {
        CHECK(am__check_metric_name(r.name, "name") == AM_OK, "bad name");
        CHECK(isfinite(r.start) && isfinite(r.end) && r.start <= r.end && r.step >= 0, "range");
        CHECK(r.n_match <= AM_STORE_MAX_FILTERS, "matchers");
        for (size_t i = 0; i < r.n_match; i++)
            CHECK(r.match_names[i][0] && r.match_values[i], "matcher %zu", i);
    }
    CHECK(rc == AM_OK || mem.n == 0, "memory left after an error");
    am__params_free(&mem);
    am__query_free(&qs);
    return 0;
}
