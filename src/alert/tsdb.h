/*
** tsdb.h: the in-memory window's internals, for the evaluator (the
** contract the collector uses is in alert.h).
**
** A series is its label set, its compressed chunks and the appender state
** of its head chunk, plus a copy of its last sample so that an instant
** selector at "now" -- every rule evaluation -- needs no decoding.
*/
#ifndef AM_ALERT_TSDB_H
#define AM_ALERT_TSDB_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "alert.h"
#include "arena.h"
#include "chunk.h"
#include "labels.h"
#include "regex.h"

/* Prometheus' staleness marker: a NaN with this exact bit pattern. */
#define AM_STALE_NAN_BITS UINT64_C(0x7ff0000000000002)
static inline bool am__is_stale_nan(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return b == AM_STALE_NAN_BITS;
}
double am__stale_nan(void);

typedef struct am_tseries {
    am_lset *labels; /* owned */
    uint32_t id;
    uint32_t src;   /* source that last appended, 0 none */
    uint32_t seen;  /* that source's round of the last append */
    bool is_live;   /* in its source's live list */
    int64_t last_t; /* INT64_MIN before the first sample */
    double last_v;
    am_chunk_app app;
    am_chunk **chunks; /* oldest first; the last one takes appends */
    uint32_t n_chunks;
    uint32_t cap_chunks;
    /* where the last range read stopped before its range: the next read
       of a later range resumes there instead of decoding the chunk from
       its start (rules read the same series every round). Guarded by
       the window's striped cursor locks; cur_chunk UINT32_MAX: none. */
    uint32_t cur_chunk;
    am_chunk_it cur;
} am_tseries;

typedef enum am_match_op { AM_MATCH_EQ, AM_MATCH_NEQ, AM_MATCH_RE, AM_MATCH_NRE } am_match_op;

typedef struct am_matcher {
    const char *name;
    const char *value;
    am_match_op op;
    am_regex *re; /* RE, NRE: compiled value */
} am_matcher;

/* Whether the matcher accepts value v (a missing label is ""). */
bool am__matcher_ok(const am_matcher *m, const char *v);

/*
** Series matching every matcher, in creation order (as Prometheus' head
** returns them), into an array in arena
** a (*out; count returned). Call with the read lock held; the series stay
** valid until it is released.
*/
size_t am__tsdb_select(am_tsdb *db, const am_matcher *m, size_t n, am_arena *a, am_tseries ***out);

/*
** The sample an instant selector sees at ref: the latest at or before ref,
** no older than ref - lookback (inclusive), unless it is a staleness
** marker. false when there is none.
*/
bool am__series_at(const am_tseries *s, int64_t ref, int64_t lookback, int64_t *t, double *v);

/* A sample in a range. */
typedef struct am_point {
    int64_t t;
    double v;
} am_point;

/*
** The samples in [mint, maxt] (both inclusive, as Prometheus 2.x selects
** ranges), staleness markers left out, appended to *pts (grown in a).
** Returns the new count.
*/
size_t am__series_range(am_tsdb *db, am_tseries *s, int64_t mint, int64_t maxt, am_arena *a,
                        am_point **pts, size_t *n, size_t *cap);

void am__tsdb_rdlock(am_tsdb *db);
void am__tsdb_unlock(am_tsdb *db);

#endif
