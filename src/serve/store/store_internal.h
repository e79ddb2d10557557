/*
** store_internal.h: what the store's files share (store.c: the queue,
** the writer, open and close, submit and wait; store_migrate.c: schema
** versions; store_rollup.c: histograms and the rollups the writer
** maintains; store_query.c: cursors, select, summaries, series) -- the
** store's struct, its limits, and the functions one file gives another.
** Not an interface: store.h is.
*/
#ifndef AM_SERVE_STORE_INTERNAL_H
#define AM_SERVE_STORE_INTERNAL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_timedjoin_np */
#endif
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../util/alloc.h"
#include "../../util/error.h"
#include "../../util/fmt.h"
#include "../../util/validate.h"
#include "../../util/hash.h"
#include "agentmon/timer.h"
#include "labels.h"
#include "store_backend.h"

#define MAX_TIME 253402300800.0 /* 10000-01-01T00:00:00Z */
#define MAX_STEPS 10000
#define MAX_POINTS 1000000
#define LOOKBACK_S 300.0
#define RETENTION_EVERY_S 1.0
#define PING_EVERY_S 1.0
/* histograms: log buckets of ratio GAMMA (store_rollup.c says why) */
#define GAMMA 1.02
#define H_POS 1000000
#define H_INF 10000000

/* A bin's count never passes this: its text (a signed 64-bit decimal,
   what both stores read back) must read back as written. */
#define HIST_COUNT_MAX ((uint64_t)INT64_MAX)

typedef struct hbin {
    int32_t idx;
    uint64_t n;
} hbin;

typedef struct hist {
    hbin *b;
    size_t n, cap;
} hist;

/* count, errors and a histogram of one key */
typedef struct acc {
    uint64_t n, errors, n_vals;
    hist h;
    /* the key's parts, for whoever writes or renders it */
    am_table_id table;
    int level, dim;
    double bucket;
    char *g; /* group value (rollups), NULL for SQL NULL */
    uint32_t group;
    int64_t sbucket;
} acc;

/* Accumulators by key: an am__map whose values are acc (owned: freed by
   am__amap_free), FNV-1a hashed and 256 slots at first, so the walk of
   the rollups (the order their statements run in) is the same each run. */
typedef am__map amap;

typedef struct entry {
    struct entry *next;
    uint64_t ticket;
    size_t n;
    size_t bytes;
    bool is_samples; /* submitted by am_store_submit_samples: within its share */
    am_record *recs;
} entry;

typedef struct failed_range {
    uint64_t lo, hi;
    char msg[256];
} failed_range;

struct am_store {
    const am_store_ops *ops;
    void *be;
    am_store_opts o;
    char *insert_sql[AM_T__N];
    char *delete_sql[AM_T__N];
    /* [has_writer]: the rollup tables before and from AM_ROLLUP_WRITER_SINCE */
    char *rollup_get_sql[AM_T__N][2], *rollup_put_sql[AM_T__N][2], *rollup_delete_sql[AM_T__N];
    am_col_type param_types[AM_T__N][AM_TABLE_MAX_COLS]; /* of the columns */
    /* the schema version of the database (the latest, but for tests that
       open older ones) and the columns each table has in it (0: none) */
    int version;
    size_t n_cols[AM_T__N];
    bool is_rollup_read_off; /* tests: summaries read rows only */
    amap rcache;             /* writer: the stored totals of recent rollup keys */
    bool is_maintainer;      /* writer: runs retention (store_backend.h) */
    bool has_maint_state;    /* writer: is_maintainer was found once */
    /* the rollup tables have the writer column (the database's version,
       or the migration being applied, is AM_ROLLUP_WRITER_SINCE or later),
       and this store's value of it: '' when the backend has one writer per
       database (SQLite), else 16 random hex digits per open */
    bool rollup_has_writer;
    char writer_id[17];

    pthread_mutex_t mu;
    pthread_mutex_t conn_mu;  /* the writer connection: writer thread, am__store_exec */
    pthread_cond_t queued_cv; /* the writer waits for work */
    pthread_cond_t done_cv;   /* waiters wait for batches */
    entry *head, *tail;
    size_t n_queued, queued_bytes;
    size_t n_queued_samples, queued_bytes_samples; /* the part samples hold */
    uint64_t last_ticket;                          /* given by submit */
    uint64_t done;                                 /* every ticket <= done is finished */
    am_store_watch *watch, *watch_tail;            /* submit_then's, in ticket order */
    failed_range *failed;
    size_t n_failed, cap_failed;
    bool is_stopping, is_broken, is_paused;
    bool is_failing;   /* a batch failed and none has committed since: logged once */
    bool is_releasing; /* waits return at once: the collector is stopping */
    char broken_msg[256];
    am_store_stats st;
    pthread_t writer;
    clockid_t writer_clock; /* its CPU time, for writer_cpu_s */
    bool has_writer, has_writer_clock;
};

/* rollup levels, seconds: hours, then minutes */
static const double LEVELS[2] = {3600, 60};
enum { HOURS = 0, MINUTES = 1 }; /* indexes of LEVELS */

static inline double mono_now(void)
{
    return (double)am_now_ns() * 1e-9;
}

static inline void abs_deadline(struct timespec *ts, double from_now_s)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    double s = (double)ts->tv_sec + (double)ts->tv_nsec * 1e-9 + from_now_s;
    ts->tv_sec = (time_t)s;
    ts->tv_nsec = (long)((s - (double)ts->tv_sec) * 1e9);
    if (ts->tv_nsec >= 1000000000L)
        ts->tv_nsec = 999999999L;
}

/* ---- store_rollup.c: histograms ---------------------------------- */
int32_t am__hist_index(double v);
/* false: out of memory, or the bin's count would pass HIST_COUNT_MAX */
bool am__hist_add(hist *h, int32_t idx, uint64_t n);
/* add every bin of from to into; false (into unchanged) when a count
   would pass HIST_COUNT_MAX, or out of memory */
bool am__hist_merge(hist *into, const hist *from);
/* h as stored: "idx:n,idx:n" in index order */
void am__hist_text(am_buf *b, const hist *h);
/* merge stored text into h; false when it is not that text (or see
   am__hist_add): idx a decimal in [-H_INF, H_INF], n at most 19 digits */
bool am__hist_merge_text(hist *h, const char *s);
/* nearest rank: the value at rank ceil(q * total) */
double am__hist_quantile(const hist *h, uint64_t total, double q);

/* ---- store_rollup.c: maps of accumulators, keyed by bytes ---------- */
acc *am__amap_get(amap *m, const void *key, size_t klen, bool *is_new);
void am__amap_free(amap *m);

/* ---- store_rollup.c: rollups (the writer's, in the rows' transaction) */
/* The migration that made column col of t a rollup dimension (a TEXT
   group_by column with few values; col 0 stands for "no dimension"): the
   later of the column's and the table's rollups'; 0 when it is none. */
int am__store_dim_since(const am_table *t, int col);
/* whether column col (>= 2) of t is a rollup dimension at version v */
bool am__store_is_dim(const am_table *t, int col, int v);
/* whether t has rollups in s's database */
bool am__store_has_rollups(const am_store *s, const am_table *t);
/* whether a row is an error, from its error column's value */
bool am__store_is_error(const am_table *t, am_col_type type, const am_value *e);
/* Add one committed record to the rollups being built in m, for the
   dimensions of version v (only those made by migration `only`, when it
   is not 0); false: ENOMEM. */
bool am__rollup_add(amap *m, const am_record *r, int v, int only);
/* write m's keys (merged with what is stored) in the open transaction */
am_err am__rollup_flush(am_store *s, amap *m);

/* ---- store_migrate.c ------------------------------------------------- */
/* Bring the database to max_version (store_migrate.c); sets s->version. */
am_err am__store_migrate(am_store *s, int max_version);

/* ---- store_query.c / store.c --------------------------------------- */
/* summaries count the rows they read, for am_store_stats */
void am__store_count_read(am_store *s, uint64_t raw, uint64_t rollup);

#endif
