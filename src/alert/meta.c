/*
** meta.c: the window's metadata as Prometheus' API lists it -- the series
** that series selectors (match[]) pick within a time range, for
** /api/v1/labels, /api/v1/label/{name}/values and /api/v1/series.
**
** DESIGN
** A match[] is parsed as PromQL and must be a lone vector selector (as
** Prometheus' ParseMetricSelector requires); its matchers go to the
** window's index (am__tsdb_select). A series is "in" [start, end] when its
** chunks overlap the range (chunk bounds only: nothing is decoded), as
** Prometheus' querier answers from block and chunk bounds.
**
** THREADING: each call holds the window's read lock while it reads; the
** callback runs under it and must not call back into the window.
*/
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "../util/alloc.h"
#include "../util/error.h"
#include "promql.h"

am_err am_promql_selector(const char *text, am_promql **out, char *err, size_t cap)
{
    am_err rc = am_promql_parse(text, out, err, cap);
    if (rc)
        return rc;
    am_pql_kind kind = (*out)->root->kind; /* read before the parse is freed */
    if (kind != N_VSEL) {
        am_promql_free(*out);
        *out = NULL;
        snprintf(err, cap, "1:1: parse error: unexpected %s, expected a series selector",
                 kind == N_MSEL ? "range vector" : "expression");
        return am__err(AM_EINVAL, "%s", err);
    }
    return AM_OK;
}

const char *am_promql_type(const am_promql *q)
{
    switch (q->root->type) {
    case AM_PQL_SCALAR:
        return "scalar";
    case AM_PQL_VECTOR:
        return "vector";
    case AM_PQL_MATRIX:
        return "matrix";
    case AM_PQL_STRING:
        return "string";
    default:
        return "none";
    }
}

static bool overlaps(const am_tseries *s, int64_t start, int64_t end)
{
    if (!s->n_chunks || s->last_t < start)
        return false;
    return s->chunks[0]->mint <= end;
}

am_err am_tsdb_series_matching(am_tsdb *db, const am_promql *const *sel, size_t n, int64_t start_ms,
                               int64_t end_ms,
                               void (*fn)(void *ud, const am_label *l, size_t n_labels), void *ud)
{
    am_arena a;
    jmp_buf jb;
    am__arena_init(&a, &jb);
    if (setjmp(jb)) {
        am__arena_free(&a);
        am__tsdb_unlock(db);
        return am__err(AM_ENOMEM, "out of memory");
    }
    am__tsdb_rdlock(db);
    /* a series picked by two selectors is listed once: ids seen */
    size_t cap_seen = 0, n_seen = 0;
    uint32_t *seen = NULL;
    for (size_t i = 0; i < n; i++) {
        const am_pql_vsel *vs = &sel[i]->root->u.vs;
        am_tseries **ss;
        size_t k = am__tsdb_select(db, vs->m, vs->n_m, &a, &ss);
        for (size_t j = 0; j < k; j++) {
            if (!overlaps(ss[j], start_ms, end_ms))
                continue;
            bool dup = false;
            for (size_t q = 0; q < n_seen && !dup; q++)
                dup = seen[q] == ss[j]->id;
            if (dup)
                continue;
            if (n > 1) {
                seen = am__arena_grow(&a, seen, &cap_seen, n_seen + 1, sizeof *seen);
                seen[n_seen++] = ss[j]->id;
            }
            fn(ud, ss[j]->labels->l, ss[j]->labels->n);
        }
    }
    am__tsdb_unlock(db);
    am__arena_free(&a);
    return AM_OK;
}
