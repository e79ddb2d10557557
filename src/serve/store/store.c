/*
** store.c: the record store's generic part (see store.h) -- backend
** choice, open and close, the submit queue and its writer thread,
** retention -- over a backend that only runs SQL (store_backend.h).
** Migrations are store_migrate.c's, rollups store_rollup.c's, reads
** store_query.c's.
**
** DESIGN
** Writes. am_store_submit() validates every record, copies the n records
** into one allocation (an entry) and appends it to a FIFO queue under the
** store's mutex, giving it the next ticket. One writer thread takes
** entries in order and commits them in one transaction (group commit):
** it takes what is queued (up to max_batch records), inserts it, then,
** while the batch is younger than batch_window_s and smaller than
** max_batch, takes what arrived meanwhile, and commits. A run of records
** of one table goes to the backend's insert_rows when it has one (SQLite:
** many rows per statement), else one INSERT per record (run_many); either
** way the backend says which records it stored, and only those go into
** the rollups. Tickets therefore
** commit in order: "ticket <= done" means committed, unless the ticket
** lies in one of the failed ranges kept for that. Waiters sleep on one
** condition variable broadcast after each batch -- after the mutex is
** released, as the writer's wake-up is signalled after submit releases
** it: a thread woken while the mutex is still held wakes only to sleep
** again on the mutex, and on a small machine those extra context
** switches were a quarter of a one-event request's (issue 14). A batch that fails is
** rolled back, its tickets fail with the error (AM_EIO), and submits are
** refused with AM_EIO until the writer's probe (ping) succeeds again, so
** nothing is accepted that cannot be written.
**
** Retention runs on the writer thread between batches: each pass is a
** series of DELETE statements of at most retention_batch rows (each its
** own short transaction), one statement per loop turn, so a batch waiting
** to be written waits for one small delete at most. The state tables
** (is_kept: alert state, silences) are left alone.
**
** Versions. A store reads and writes the columns, tables and rollups of
** its database's schema version (s->version, s->n_cols): the latest once
** migrated, an older one only when a test opens it so
** (am__store_open_version), to fill it as that version did.
**
** Reads run on the calling thread with a reading connection of the
** backend, and read their whole result before the first callback (so a
** failed read calls nothing back). Paging is keyset paging on
** (timestamp, seq); the cursor carries the last row's key and a checksum
** over it and the query's fingerprint (am__store_query_hash), so a cursor
** cannot be altered or replayed against another query unnoticed.
**
** Rollups. For every record it stores, the writer adds the record's
** count, error and value (into a log-bucketed histogram, < 1% relative
** error) to the keys (table, level 60 s, dimension, bucket, value of the
** dimension) -- dimension "none" and each TEXT group_by column that is
** not high-cardinality -- and before COMMIT makes the 3600 s keys from
** the minute keys (an hour holds whole minutes: one merge per key and
** batch) and merges both into the <table>_rollup rows of the same
** transaction, so the rollups are exactly the committed rows. The totals of the keys written last
** are kept in memory (one writer: they are what is stored), so a batch
** writes its keys without reading them back; a failed batch drops them.
** A histogram is stored as text ("index:count,..."), which both databases
** hold and compare alike.
**
** Summaries split [start, end) into whole hours (step a multiple of
** 3600), whole minutes (step a multiple of 60) and the partial minutes at
** the ends; the first two are read from the rollups, the rest from rows,
** all into the same per-(group, step) histograms, so a summary gives the
** same numbers whichever way it was read. Group_by or filters the
** rollups do not have (two dimensions, another column) read rows only.
*/
#include <agentmon/features.h>

#include "store_internal.h"

#include "../../util/random.h"

/* ------------------------------------------------------------------ */
/* Validation and copies of records                                    */
/* ------------------------------------------------------------------ */

static am_err check_record(const am_store *s, const am_record *r, size_t idx, size_t *bytes)
{
    const am_table *t = am_table_get(r->table);
    if (!t)
        return am__err(AM_EINVAL, "record %zu: unknown table %d", idx, (int)r->table);
    if (!s->n_cols[r->table])
        return am__err(AM_EINVAL, "record %zu: the database (schema version %d) has no table %s",
                       idx, s->version, t->sql_name);
    if (!r->vals)
        return am__err(AM_EINVAL, "record %zu: no values", idx);
    *bytes += sizeof(am_record) + t->n_cols * sizeof(am_value);
    for (size_t i = 0; i < t->n_cols; i++) {
        const am_column *c = &t->cols[i];
        const am_value *v = &r->vals[i];
        bool is_null = v->is_null || (c->type == AM_COL_TEXT && !v->v.s);
        if (is_null) {
            if (i < 2)
                return am__err(AM_EINVAL, "record %zu: %s %s is NULL", idx, t->api_name, c->name);
            continue;
        }
        switch (c->type) {
        case AM_COL_TEXT: {
            size_t n = strlen(v->v.s);
            size_t max = i == 0 ? AM_STORE_MAX_ID : AM_STORE_MAX_TEXT;
            if (i == 0 && n == 0)
                return am__err(AM_EINVAL, "record %zu: %s id is empty", idx, t->api_name);
            if (n > max)
                return am__err(AM_EINVAL, "record %zu: %s %s is longer than %zu bytes", idx,
                               t->api_name, c->name, max);
            if (!am__utf8_valid(v->v.s, n, NULL))
                return am__err(AM_EINVAL, "record %zu: %s %s is not valid UTF-8", idx, t->api_name,
                               c->name);
            *bytes += n + 1;
            break;
        }
        case AM_COL_REAL:
            if (isnan(v->v.d))
                return am__err(AM_EINVAL, "record %zu: %s %s is NaN", idx, t->api_name, c->name);
            break;
        case AM_COL_TIME:
            if (!(v->v.d >= 0 && v->v.d < MAX_TIME))
                return am__err(AM_EINVAL,
                               "record %zu: %s %s is not a time in years 1970..9999 (%g)", idx,
                               t->api_name, c->name, v->v.d);
            break;
        case AM_COL_INT:
            break;
        }
    }
    return AM_OK;
}

/* One allocation: the entry, the records, their values, their strings. */
static entry *copy_entry(const am_record *recs, size_t n, size_t bytes)
{
    size_t head = sizeof(entry);
    entry *e = am__malloc(head + bytes);
    if (!e)
        return NULL;
    e->next = NULL;
    e->n = n;
    e->bytes = bytes;
    e->recs = (am_record *)(void *)((char *)e + head);
    char *p = (char *)(e->recs + n);
    for (size_t k = 0; k < n; k++) {
        const am_table *t = am_table_get(recs[k].table);
        e->recs[k].table = recs[k].table;
        e->recs[k].vals = (am_value *)(void *)p;
        p += t->n_cols * sizeof(am_value);
    }
    for (size_t k = 0; k < n; k++) {
        const am_table *t = am_table_get(recs[k].table);
        for (size_t i = 0; i < t->n_cols; i++) {
            am_value v = recs[k].vals[i];
            if (t->cols[i].type == AM_COL_TEXT && (v.is_null || !v.v.s)) {
                v.is_null = true;
                v.v.s = NULL;
            } else if (t->cols[i].type == AM_COL_TEXT) {
                size_t len = strlen(v.v.s) + 1;
                memcpy(p, v.v.s, len);
                v.v.s = p;
                p += len;
            }
            e->recs[k].vals[i] = v;
        }
    }
    return e;
}

/* ------------------------------------------------------------------ */
/* The writer                                                          */
/* ------------------------------------------------------------------ */

static void fail_tickets(am_store *s, uint64_t lo, uint64_t hi, const char *msg)
{
    if (s->n_failed && s->failed[s->n_failed - 1].hi + 1 == lo) {
        s->failed[s->n_failed - 1].hi = hi;
    } else {
        failed_range *f = am__grow(s->failed, &s->cap_failed, s->n_failed + 1, sizeof *f, 8);
        if (!f)
            return; /* the waiters see the batch as failed via is_broken */
        s->failed = f;
        s->failed[s->n_failed].lo = lo;
        s->failed[s->n_failed++].hi = hi;
    }
    snprintf(s->failed[s->n_failed - 1].msg, sizeof s->failed[0].msg, "%s", msg);
}

/* Rollups of the records of e from k0 on that were stored (changed). */
static am_err roll_up(am_store *s, const entry *e, size_t k0, size_t n, const bool *changed,
                      uint64_t *dups, amap *rollups)
{
    for (size_t k = 0; k < n; k++) {
        if (!changed[k])
            ++*dups; /* stored before: already in the rollups */
        else if (!am__rollup_add(rollups, &e->recs[k0 + k], s->version, 0))
            return am__err(AM_ENOMEM, "out of memory building rollups");
    }
    return AM_OK;
}

static am_err insert_entry(am_store *s, const entry *e, uint64_t *dups, amap *rollups)
{
    /* in chunks, so the statements of a large entry need no allocation */
    enum { CHUNK = 256 };
    am_store_stmt st[CHUNK];
    bool changed[CHUNK];
    for (size_t k0 = 0; k0 < e->n;) {
        am_table_id tid = e->recs[k0].table;
        bool has_rows = s->ops->version >= 2 && s->ops->insert_rows;
        size_t n = 1;
        am_err rc;
        if (has_rows && !am_table_get(tid)->is_upsert) {
            /* a run of records of one table: as many rows per statement
               as the backend takes */
            while (n < CHUNK && k0 + n < e->n && e->recs[k0 + n].table == tid)
                n++;
            rc = s->ops->insert_rows(s->be, am_table_get(tid), s->n_cols[tid], e->recs + k0, n,
                                     changed);
        } else {
            /* one statement per record (upserts; or all, without
               insert_rows) */
            while (n < CHUNK && k0 + n < e->n &&
                   (!has_rows || am_table_get(e->recs[k0 + n].table)->is_upsert))
                n++;
            for (size_t k = 0; k < n; k++) {
                const am_record *r = &e->recs[k0 + k];
                st[k] = (am_store_stmt){.sql = s->insert_sql[r->table],
                                        .params = r->vals,
                                        .param_types = s->param_types[r->table],
                                        .n_params = s->n_cols[r->table],
                                        .is_cached = true};
            }
            rc = s->ops->run_many(s->be, st, n, changed);
        }
        if (!rc)
            rc = roll_up(s, e, k0, n, changed, dups, rollups);
        if (rc)
            return rc;
        k0 += n;
    }
    return AM_OK;
}

enum { BULK = 1000 };

/* n records of t through the backend's bulk insert (a state table's
   upserts one statement each), then into the rollups. */
static am_err insert_run(am_store *s, const am_table *tb, const am_record *run, size_t n,
                         uint64_t *dups, amap *rollups)
{
    bool changed[BULK];
    am_err rc = AM_OK;
    if (!tb->is_upsert)
        rc = s->ops->insert_rows(s->be, tb, s->n_cols[tb->id], run, n, changed);
    for (size_t i = 0; i < n && !rc && tb->is_upsert; i++) {
        am_store_stmt st = {.sql = s->insert_sql[tb->id],
                            .params = run[i].vals,
                            .param_types = s->param_types[tb->id],
                            .n_params = s->n_cols[tb->id],
                            .is_cached = true};
        rc = s->ops->run_many(s->be, &st, 1, &changed[i]);
    }
    for (size_t i = 0; i < n && !rc; i++) {
        if (!changed[i])
            ++*dups; /* stored before: already in the rollups */
        else if (!am__rollup_add(rollups, &run[i], s->version, 0))
            rc = am__err(AM_ENOMEM, "out of memory building rollups");
    }
    return rc;
}

/* The records of from and the entries after it, per table, in chunks of
   BULK rows across entries, each table's in the order they came. */
static am_err insert_bulk(am_store *s, const entry *from, uint64_t *dups, amap *rollups)
{
    am_record run[BULK]; /* copies: a table and its values' address */
    am_err rc = AM_OK;
    for (int t = 0; t < AM_T__N && !rc; t++) {
        const am_table *tb = am_table_get((am_table_id)t);
        size_t n = 0;
        for (const entry *e = from; e && !rc; e = e->next)
            for (size_t k = 0; k < e->n && !rc; k++) {
                if (e->recs[k].table != (am_table_id)t)
                    continue;
                run[n++] = e->recs[k];
                if (n == BULK) {
                    rc = insert_run(s, tb, run, n, dups, rollups);
                    n = 0;
                }
            }
        if (n && !rc)
            rc = insert_run(s, tb, run, n, dups, rollups);
    }
    return rc;
}

/* The watches of tickets <= upto leave the list (mutex held); the
   caller then runs them with call_watches(), the mutex released. */
static am_store_watch *take_watches(am_store *s, uint64_t upto)
{
    am_store_watch *head = s->watch, **end = &head;
    while (*end && (*end)->ticket <= upto)
        end = &(*end)->next;
    s->watch = *end;
    if (!s->watch)
        s->watch_tail = NULL;
    *end = NULL;
    return head;
}

/* The watch of ticket leaves the list (mutex held); NULL: none. */
static am_store_watch *take_watch(am_store *s, uint64_t ticket)
{
    am_store_watch *before = NULL;
    for (am_store_watch *w = s->watch; w; before = w, w = w->next) {
        if (w->ticket != ticket)
            continue;
        if (before)
            before->next = w->next;
        else
            s->watch = w->next;
        if (s->watch_tail == w)
            s->watch_tail = before;
        w->next = NULL;
        return w;
    }
    return NULL;
}

/* Tell each watch of list its ticket's outcome (no lock held: done may
   call the store). msg: why, when rc is not AM_OK. */
static void call_watches(am_store_watch *list, am_err rc, const char *msg)
{
    while (list) {
        am_store_watch *w = list;
        list = w->next; /* w is its owner's again once done runs */
        w->next = NULL;
        if (rc)
            am__err(rc, "%s", msg);
        w->done(w->ud, rc);
    }
}

static void free_entries(entry *e)
{
    while (e) {
        entry *next = e->next;
        am__free(e);
        e = next;
    }
}

/* Take queued entries (mutex held) while the batch has room. */
/* e leaves the queue: its records and bytes no longer count (mutex held). */
static void dequeued(am_store *s, const entry *e)
{
    s->n_queued -= e->n;
    s->queued_bytes -= e->bytes;
    if (e->is_samples) {
        s->n_queued_samples -= e->n;
        s->queued_bytes_samples -= e->bytes;
    }
}

static void take(am_store *s, entry **head, entry **tail, size_t *n)
{
    while (s->head && (*n == 0 || *n + s->head->n <= s->o.max_batch)) {
        entry *e = s->head;
        s->head = e->next;
        if (!s->head)
            s->tail = NULL;
        e->next = NULL;
        dequeued(s, e);
        if (*tail)
            (*tail)->next = e;
        else
            *head = e;
        *tail = e;
        *n += e->n;
    }
}

/* One batch, begun with what is queued (mutex held on entry and exit). */
static void write_batch(am_store *s)
{
    entry *head = NULL, *tail = NULL;
    size_t n = 0;
    uint64_t dups = 0;
    double opened = mono_now();
    take(s, &head, &tail, &n);
    pthread_mutex_unlock(&s->mu);
    pthread_mutex_lock(&s->conn_mu);

    amap rollups = {0};
    am_err rc;
    /* a database shared by several writers (PostgreSQL) takes the batch's
       rows in chunks across entries: each insert_rows there costs round
       trips, and fewer, larger statements hold locks a shorter time */
    bool is_bulk = s->ops->version >= 2 && s->ops->insert_rows && s->ops->is_maintainer;
    /* a batch the database aborted for another writer's sake (a deadlock
       on a shared PostgreSQL) runs again, with the entries it had */
    for (int attempt = 0;; attempt++) {
        dups = 0;
        rc = s->ops->exec(s->be, "BEGIN");
        entry *e = head;
        for (;;) {
            if (!rc && is_bulk)
                rc = insert_bulk(s, e, &dups, &rollups);
            for (; !rc && e && !is_bulk; e = e->next)
                rc = insert_entry(s, e, &dups, &rollups);
            if (rc || attempt || n >= s->o.max_batch || mono_now() - opened >= s->o.batch_window_s)
                break;
            /* the batch is still open: take what arrived while it was
               written. When nothing did, commit now rather than linger: the
               submitters are waiting for this very batch (lingering
               measured 2x slower) */
            pthread_mutex_lock(&s->mu);
            entry *before = tail;
            take(s, &head, &tail, &n);
            pthread_mutex_unlock(&s->mu);
            if (tail == before)
                break;
            e = before ? before->next : head;
        }
        /* the rollups of the batch's rows commit with them */
        if (!rc)
            rc = am__rollup_flush(s, &rollups);
        am__amap_free(&rollups);
        if (!rc)
            rc = s->ops->exec(s->be, "COMMIT");
        if (rc != AM_STORE_RETRY || attempt == 2)
            break;
        am__amap_free(&s->rcache); /* it counted what was rolled back */
        s->ops->exec(s->be, "ROLLBACK");
    }
    char msg[256] = "";
    if (rc) {
        am__amap_free(&s->rcache); /* it counted what was rolled back */
        snprintf(msg, sizeof msg, "writing a batch failed: %s", am_errmsg());
        s->ops->exec(s->be, "ROLLBACK");
    }
    pthread_mutex_unlock(&s->conn_mu);

    pthread_mutex_lock(&s->mu);
    if (rc) {
        fail_tickets(s, head->ticket, tail->ticket, msg);
        s->st.failed += n;
        s->is_broken = true;
        snprintf(s->broken_msg, sizeof s->broken_msg, "%s", msg);
        if (!s->is_failing) {
            /* once per outage: the writer retries every second */
            s->is_failing = true;
            if (s->o.logger)
                AM_LOG_ERROR(s->o.logger, "agentmon-store",
                             "the store cannot write: ingest answers 503 until it can",
                             AM_F_STR("error", msg), AM_F_INT("records", (int64_t)n));
        }
    } else {
        s->st.committed += n;
        s->st.duplicates += dups;
        s->st.batches++;
        if (s->is_failing) {
            s->is_failing = false;
            if (s->o.logger)
                AM_LOG_INFO(s->o.logger, "agentmon-store", "the store writes again");
        }
    }
    s->done = tail->ticket;
    am_store_watch *watches = take_watches(s, s->done);
    pthread_mutex_unlock(&s->mu);
    pthread_cond_broadcast(&s->done_cv); /* after the unlock: see DESIGN */
    call_watches(watches, rc ? AM_EIO : AM_OK, msg);
    free_entries(head);
    pthread_mutex_lock(&s->mu);
}

/* One retention DELETE; returns true when the table has no more to delete. */
static bool retention_step(am_store *s, am_table_id t, double cutoff)
{
    const am_table *tb = am_table_get(t);
    if (!s->n_cols[t] || tb->is_kept)
        return true; /* not in a database of this version, or state to keep */
    am_value p[2] = {{.v.d = cutoff}, {.v.i = (int64_t)s->o.retention_batch}};
    am_col_type pt[2] = {AM_COL_REAL, AM_COL_INT};
    am_store_stmt st = {
        .sql = s->delete_sql[t], .params = p, .param_types = pt, .n_params = 2, .is_cached = true};
    int64_t changes = 0;
    pthread_mutex_lock(&s->conn_mu);
    am_err rc = s->ops->run(s->be, true, &st, &changes);
    if (!rc && changes < (int64_t)s->o.retention_batch && am__store_has_rollups(s, tb)) {
        /* the table's old rows are gone: so go its buckets that ended
           before the cutoff (a few rows per minute: no batching needed) */
        for (int li = 0; li < 2 && !rc; li++)
            for (int dim = 0; dim < (int)tb->n_cols && !rc; dim = dim ? dim + 1 : 2) {
                if (dim && !am__store_is_dim(tb, dim, s->version))
                    continue;
                am_value rp[3] = {
                    {.v.i = (int64_t)LEVELS[li]}, {.v.i = dim}, {.v.d = cutoff - LEVELS[li]}};
                am_col_type rt[3] = {AM_COL_INT, AM_COL_INT, AM_COL_REAL};
                am_store_stmt rs = {.sql = s->rollup_delete_sql[t],
                                    .params = rp,
                                    .param_types = rt,
                                    .n_params = 3,
                                    .is_cached = true};
                int64_t gone = 0;
                rc = s->ops->run(s->be, true, &rs, &gone);
                if (gone)
                    am__amap_free(&s->rcache); /* it may hold deleted buckets */
            }
    }
    pthread_mutex_unlock(&s->conn_mu);
    pthread_mutex_lock(&s->mu);
    if (!rc && changes > 0) {
        s->st.deleted += (uint64_t)changes;
        s->st.retention_runs++;
    }
    pthread_mutex_unlock(&s->mu);
    return rc || changes < (int64_t)s->o.retention_batch;
}

/* Whether this store runs retention now (one store of a shared database
   at a time: store_backend.h, is_maintainer); says so when that changes. */
static bool may_maintain(am_store *s)
{
    if (!s->ops->is_maintainer)
        return true;
    pthread_mutex_lock(&s->conn_mu);
    bool is_mine = s->ops->is_maintainer(s->be);
    pthread_mutex_unlock(&s->conn_mu);
    /* a lone collector says nothing; one of several says who runs it,
       and when it takes over */
    bool is_news = s->has_maint_state ? is_mine != s->is_maintainer : !is_mine;
    s->has_maint_state = true;
    if (is_news && s->o.logger) {
        if (is_mine)
            AM_LOG_INFO(s->o.logger, "agentmon-store",
                        "this collector runs retention on the shared database");
        else
            AM_LOG_INFO(s->o.logger, "agentmon-store",
                        "another collector runs retention on the shared database");
    }
    s->is_maintainer = is_mine;
    return is_mine;
}

static void *writer_main(void *arg)
{
    am_store *s = arg;
    double next_retention = mono_now();
    double next_ping = 0;
    int ret_table = -1; /* the table a retention pass is at; -1 between passes */
    double cutoff = 0;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        if (!s->is_broken && !s->is_paused && s->head)
            write_batch(s);
        if (s->is_stopping && (!s->head || s->is_broken))
            break;
        double now = mono_now();
        if (s->is_broken) {
            if (now >= next_ping) {
                next_ping = now + PING_EVERY_S;
                pthread_mutex_unlock(&s->mu);
                pthread_mutex_lock(&s->conn_mu);
                am_err rc = s->ops->ping(s->be);
                pthread_mutex_unlock(&s->conn_mu);
                pthread_mutex_lock(&s->mu);
                if (!rc)
                    s->is_broken = false;
                continue;
            }
        } else {
            if (ret_table < 0 && s->o.retention_s > 0 && now >= next_retention) {
                next_retention = now + RETENTION_EVERY_S;
                pthread_mutex_unlock(&s->mu);
                bool is_mine = may_maintain(s);
                pthread_mutex_lock(&s->mu);
                if (is_mine) {
                    ret_table = 0;
                    cutoff = am_unix_time() - s->o.retention_s;
                }
            }
            if (ret_table >= 0) {
                /* one small delete between batches, never a long transaction */
                pthread_mutex_unlock(&s->mu);
                if (retention_step(s, (am_table_id)ret_table, cutoff))
                    ret_table = ret_table + 1 < AM_T__N ? ret_table + 1 : -1;
                pthread_mutex_lock(&s->mu);
                continue;
            }
            if (s->head && !s->is_paused)
                continue;
        }
        double until = s->is_broken ? next_ping : s->o.retention_s > 0 ? next_retention : now + 1;
        double wait_s = until - now;
        struct timespec ts;
        abs_deadline(&ts, wait_s > 1 ? 1 : wait_s > 0.001 ? wait_s : 0.001);
        pthread_cond_timedwait(&s->queued_cv, &s->mu, &ts);
    }
    /* what could not be written fails now rather than waiting forever */
    char msg[sizeof s->broken_msg];
    snprintf(msg, sizeof msg, "%s", s->broken_msg[0] ? s->broken_msg : "the store was closed");
    if (s->head) {
        fail_tickets(s, s->head->ticket, s->tail->ticket, msg);
        s->st.failed += s->n_queued;
        s->done = s->tail->ticket;
        free_entries(s->head);
        s->head = s->tail = NULL;
        s->n_queued = s->queued_bytes = 0;
        s->n_queued_samples = s->queued_bytes_samples = 0;
    }
    am_store_watch *watches = take_watches(s, UINT64_MAX);
    pthread_cond_broadcast(&s->done_cv);
    pthread_mutex_unlock(&s->mu);
    call_watches(watches, AM_EIO, msg);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Open and close                                                      */
/* ------------------------------------------------------------------ */

static am_err resolve(const am_store_opts *in, am_store_opts *o)
{
    am_store_opts d = AM_STORE_OPTS_INIT;
    if (in)
        d = *in;
    if (!d.max_queued)
        d.max_queued = 100000;
    if (d.batch_window_s == 0)
        d.batch_window_s = 0.05;
    if (!d.max_batch)
        d.max_batch = 5000;
    if (!d.retention_batch)
        d.retention_batch = 2000;
    if (!d.max_queued_bytes)
        d.max_queued_bytes = 256u << 20;
    if (d.samples_share == 0)
        d.samples_share = 0.5;
    if (!(d.samples_share > 0 && d.samples_share <= 1))
        return am__err(AM_EINVAL, "samples_share must be in (0, 1]");
    if (!(d.batch_window_s > 0) || !isfinite(d.batch_window_s) || d.batch_window_s > 10)
        return am__err(AM_EINVAL, "batch_window_s must be in (0, 10] seconds");
    if (!(d.retention_s >= 0) || !isfinite(d.retention_s))
        return am__err(AM_EINVAL, "retention_s must be >= 0 seconds (0 keeps everything)");
    *o = d;
    return AM_OK;
}

/* An index is made after its column, and changed or dropped after it is made. */
static bool index_follows(const am_column *c)
{
    if (c->indexed && c->indexed < c->since)
        return false;
    if (c->sparse_since && (!c->indexed || c->sparse_since <= c->indexed))
        return false;
    return !c->unindexed ||
           (c->indexed && c->unindexed > (c->sparse_since ? c->sparse_since : c->indexed));
}

/* What the rest of the store relies on in schema.c (schema.h, VERSIONS). */
static am_err check_schema(void)
{
    for (int t = 0; t < AM_T__N; t++) {
        const am_table *tb = am_table_get((am_table_id)t);
        if (tb->n_cols > AM_TABLE_MAX_COLS)
            return am__err(AM_EMISUSE, "table %s has more than %d columns", tb->sql_name,
                           AM_TABLE_MAX_COLS);
        for (size_t i = 0; i < tb->n_cols; i++)
            if (tb->cols[i].since < (i ? tb->cols[i - 1].since : tb->since) ||
                !index_follows(&tb->cols[i]))
                return am__err(AM_EMISUSE, "%s.%s: columns must follow their versions",
                               tb->sql_name, tb->cols[i].name);
    }
    return AM_OK;
}

static bool is_pg_uri(const char *uri)
{
    return strncmp(uri, "postgres://", 11) == 0 || strncmp(uri, "postgresql://", 13) == 0;
}

static const am_store_ops *backend_of(const char *uri)
{
    if (strncmp(uri, "sqlite:", 7) == 0)
        return &am__store_sqlite_ops;
#if AM_HAVE_POSTGRES
    if (is_pg_uri(uri))
        return &am__store_pg_ops;
#endif
    return NULL;
}

am_err am__store_open_version(const char *uri, const am_store_opts *o, int max_version,
                              am_store **out)
{
    *out = NULL;
    if (!uri)
        uri = AM_STORE_DEFAULT_URI;
    const am_store_ops *ops = backend_of(uri);
    if (!ops && is_pg_uri(uri))
        return am__err(AM_EINVAL,
                       "store \"%.200s\": this agentmon was built without PostgreSQL "
                       "(AM_WITH_POSTGRES=OFF)",
                       uri);
    if (!ops)
        return am__err(AM_EINVAL,
                       "store \"%.200s\": expected sqlite:PATH or postgres://user@host:port/db",
                       uri);
    if (max_version < 1 || max_version > am__store_schema_version())
        return am__err(AM_EINVAL, "schema version %d: this agentmon knows 1..%d", max_version,
                       am__store_schema_version());
    am_err rc = check_schema();
    if (rc)
        return rc;
    am_store_opts ro;
    if ((rc = resolve(o, &ro)))
        return rc;
    am_store *s = am__calloc(1, sizeof *s);
    if (!s)
        return am__err(AM_ENOMEM, "out of memory opening the store");
    s->ops = ops;
    s->o = ro;
    if (ops->is_maintainer) { /* a shared database: rollup rows of its own */
        uint8_t id[8];
        am__random_bytes(id, sizeof id);
        for (size_t i = 0; i < sizeof id; i++)
            snprintf(s->writer_id + 2 * i, 3, "%02x", id[i]);
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->conn_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->queued_cv, &ca);
    pthread_cond_init(&s->done_cv, &ca);
    pthread_condattr_destroy(&ca);
    /* the statements migrations use, then the connection and the
       migrations, then the INSERTs of the version the database is at */
    for (int t = 0; t < AM_T__N && !rc; t++) {
        const am_table *tb = am_table_get((am_table_id)t);
        for (size_t i = 0; i < tb->n_cols; i++)
            s->param_types[t][i] = tb->cols[i].type == AM_COL_TIME ? AM_COL_REAL : tb->cols[i].type;
        am_buf b;
        am_buf_init(&b, 0);
        size_t np = 0;
        am_buf_printf(&b, "DELETE FROM %s WHERE seq IN (SELECT seq FROM %s WHERE timestamp < ",
                      tb->sql_name, tb->sql_name);
        am__sql_param(&b, ops->dialect, &np);
        am_buf_puts(&b, " ORDER BY timestamp LIMIT ");
        am__sql_param(&b, ops->dialect, &np);
        am_buf_putc(&b, ')');
        s->delete_sql[t] = am_buf_take(&b, NULL);
        for (int w = 0; w < 2; w++) {
            am__sql_rollup_get(&b, ops->dialect, tb, w);
            s->rollup_get_sql[t][w] = am_buf_take(&b, NULL);
            am__sql_rollup_put(&b, ops->dialect, tb, w);
            s->rollup_put_sql[t][w] = am_buf_take(&b, NULL);
            if (!s->rollup_get_sql[t][w] || !s->rollup_put_sql[t][w])
                rc = am__err(AM_ENOMEM, "out of memory opening the store");
        }
        am__sql_rollup_delete(&b, ops->dialect, tb);
        s->rollup_delete_sql[t] = am_buf_take(&b, NULL);
        if (!s->delete_sql[t] || !s->rollup_delete_sql[t])
            rc = am__err(AM_ENOMEM, "out of memory opening the store");
    }
    if (!rc)
        rc = ops->open(uri, &s->be);
    if (!rc)
        rc = am__store_migrate(s, max_version);
    s->rollup_has_writer = s->version >= AM_ROLLUP_WRITER_SINCE;
    am__amap_free(&s->rcache); /* backfills' totals: writer '' since 5 */
    for (int t = 0; t < AM_T__N && !rc; t++) {
        const am_table *tb = am_table_get((am_table_id)t);
        s->n_cols[t] = am_table_cols_at(tb, s->version);
        am_buf b;
        am_buf_init(&b, 0);
        am__sql_insert(&b, ops->dialect, tb, s->n_cols[t]);
        if (!(s->insert_sql[t] = am_buf_take(&b, NULL)))
            rc = am__err(AM_ENOMEM, "out of memory opening the store");
    }
    if (!rc && pthread_create(&s->writer, NULL, writer_main, s) != 0)
        rc = am__err(AM_EIO, "cannot start the store's writer thread");
    if (rc) {
        am_store_close(s);
        return rc;
    }
    s->has_writer = true;
    s->has_writer_clock = pthread_getcpuclockid(s->writer, &s->writer_clock) == 0;
    *out = s;
    return AM_OK;
}

am_err am_store_open(const char *uri, const am_store_opts *o, am_store **out)
{
    return am__store_open_version(uri, o, am__store_schema_version(), out);
}

void am_store_release_waiters(am_store *s)
{
    pthread_mutex_lock(&s->mu);
    s->is_releasing = true;
    am_store_watch *watches = take_watches(s, UINT64_MAX);
    pthread_cond_broadcast(&s->done_cv);
    pthread_mutex_unlock(&s->mu);
    call_watches(watches, AM_EIO, "the collector is stopping: these records are not committed yet");
}

static void free_store(am_store *s);

bool am_store_close_within(am_store *s, double limit_s)
{
    if (!s)
        return true;
    if (s->has_writer) {
        pthread_mutex_lock(&s->mu);
        s->is_stopping = true;
        s->is_paused = false;
        pthread_cond_broadcast(&s->queued_cv);
        size_t queued = s->n_queued;
        pthread_mutex_unlock(&s->mu);
        if (limit_s > 0) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            double t = (double)ts.tv_sec + ts.tv_nsec / 1e9 + limit_s;
            ts.tv_sec = (time_t)t;
            ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
            if (pthread_timedjoin_np(s->writer, NULL, &ts) != 0) {
                /* the database does not answer: leave the writer to it (the
                   process is ending) and say what is lost */
                if (s->o.logger)
                    AM_LOG_ERROR(s->o.logger, "agentmon-store",
                                 "the store did not finish in time: records not committed",
                                 AM_F_INT("records", (int64_t)queued),
                                 AM_F_DOUBLE("waited_s", limit_s));
                return false;
            }
        } else {
            pthread_join(s->writer, NULL);
        }
    }
    free_store(s);
    return true;
}

void am_store_close(am_store *s)
{
    am_store_close_within(s, 0);
}

static void free_store(am_store *s)
{
    if (s->be)
        s->ops->close(s->be);
    free_entries(s->head);
    for (int t = 0; t < AM_T__N; t++) {
        am__free(s->insert_sql[t]);
        am__free(s->delete_sql[t]);
        for (int w = 0; w < 2; w++) {
            am__free(s->rollup_get_sql[t][w]);
            am__free(s->rollup_put_sql[t][w]);
        }
        am__free(s->rollup_delete_sql[t]);
    }
    am__free(s->failed);
    am__amap_free(&s->rcache);
    pthread_cond_destroy(&s->queued_cv);
    pthread_cond_destroy(&s->done_cv);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->conn_mu);
    am__free(s);
}

const char *am_store_backend(const am_store *s)
{
    return s->ops->name;
}

void am__store_read_rollups(am_store *s, bool is_on)
{
    s->is_rollup_read_off = !is_on;
}

void am__store_pause(am_store *s, bool is_paused)
{
    pthread_mutex_lock(&s->mu);
    s->is_paused = is_paused;
    pthread_cond_signal(&s->queued_cv);
    pthread_mutex_unlock(&s->mu);
}

am_err am__store_exec(am_store *s, const char *sql)
{
    /* the writer thread is the only other user of the connection */
    pthread_mutex_lock(&s->conn_mu);
    am_err rc = s->ops->exec(s->be, sql);
    pthread_mutex_unlock(&s->conn_mu);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Submit and wait                                                     */
/* ------------------------------------------------------------------ */

/* Whether n more records of bytes fit now (mutex held): all of the queue
   for acknowledged ingest, samples_share of it for samples. */
static bool fits(const am_store *s, size_t n, size_t bytes, bool is_samples)
{
    if (s->n_queued + n > s->o.max_queued || s->queued_bytes + bytes > s->o.max_queued_bytes)
        return false;
    if (!is_samples)
        return true;
    return (double)(s->n_queued_samples + n) <= s->o.samples_share * (double)s->o.max_queued &&
           (double)(s->queued_bytes_samples + bytes) <=
               s->o.samples_share * (double)s->o.max_queued_bytes;
}

static am_err full(am_store *s, size_t n, bool is_samples)
{
    s->st.rejected_full += n;
    if (is_samples)
        return am__err(AM_EFULL,
                       "the store's queue holds all the samples it may (%zu of %zu records)",
                       s->n_queued_samples, s->n_queued);
    return am__err(AM_EFULL, "the store's queue is full (%zu records waiting)", s->n_queued);
}

static am_err submit(am_store *s, const am_record *recs, size_t n, bool is_samples,
                     uint64_t *ticket, am_store_watch *w)
{
    if (!n || !recs)
        return am__err(AM_EINVAL, "no records to submit");
    if (n > s->o.max_queued)
        return am__err(AM_ELIMIT, "%zu records are more than the queue holds (%zu)", n,
                       s->o.max_queued);
    /* a full queue is refused before the records are read: back-pressure
       costs the caller nothing */
    pthread_mutex_lock(&s->mu);
    am_err rc = fits(s, n, n * sizeof(am_record), is_samples) ? AM_OK : full(s, n, is_samples);
    pthread_mutex_unlock(&s->mu);
    if (rc)
        return rc;
    size_t bytes = n * sizeof(am_record);
    for (size_t k = 0; k < n; k++)
        if ((rc = check_record(s, &recs[k], k, &bytes)))
            return rc;
    if (bytes > s->o.max_queued_bytes)
        return am__err(AM_ELIMIT, "%zu bytes of records are more than the queue holds (%zu)", bytes,
                       s->o.max_queued_bytes);
    /* copy outside the lock; the queue may fill meanwhile, so check again */
    entry *e = copy_entry(recs, n, bytes);
    if (!e)
        return am__err(AM_ENOMEM, "out of memory queueing %zu records", n);
    e->is_samples = is_samples;
    pthread_mutex_lock(&s->mu);
    if (s->is_stopping) {
        rc = am__err(AM_EIO, "the store is closing");
    } else if (w && s->is_releasing) {
        rc = am__err(AM_EIO, "the collector is stopping");
    } else if (s->is_broken) {
        rc = am__err(AM_EIO, "the store cannot write: %s", s->broken_msg);
    } else if (!fits(s, n, bytes, is_samples)) {
        rc = full(s, n, is_samples);
    } else {
        e->ticket = ++s->last_ticket;
        if (ticket)
            *ticket = e->ticket;
        if (w) { /* tickets grow under the mutex: the list stays in order */
            w->ticket = e->ticket;
            w->next = NULL;
            if (s->watch_tail)
                s->watch_tail->next = w;
            else
                s->watch = w;
            s->watch_tail = w;
        }
        if (s->tail)
            s->tail->next = e;
        else
            s->head = e;
        s->tail = e;
        s->n_queued += n;
        s->queued_bytes += bytes;
        if (is_samples) {
            s->n_queued_samples += n;
            s->queued_bytes_samples += bytes;
        }
        e = NULL;
    }
    pthread_mutex_unlock(&s->mu);
    if (!rc) /* after the unlock: the writer wakes to a free mutex */
        pthread_cond_signal(&s->queued_cv);
    am__free(e);
    return rc;
}

am_err am_store_submit(am_store *s, const am_record *recs, size_t n, uint64_t *ticket)
{
    return submit(s, recs, n, false, ticket, NULL);
}

am_err am_store_submit_then(am_store *s, const am_record *recs, size_t n, am_store_watch *w,
                            am_store_done_fn done, void *ud)
{
    if (!w || !done)
        return am__err(AM_EINVAL, "no watch or done callback");
    w->done = done;
    w->ud = ud;
    return submit(s, recs, n, false, NULL, w);
}

am_err am_store_submit_samples(am_store *s, const am_record *recs, size_t n)
{
    return submit(s, recs, n, true, NULL, NULL);
}

am_err am_store_check(am_store *s, const am_record *r)
{
    size_t bytes = 0;
    return check_record(s, r, 0, &bytes);
}

am_err am_store_cancel(am_store *s, uint64_t ticket)
{
    pthread_mutex_lock(&s->mu);
    am_store_watch *gone = NULL;
    am_err rc;
    if (ticket == 0 || ticket > s->last_ticket) {
        rc = am__err(AM_EINVAL, "ticket %llu was not given by am_store_submit",
                     (unsigned long long)ticket);
    } else if (ticket <= s->done) {
        rc = am__err(AM_EEXIST, "ticket %llu is finished already", (unsigned long long)ticket);
    } else {
        entry *prev = NULL, *e = s->head;
        while (e && e->ticket != ticket) {
            prev = e;
            e = e->next;
        }
        if (!e) {
            rc = am__err(AM_EBUSY, "ticket %llu is being written", (unsigned long long)ticket);
        } else {
            if (prev)
                prev->next = e->next;
            else
                s->head = e->next;
            if (s->tail == e)
                s->tail = prev;
            dequeued(s, e);
            s->st.cancelled += e->n;
            fail_tickets(s, ticket, ticket, "cancelled: its waiter gave up before the commit");
            am__free(e);
            gone = take_watch(s, ticket); /* told now: its batch never comes */
            rc = AM_OK;
        }
    }
    pthread_mutex_unlock(&s->mu);
    call_watches(gone, AM_EIO, "cancelled before the store began writing it");
    return rc;
}

am_err am_store_wait(am_store *s, uint64_t ticket, double timeout_s)
{
    pthread_mutex_lock(&s->mu);
    if (ticket == 0 || ticket > s->last_ticket) {
        pthread_mutex_unlock(&s->mu);
        return am__err(AM_EINVAL, "ticket %llu was not given by am_store_submit",
                       (unsigned long long)ticket);
    }
    struct timespec ts;
    abs_deadline(&ts, timeout_s > 0 ? timeout_s : 0);
    while (s->done < ticket && timeout_s > 0 && !s->is_releasing) {
        if (pthread_cond_timedwait(&s->done_cv, &s->mu, &ts) == ETIMEDOUT)
            break;
    }
    am_err rc = AM_OK;
    if (s->done < ticket && s->is_releasing) {
        rc = am__err(AM_EIO, "the collector is stopping: ticket %llu is not committed yet",
                     (unsigned long long)ticket);
    } else if (s->done < ticket) {
        rc = am__err(AM_ETIMEDOUT, "ticket %llu is not committed yet", (unsigned long long)ticket);
    } else {
        for (size_t i = s->n_failed; i-- > 0;)
            if (ticket >= s->failed[i].lo && ticket <= s->failed[i].hi) {
                rc = am__err(AM_EIO, "%s", s->failed[i].msg);
                break;
            }
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void am_store_get_stats(am_store *s, am_store_stats *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->st;
    out->queued = s->n_queued;
    pthread_mutex_unlock(&s->mu);
    struct timespec ts;
    out->writer_cpu_s = s->has_writer_clock && clock_gettime(s->writer_clock, &ts) == 0
                            ? (double)ts.tv_sec + (double)ts.tv_nsec / 1e9
                            : 0;
}

void am__store_count_read(am_store *s, uint64_t raw, uint64_t rollup)
{
    pthread_mutex_lock(&s->mu);
    s->st.raw_rows_read += raw;
    s->st.rollup_rows_read += rollup;
    pthread_mutex_unlock(&s->mu);
}