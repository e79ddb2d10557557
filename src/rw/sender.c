/*
** sender.c: a remote_write sender -- the log, the dispatcher, the shards,
** resharding and the sampler (remote_write.h is the contract; rw.h the
** record layout).
**
** DESIGN
** THE LOG. Appends go into the open segment (an am_buf of records). A
** segment that reaches seg_max is sealed: with a wal_dir its bytes are
** written to wal_dir/seg-<id> and freed from memory, so a receiver that
** is down costs disk, not memory. The log's bytes (every segment not yet
** fully sent) are bounded by wal_max_bytes: past it the oldest sealed
** segment nobody has taken is dropped whole, its samples counted
** result="dropped". Segments found in wal_dir at start come first.
**
** THE DISPATCHER (one thread) takes the oldest segment (cutting the open
** one when it is the only one with records, so a quiet sender does not
** wait for a segment to fill), reads it back from disk if it was written
** there, and hands each record to shard hash(labels) % n_shards, waiting
** while that shard's queue holds `capacity` samples. A series therefore
** always goes through one shard and arrives in order (Prometheus refuses
** out-of-order samples with a 400). A taken segment stays in memory until
** its last record is done -- sent, or dropped by a 4xx -- and is then
** freed and its file unlinked.
**
** THE SHARDS (n threads, each with its own queue and connection) send a
** batch when they hold max_samples_per_send or the oldest has waited
** batch_send_deadline. Recoverable failures (5xx, 429 unless turned off,
** transport errors) are retried forever with backoff from min_backoff
** doubling to max_backoff (Retry-After as a lower bound); the batch's
** samples count result="retried" per attempt. Other statuses drop the
** batch: result="failed", and a log line (at most one a second).
**
** RESHARDING, every shard_update_s, as Prometheus' calculateDesiredShards:
** time per sample (seconds spent sending / samples sent) times (the rate
** samples arrive + the backlog to work off within 2 periods), rounded
** up, clamped to [min_shards, max_shards], ignored within 30% of the
** current count, and not while sends fail (more shards do not help a
** receiver that is down). A change stops dispatching, lets the queues
** drain, joins the shards and starts the new number.
**
** THREADING: one mutex (mu) guards the log, the queues and the counters;
** no I/O to the network happens under it (the disk writes of sealing do,
** bounded by seg_max). The public calls are thread-safe but _free.
*/
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agentmon/timer.h"
#include "../util/alloc.h"
#include "../util/error.h"
#include "../util/hash.h"
#include "../packs/pack.h"
#include "rw.h"
#include "rw_send.h"

enum {
    M_SAMPLES,
    M_PENDING,
    M_SHARDS,
    M_SHARDS_DESIRED,
    M_HIGHEST_SENT,
    M_HIGHEST_IN,
    M_BYTES,
    M_REQUESTS,
    M_LOG_BYTES,
    N_M
};

#define RW_LABELS AM_DEF_LABELS("remote_name", "url")
static const am_metric_def DEFS[] = {
    [M_SAMPLES] = {"remote_write", AM_TYPE_COUNTER, "agentmon_remote_write_samples_total", NULL,
                   "Samples by what became of them: success (the receiver took them), retried "
                   "(sent again after a 5xx, a 429 or no answer; once per attempt), failed (a 4xx "
                   "refused them: dropped), dropped (the log outgrew its limit, or "
                   "write_relabel_configs dropped them: reason in the log), invalid (refused "
                   "before queueing).",
                   NULL, AM_DEF_LABELS("remote_name", "url", "result"), NULL, 0, NULL,
                   "prometheus"},
    [M_PENDING] = {"remote_write", AM_TYPE_GAUGE, "agentmon_remote_write_samples_pending", NULL,
                   "Samples appended and not yet sent or dropped (in memory or on disk).", NULL,
                   RW_LABELS, NULL, 0, NULL, "prometheus"},
    [M_SHARDS] = {"remote_write", AM_TYPE_GAUGE, "agentmon_remote_write_shards", NULL,
                  "Shards sending in parallel.", NULL, RW_LABELS, NULL, 0, NULL, "prometheus"},
    [M_SHARDS_DESIRED] = {"remote_write", AM_TYPE_GAUGE, "agentmon_remote_write_shards_desired",
                          NULL, "The shard count the backlog and send times call for.", NULL,
                          RW_LABELS, NULL, 0, NULL, "prometheus"},
    [M_HIGHEST_SENT] = {"remote_write", AM_TYPE_GAUGE,
                        "agentmon_remote_write_highest_sent_timestamp_seconds", NULL,
                        "Timestamp of the newest sample the receiver took.", "seconds", RW_LABELS,
                        NULL, 0, NULL, "prometheus"},
    [M_HIGHEST_IN] = {"remote_write", AM_TYPE_GAUGE,
                      "agentmon_remote_write_highest_timestamp_in_seconds", NULL,
                      "Timestamp of the newest sample appended (minus the one above: the lag).",
                      "seconds", RW_LABELS, NULL, 0, NULL, "prometheus"},
    [M_BYTES] = {"remote_write", AM_TYPE_COUNTER, "agentmon_remote_write_bytes_total", NULL,
                 "Request bytes (compressed) the receiver took.", "bytes", RW_LABELS, NULL, 0, NULL,
                 "prometheus"},
    [M_REQUESTS] = {"remote_write", AM_TYPE_COUNTER, "agentmon_remote_write_requests_total", NULL,
                    "Requests by HTTP status (0: no answer).", NULL,
                    AM_DEF_LABELS("remote_name", "url", "code"), NULL, 0, NULL, "agentmon"},
    [M_LOG_BYTES] = {"remote_write", AM_TYPE_GAUGE, "agentmon_remote_write_wal_bytes", NULL,
                     "Bytes of the log (memory and wal_dir) not yet sent; bounded by "
                     "wal_max_bytes.",
                     "bytes", RW_LABELS, NULL, 0, NULL, "agentmon"},
};
const am_def_table am__table_remote_write = {DEFS, N_M};

#define RW_CODES 16 /* distinct HTTP statuses counted */

typedef struct seg {
    struct seg *next;
    uint64_t id;
    am_buf data;  /* the records, while in memory */
    bool on_disk; /* wal_dir holds it; data freed until taken */
    size_t bytes;
    uint64_t n_recs;
    uint64_t outstanding; /* records handed to shards and not done */
    bool read_done;       /* every record handed out */
} seg;

typedef struct qitem {
    const char *rec;
    seg *s;
} qitem;

typedef struct shard {
    struct am_remote_write *rw;
    pthread_t th;
    pthread_cond_t cv;
    qitem *q; /* ring of capacity */
    size_t head, count;
    double first_at; /* when the oldest queued item came */
    bool stop, busy;
    void *handle;
} shard;

struct am_remote_write {
    am_remote_write_opts o; /* strings point into strs */
    char *strs[12];
    am__rw_target target;
    char name[128];
    am__rw_relabel_fn relabel;
    void *relabel_ud;
    am_logger *log;
    size_t seg_max;

    pthread_mutex_t mu;
    pthread_cond_t cv_disp; /* dispatcher: work, space, stop */
    pthread_cond_t cv_done; /* flushers, resharding */
    seg *head, *tail;       /* not taken, oldest first; tail may be open */
    bool tail_open;
    seg *taken; /* taken segments not done */
    uint64_t next_id;
    uint64_t log_bytes;
    shard *shards;
    unsigned n_shards, desired;
    bool stopping;
    /* counters */
    uint64_t appended, done, sent, failed, retried, dropped, invalid, bytes, requests, on_disk;
    uint64_t spilled; /* segments written to wal_dir, ever */
    uint64_t period_in, period_out;
    double period_send_s;
    bool period_failed;
    double highest_sent, highest_in;
    double next_drop_log;

    pthread_t disp, sampler;
    bool disp_started, sampler_started;
    pthread_mutex_t sample_mu;
    pthread_cond_t sample_cv;
    bool sample_stop;
    int64_t sample_t; /* the time of the walk under way */
    am__pack *m;
    struct code {
        int code;
        uint64_t n;
    } codes[RW_CODES];
    uint64_t pub[6], pub_codes[RW_CODES]; /* published so far (the dispatcher's) */
};

/* ---- metrics -------------------------------------------------------- */

/*
** The metrics are counted in the sender's own fields, under mu, and
** published into self_registry by the dispatcher, every second and
** without mu: the sampler appends while it walks that registry (holding
** its locks), so touching the registry with mu held could deadlock.
*/
static void count_code(am_remote_write *rw, int status)
{
    for (size_t i = 0; i < RW_CODES; i++) {
        if (rw->codes[i].n && rw->codes[i].code != status)
            continue;
        rw->codes[i].code = status;
        rw->codes[i].n++;
        return;
    }
}

static void publish(am_remote_write *rw)
{
    if (!rw->m)
        return;
    pthread_mutex_lock(&rw->mu);
    uint64_t now[] = {rw->sent, rw->retried, rw->failed, rw->dropped, rw->invalid, rw->bytes};
    double g[] = {(double)(rw->appended - rw->done),
                  rw->n_shards,
                  rw->desired,
                  rw->highest_sent,
                  rw->highest_in,
                  (double)rw->log_bytes};
    struct code codes[RW_CODES];
    memcpy(codes, rw->codes, sizeof codes);
    pthread_mutex_unlock(&rw->mu);
    static const char *const RESULTS[] = {"success", "retried", "failed", "dropped", "invalid"};
    for (size_t i = 0; i < 6; i++) {
        if (now[i] == rw->pub[i])
            continue;
        if (i < 5)
            am__pack_count(rw->m, M_SAMPLES, AM_LABELS(rw->name, rw->o.url, RESULTS[i]),
                           (double)(now[i] - rw->pub[i]));
        else
            am__pack_count(rw->m, M_BYTES, AM_LABELS(rw->name, rw->o.url),
                           (double)(now[i] - rw->pub[i]));
        rw->pub[i] = now[i];
    }
    for (size_t i = 0; i < RW_CODES && codes[i].n; i++) {
        if (codes[i].n == rw->pub_codes[i])
            continue;
        char code[16];
        snprintf(code, sizeof code, "%d", codes[i].code);
        am__pack_count(rw->m, M_REQUESTS, AM_LABELS(rw->name, rw->o.url, code),
                       (double)(codes[i].n - rw->pub_codes[i]));
        rw->pub_codes[i] = codes[i].n;
    }
    static const int GAUGES[] = {M_PENDING,      M_SHARDS,     M_SHARDS_DESIRED,
                                 M_HIGHEST_SENT, M_HIGHEST_IN, M_LOG_BYTES};
    for (size_t i = 0; i < 6; i++)
        am__pack_set(rw->m, (size_t)GAUGES[i], AM_LABELS(rw->name, rw->o.url), g[i]);
}

/* ---- the log -------------------------------------------------------- */

static void seg_path(const am_remote_write *rw, uint64_t id, char *out, size_t cap)
{
    snprintf(out, cap, "%s/seg-%016llx", rw->o.wal_dir, (unsigned long long)id);
}

static void seg_free(am_remote_write *rw, seg *s)
{
    if (s->on_disk) {
        char p[4200];
        seg_path(rw, s->id, p, sizeof p);
        unlink(p);
        rw->on_disk--;
    }
    rw->log_bytes -= s->bytes;
    am_buf_free(&s->data);
    am__free(s);
}

/* Write a sealed segment to wal_dir and free its memory (best effort:
   when the disk refuses, it stays in memory). */
static void seg_spill(am_remote_write *rw, seg *s)
{
    if (!rw->o.wal_dir || s->on_disk)
        return;
    char p[4200];
    seg_path(rw, s->id, p, sizeof p);
    FILE *f = fopen(p, "wb");
    if (!f)
        return;
    bool ok = fwrite(AM_RW_MAGIC, 1, 8, f) == 8 && fwrite(s->data.p, 1, s->bytes, f) == s->bytes;
    ok = (fclose(f) == 0) && ok;
    if (!ok) {
        unlink(p);
        return;
    }
    s->on_disk = true;
    rw->on_disk++;
    rw->spilled++;
    am_buf_free(&s->data);
    am_buf_init(&s->data, 0);
}

/* Read a segment's bytes back; false when the file is gone or foreign. */
static bool seg_load(am_remote_write *rw, seg *s)
{
    if (!s->on_disk || s->data.p)
        return true;
    char p[4200];
    seg_path(rw, s->id, p, sizeof p);
    FILE *f = fopen(p, "rb");
    if (!f)
        return false;
    char magic[8];
    bool ok = fread(magic, 1, 8, f) == 8 && memcmp(magic, AM_RW_MAGIC, 8) == 0;
    char *w = ok ? am_buf_reserve(&s->data, s->bytes ? s->bytes : 1) : NULL;
    size_t got = w ? fread(w, 1, s->bytes, f) : 0;
    fclose(f);
    s->data.len = got;
    return ok && w;
}

/* Drop the oldest untaken sealed segments while the log is over its
   limit; with mu held. */
static void enforce_limit(am_remote_write *rw)
{
    while (rw->log_bytes > rw->o.wal_max_bytes && rw->head &&
           !(rw->head == rw->tail && rw->tail_open)) {
        seg *s = rw->head;
        rw->head = s->next;
        if (!rw->head)
            rw->tail = NULL;
        rw->dropped += s->n_recs;
        rw->done += s->n_recs;
        double now = am_unix_time();
        if (now >= rw->next_drop_log) {
            rw->next_drop_log = now + 1;
            AM_LOG_WARNING(rw->log, "remote_write", "the log is full: oldest samples dropped",
                           AM_F_STR("remote_name", rw->name), AM_F_INT("samples", s->n_recs),
                           AM_F_INT("wal_max_bytes", rw->o.wal_max_bytes));
        }
        seg_free(rw, s);
    }
}

/* Seal the open tail; with mu held. */
static void seal(am_remote_write *rw, bool spill)
{
    if (!rw->tail || !rw->tail_open)
        return;
    rw->tail_open = false;
    if (spill)
        seg_spill(rw, rw->tail);
    enforce_limit(rw);
}

static am_err log_append(am_remote_write *rw, am__pair *pairs, size_t n, int64_t t_ms, double v)
{
    if (!rw->tail || !rw->tail_open) {
        seg *s = am__calloc(1, sizeof *s);
        if (!s)
            return am__err(AM_ENOMEM, "remote_write: out of memory");
        am_buf_init(&s->data, 0);
        s->id = rw->next_id++;
        if (rw->tail)
            rw->tail->next = s;
        else
            rw->head = s;
        rw->tail = s;
        rw->tail_open = true;
    }
    seg *s = rw->tail;
    size_t before = s->data.len;
    am_err rc = am__rw_record_put(&s->data, pairs, n, t_ms, v);
    if (rc)
        return rc;
    s->bytes += s->data.len - before;
    rw->log_bytes += s->data.len - before;
    s->n_recs++;
    rw->appended++;
    rw->period_in++;
    if ((double)t_ms / 1000 > rw->highest_in)
        rw->highest_in = (double)t_ms / 1000;
    if (s->bytes >= rw->seg_max) {
        seal(rw, true);
        pthread_cond_signal(&rw->cv_disp);
    }
    return AM_OK;
}

/* Segments a previous run left in wal_dir, oldest first. */
static int by_id(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static am_err replay(am_remote_write *rw)
{
    if (mkdir(rw->o.wal_dir, 0755) != 0 && errno != EEXIST)
        return am__err(AM_EIO, "remote_write: cannot create %s: %s", rw->o.wal_dir,
                       strerror(errno));
    DIR *d = opendir(rw->o.wal_dir);
    if (!d)
        return am__err(AM_EIO, "remote_write: cannot read %s: %s", rw->o.wal_dir, strerror(errno));
    uint64_t ids[4096];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < sizeof ids / sizeof ids[0]) {
        if (strncmp(e->d_name, "seg-", 4) != 0 || strlen(e->d_name) != 20)
            continue;
        char *end;
        unsigned long long id = strtoull(e->d_name + 4, &end, 16);
        if (*end == '\0')
            ids[n++] = id;
    }
    closedir(d);
    qsort(ids, n, sizeof ids[0], by_id);
    for (size_t i = 0; i < n; i++) {
        seg *s = am__calloc(1, sizeof *s);
        if (!s)
            return am__err(AM_ENOMEM, "remote_write: out of memory");
        am_buf_init(&s->data, 0);
        s->id = ids[i];
        s->on_disk = true;
        struct stat st;
        char p[4200];
        seg_path(rw, s->id, p, sizeof p);
        s->bytes = stat(p, &st) == 0 && st.st_size > 8 ? (size_t)st.st_size - 8 : 0;
        rw->on_disk++;
        /* count its records (and find where it goes bad) */
        if (seg_load(rw, s)) {
            size_t off = 0;
            am__rw_rec r;
            while (am__rw_record_next(s->data.p, s->data.len, &off, &r) == 1)
                s->n_recs++;
        }
        am_buf_free(&s->data);
        am_buf_init(&s->data, 0);
        rw->log_bytes += s->bytes;
        rw->appended += s->n_recs;
        if (rw->tail)
            rw->tail->next = s;
        else
            rw->head = s;
        rw->tail = s;
        rw->next_id = s->id + 1;
    }
    return AM_OK;
}

/* ---- shards ---------------------------------------------------------- */

/* FNV-1a of its labels (past length, time and value): fixed by its
   definition, so a series keeps its shard across runs and replays. */
static uint64_t hash_rec(const char *rec, size_t len)
{
    return len > 20 ? am__fnv1a64(AM_FNV1A64_INIT, rec + 20, len - 20) : AM_FNV1A64_INIT;
}

/* A batch is done: count it and release its segments; with mu held. */
static void batch_done(am_remote_write *rw, qitem *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        seg *s = items[i].s;
        if (--s->outstanding == 0 && s->read_done) {
            seg **pp = &rw->taken;
            while (*pp && *pp != s)
                pp = &(*pp)->next;
            if (*pp)
                *pp = s->next;
            seg_free(rw, s);
        }
    }
    rw->done += n;
    pthread_cond_signal(&rw->cv_disp);
    pthread_cond_broadcast(&rw->cv_done);
}

static void *shard_main(void *arg)
{
    shard *sh = arg;
    am_remote_write *rw = sh->rw;
    size_t max = rw->o.max_samples_per_send;
    qitem *items = am__calloc(max, sizeof *items);
    am__rw_rec *recs = am__calloc(max, sizeof *recs);
    const am__rw_rec **rp = am__calloc(max, sizeof *rp);
    am_buf body;
    am_buf_init(&body, 0);
    pthread_mutex_lock(&rw->mu);
    for (;;) {
        double now = am_unix_time();
        bool due = sh->count >= max ||
                   (sh->count && now >= sh->first_at + rw->o.batch_send_deadline_s) ||
                   (sh->count && sh->stop);
        if (!due) {
            if (sh->stop)
                break;
            struct timespec until;
            double at = sh->count ? sh->first_at + rw->o.batch_send_deadline_s : now + 1;
            until.tv_sec = (time_t)at;
            until.tv_nsec = (long)((at - (double)until.tv_sec) * 1e9);
            pthread_cond_timedwait(&sh->cv, &rw->mu, &until);
            continue;
        }
        size_t n = sh->count < max ? sh->count : max;
        size_t cap = rw->o.capacity;
        for (size_t i = 0; i < n; i++)
            items[i] = sh->q[(sh->head + i) % cap];
        sh->head = (sh->head + n) % cap;
        sh->count -= n;
        sh->first_at = am_unix_time();
        sh->busy = true;
        pthread_cond_signal(&rw->cv_disp);
        pthread_mutex_unlock(&rw->mu);

        size_t k = 0;
        double newest = 0;
        for (size_t i = 0; i < n; i++) {
            size_t off = 0;
            uint32_t rl;
            memcpy(&rl, items[i].rec, 4);
            if (am__rw_record_next(items[i].rec, 4 + (size_t)rl, &off, &recs[k]) == 1) {
                rp[k] = &recs[k];
                if ((double)recs[k].t_ms / 1000 > newest)
                    newest = (double)recs[k].t_ms / 1000;
                k++;
            }
        }
        am__rw_outcome out = {0};
        out.kind = AM_RW_SENT;
        size_t raw = 0;
        bool encoded = am__rw_encode(rp, k, &body, &raw) == AM_OK;
        double backoff = rw->o.min_backoff_s;
        for (;;) {
            if (!encoded) {
                out.kind = AM_RW_DROP;
                snprintf(out.error, sizeof out.error, "out of memory encoding a batch");
                break;
            }
            double t0 = am_unix_time();
            am__rw_post(&sh->handle, &rw->target, body.p, body.len, &out);
            double took = am_unix_time() - t0;
            pthread_mutex_lock(&rw->mu);
            rw->requests++;
            count_code(rw, out.status);
            if (out.kind == AM_RW_SENT) {
                rw->period_out += k;
                rw->period_send_s += took;
            } else if (out.kind == AM_RW_RETRY) {
                rw->period_failed = true;
                rw->retried += k;
            }
            bool stopping = rw->stopping && sh->stop;
            pthread_mutex_unlock(&rw->mu);
            if (out.kind != AM_RW_RETRY)
                break;
            if (stopping) {
                out.kind = AM_RW_RETRY; /* left unsent: the stop's deadline */
                break;
            }
            double wait = backoff;
            if (out.retry_after_ms >= 0 && (double)out.retry_after_ms / 1000 > wait)
                wait = (double)out.retry_after_ms / 1000;
            if (wait > rw->o.max_backoff_s)
                wait = rw->o.max_backoff_s;
            /* sleep on the shard's condition so a stop is prompt */
            pthread_mutex_lock(&rw->mu);
            double at = am_unix_time() + wait;
            struct timespec until = {(time_t)at, (long)((at - (double)(time_t)at) * 1e9)};
            if (!(rw->stopping && sh->stop))
                pthread_cond_timedwait(&sh->cv, &rw->mu, &until);
            pthread_mutex_unlock(&rw->mu);
            backoff = backoff * 2 > rw->o.max_backoff_s ? rw->o.max_backoff_s : backoff * 2;
        }
        pthread_mutex_lock(&rw->mu);
        if (out.kind == AM_RW_SENT) {
            rw->sent += k;
            rw->bytes += body.len;
            if (newest > rw->highest_sent)
                rw->highest_sent = newest;
        } else if (out.kind == AM_RW_DROP) {
            rw->failed += k;
            double now2 = am_unix_time();
            if (now2 >= rw->next_drop_log) {
                rw->next_drop_log = now2 + 1;
                AM_LOG_WARNING(rw->log, "remote_write", "the receiver refused a batch: dropped",
                               AM_F_STR("remote_name", rw->name), AM_F_INT("status", out.status),
                               AM_F_INT("samples", k), AM_F_STR("reason", out.error));
            }
        }
        /* a batch left unsent at stop is not done: its segment stays */
        if (out.kind != AM_RW_RETRY)
            batch_done(rw, items, n);
        sh->busy = false;
    }
    pthread_mutex_unlock(&rw->mu);
    am_buf_free(&body);
    am__free(items);
    am__free(recs);
    am__free(rp);
    return NULL;
}

/* Start n shards; with mu held. */
static am_err shards_start(am_remote_write *rw, unsigned n)
{
    rw->shards = am__calloc(n, sizeof *rw->shards);
    if (!rw->shards)
        return am__err(AM_ENOMEM, "remote_write: out of memory");
    for (unsigned i = 0; i < n; i++) {
        shard *sh = &rw->shards[i];
        sh->rw = rw;
        pthread_cond_init(&sh->cv, NULL);
        sh->q = am__calloc(rw->o.capacity, sizeof *sh->q);
        if (!sh->q || pthread_create(&sh->th, NULL, shard_main, sh) != 0) {
            pthread_cond_destroy(&sh->cv);
            am__free(sh->q);
            sh->q = NULL;
            rw->n_shards = i;
            return am__err(AM_ENOMEM, "remote_write: cannot start a shard");
        }
    }
    rw->n_shards = n;
    return AM_OK;
}

/* Stop and join every shard (they send what they hold first); with mu
   held, released while joining. */
static void shards_stop(am_remote_write *rw)
{
    for (unsigned i = 0; i < rw->n_shards; i++) {
        rw->shards[i].stop = true;
        pthread_cond_signal(&rw->shards[i].cv);
    }
    unsigned n = rw->n_shards;
    shard *sh = rw->shards;
    pthread_mutex_unlock(&rw->mu);
    for (unsigned i = 0; i < n; i++)
        pthread_join(sh[i].th, NULL);
    pthread_mutex_lock(&rw->mu);
    for (unsigned i = 0; i < n; i++) {
        pthread_cond_destroy(&sh[i].cv);
        am__rw_handle_free(sh[i].handle);
        am__free(sh[i].q);
    }
    am__free(sh);
    rw->shards = NULL;
    rw->n_shards = 0;
}

/* ---- the dispatcher -------------------------------------------------- */

static bool queues_empty(const am_remote_write *rw)
{
    for (unsigned i = 0; i < rw->n_shards; i++)
        if (rw->shards[i].count || rw->shards[i].busy)
            return false;
    return true;
}

/* Prometheus' calculateDesiredShards, simplified; with mu held. */
static void revise_shards(am_remote_write *rw, double period_s)
{
    uint64_t in = rw->period_in, out = rw->period_out;
    double send_s = rw->period_send_s;
    bool failed = rw->period_failed;
    rw->period_in = rw->period_out = 0;
    rw->period_send_s = 0;
    rw->period_failed = false;
    if (failed || out == 0)
        return;
    double per_sample = send_s / (double)out;
    double backlog = (double)(rw->appended - rw->done);
    double want = per_sample * ((double)in / period_s + backlog / (2 * period_s));
    unsigned d = (unsigned)ceil(want);
    if (d < rw->o.min_shards)
        d = rw->o.min_shards;
    if (d > rw->o.max_shards)
        d = rw->o.max_shards;
    rw->desired = d;
    double cur = rw->n_shards;
    if (d == rw->n_shards || (d > cur * 0.7 && d < cur * 1.3))
        return;
    /* drain (sending now, not at the deadlines), then restart with d */
    while (!rw->stopping && !queues_empty(rw)) {
        for (unsigned i = 0; i < rw->n_shards; i++) {
            rw->shards[i].first_at = 0;
            pthread_cond_signal(&rw->shards[i].cv);
        }
        pthread_cond_wait(&rw->cv_done, &rw->mu);
    }
    if (rw->stopping)
        return;
    shards_stop(rw);
    if (shards_start(rw, d))
        shards_start(rw, rw->o.min_shards);
    AM_LOG_INFO(rw->log, "remote_write", "resharded", AM_F_STR("remote_name", rw->name),
                AM_F_INT("shards", rw->n_shards));
}

static void *dispatcher(void *arg)
{
    am_remote_write *rw = arg;
    seg *cur = NULL;
    size_t off = 0;
    double next_revise = am_unix_time() + rw->o.shard_update_s, last_revise = am_unix_time();
    double next_publish = 0;
    pthread_mutex_lock(&rw->mu);
    for (;;) {
        double now = am_unix_time();
        if (rw->stopping)
            break;
        if (now >= next_publish) {
            pthread_mutex_unlock(&rw->mu);
            publish(rw);
            pthread_mutex_lock(&rw->mu);
            next_publish = now + 1;
        }
        if (now >= next_revise) {
            revise_shards(rw, now - last_revise);
            last_revise = now;
            next_revise = now + rw->o.shard_update_s;
        }
        if (!cur && rw->head && !(rw->head == rw->tail && rw->tail_open && !rw->head->n_recs)) {
            /* out of the list first: the limit drops only untaken ones */
            cur = rw->head;
            rw->head = cur->next;
            if (cur == rw->tail) {
                rw->tail = NULL;
                rw->tail_open = false; /* cut: it goes straight to the shards */
            }
            cur->next = rw->taken;
            rw->taken = cur;
            off = 0;
            if (!seg_load(rw, cur))
                cur->data.len = 0;
        }
        if (!cur) {
            /* appends do not wake us (but for a sealed segment): the open
               one is cut every 50 ms, not per sample */
            double at = am_unix_time() + 0.05;
            struct timespec until = {(time_t)at, (long)((at - (double)(time_t)at) * 1e9)};
            pthread_cond_timedwait(&rw->cv_disp, &rw->mu, &until);
            continue;
        }
        /* hand out records until a queue is full; every 256 the lock is
           let go, so appenders never wait for a whole segment */
        bool blocked = false;
        am__rw_rec r;
        size_t at = off;
        for (unsigned handed_now = 0; !blocked; handed_now++) {
            if (handed_now && handed_now % 256 == 0) {
                pthread_mutex_unlock(&rw->mu);
                pthread_mutex_lock(&rw->mu);
                if (rw->stopping) {
                    blocked = true; /* not done: the top of the loop stops */
                    break;
                }
            }
            at = off;
            int k = am__rw_record_next(cur->data.p, cur->data.len, &off, &r);
            if (k != 1)
                break; /* the end, or a torn record (the rest counts as dropped) */
            shard *sh = &rw->shards[hash_rec(cur->data.p + at, r.size) % rw->n_shards];
            if (sh->count == rw->o.capacity) {
                off = at;
                blocked = true;
                break;
            }
            if (!sh->count)
                sh->first_at = am_unix_time();
            sh->q[(sh->head + sh->count) % rw->o.capacity] = (qitem){cur->data.p + at, cur};
            sh->count++;
            cur->outstanding++;
            if (sh->count >= rw->o.max_samples_per_send)
                pthread_cond_signal(&sh->cv);
        }
        if (blocked) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 1;
            if (!rw->stopping)
                pthread_cond_timedwait(&rw->cv_disp, &rw->mu, &until);
            continue;
        }
        /* the segment is handed out whole (or ends in a torn record,
           whose remainder counts as done) */
        uint64_t handed = 0;
        {
            size_t o2 = 0;
            am__rw_rec r2;
            while (am__rw_record_next(cur->data.p, off, &o2, &r2) == 1)
                handed++;
        }
        if (handed < cur->n_recs) {
            rw->done += cur->n_recs - handed;
            rw->dropped += cur->n_recs - handed;
        }
        cur->read_done = true;
        if (cur->outstanding == 0) {
            rw->taken = cur->next;
            seg_free(rw, cur);
        }
        cur = NULL;
        for (unsigned i = 0; i < rw->n_shards; i++)
            pthread_cond_signal(&rw->shards[i].cv);
    }
    pthread_mutex_unlock(&rw->mu);
    return NULL;
}

/* ---- the sampler ----------------------------------------------------- */

static int sample_one(void *ud, am__pair *pairs, size_t n, double v)
{
    am_remote_write *rw = ud;
    am_err rc = am__rw_append_pairs(rw, pairs, n, rw->sample_t, v);
    return rc == AM_ENOMEM;
}

static void sample_now(am_remote_write *rw)
{
    rw->sample_t = (int64_t)(am_unix_time() * 1000);
    am_encode_samples(rw->o.registries, rw->o.n_registries, sample_one, rw);
}

static void *sampler(void *arg)
{
    am_remote_write *rw = arg;
    pthread_mutex_lock(&rw->sample_mu);
    while (!rw->sample_stop) {
        double at = am_unix_time() + rw->o.interval_s;
        struct timespec until = {(time_t)at, (long)((at - (double)(time_t)at) * 1e9)};
        pthread_cond_timedwait(&rw->sample_cv, &rw->sample_mu, &until);
        if (rw->sample_stop)
            break;
        pthread_mutex_unlock(&rw->sample_mu);
        sample_now(rw);
        pthread_mutex_lock(&rw->sample_mu);
    }
    pthread_mutex_unlock(&rw->sample_mu);
    return NULL;
}

/* ---- the public calls ------------------------------------------------ */

static am_err copy_str(am_remote_write *rw, int i, const char **field)
{
    if (!*field)
        return AM_OK;
    rw->strs[i] = am__strdup(*field);
    if (!rw->strs[i])
        return am__err(AM_ENOMEM, "remote_write: out of memory");
    *field = rw->strs[i];
    return AM_OK;
}

static am_err check_opts(const am_remote_write_opts *o)
{
    if (!o || !o->url)
        return am__err(AM_EINVAL, "remote_write: no url");
    if (strncmp(o->url, "http://", 7) != 0 && strncmp(o->url, "https://", 8) != 0)
        return am__err(AM_EINVAL, "remote_write: url must be http:// or https://");
    if (strlen(o->url) > 4000)
        return am__err(AM_EINVAL, "remote_write: url is over 4000 bytes");
    if (o->basic_user && o->auth_credentials)
        return am__err(AM_EINVAL,
                       "remote_write: at most one of basic_auth and authorization may be set");
    if (o->min_shards && o->max_shards && o->min_shards > o->max_shards)
        return am__err(AM_EINVAL, "remote_write: min_shards is over max_shards");
    if (o->max_shards > 10000 || o->capacity > 10000000 || o->max_samples_per_send > 1000000)
        return am__err(AM_EINVAL, "remote_write: queue_config is beyond its limits");
    double d[] = {o->remote_timeout_s, o->batch_send_deadline_s, o->min_backoff_s, o->max_backoff_s,
                  o->interval_s,       o->shard_update_s};
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++)
        if (!(d[i] >= 0 && d[i] < 1e7))
            return am__err(AM_EINVAL, "remote_write: a duration is negative or not a number");
    return AM_OK;
}

am_err am__rw_new(const am_remote_write_opts *o, am__rw_relabel_fn fn, void *ud,
                  am_remote_write **out)
{
    am_err rc = check_opts(o);
    if (rc)
        return rc;
    am_remote_write *rw = am__calloc(1, sizeof *rw);
    if (!rw)
        return am__err(AM_ENOMEM, "remote_write: out of memory");
    rw->o = *o;
    am_remote_write_opts *p = &rw->o;
    const char **fields[] = {&p->url,        &p->name,
                             &p->basic_user, &p->basic_password,
                             &p->auth_type,  &p->auth_credentials,
                             &p->ca_file,    &p->cert_file,
                             &p->key_file,   &p->server_name,
                             &p->wal_dir};
    for (int i = 0; !rc && i < (int)(sizeof fields / sizeof fields[0]); i++)
        rc = copy_str(rw, i, fields[i]);
    if (!p->capacity)
        p->capacity = 2500;
    if (!p->max_shards)
        p->max_shards = 200;
    if (!p->min_shards)
        p->min_shards = 1;
    if (p->min_shards > p->max_shards)
        p->min_shards = p->max_shards;
    if (!p->max_samples_per_send)
        p->max_samples_per_send = 500;
    if (p->max_samples_per_send > p->capacity)
        p->max_samples_per_send = p->capacity;
    if (p->batch_send_deadline_s <= 0)
        p->batch_send_deadline_s = 5;
    if (p->min_backoff_s <= 0)
        p->min_backoff_s = 0.03;
    if (p->max_backoff_s <= 0)
        p->max_backoff_s = 5;
    if (p->max_backoff_s < p->min_backoff_s)
        p->max_backoff_s = p->min_backoff_s;
    if (p->remote_timeout_s <= 0)
        p->remote_timeout_s = 30;
    if (!p->wal_max_bytes)
        p->wal_max_bytes = 256u << 20;
    if (p->interval_s <= 0)
        p->interval_s = 15;
    if (p->shard_update_s <= 0)
        p->shard_update_s = 10;
    rw->seg_max = (size_t)(p->wal_max_bytes / 16);
    if (rw->seg_max < 4096)
        rw->seg_max = 4096;
    if (rw->seg_max > (8u << 20))
        rw->seg_max = 8u << 20;
    rw->relabel = fn;
    rw->relabel_ud = ud;
    rw->log = p->logger ? p->logger : am_log_default();
    if (p->name && *p->name) {
        snprintf(rw->name, sizeof rw->name, "%s", p->name);
    } else {
        const char *h = strstr(p->url, "://") + 3;
        size_t hn = strcspn(h, "/?#");
        snprintf(rw->name, sizeof rw->name, "%.*s", (int)(hn < 120 ? hn : 120), h);
    }
    rw->target = (am__rw_target){p->url,
                                 p->basic_user,
                                 p->basic_password,
                                 p->auth_type,
                                 p->auth_credentials,
                                 p->ca_file,
                                 p->cert_file,
                                 p->key_file,
                                 p->insecure_skip_verify != 0,
                                 p->retry_on_http_429 >= 0,
                                 p->remote_timeout_s};
    rw->desired = p->min_shards;
    pthread_mutex_init(&rw->mu, NULL);
    pthread_cond_init(&rw->cv_disp, NULL);
    pthread_cond_init(&rw->cv_done, NULL);
    pthread_mutex_init(&rw->sample_mu, NULL);
    pthread_cond_init(&rw->sample_cv, NULL);
    if (!rc && p->self_registry)
        rc = am__pack_new(p->self_registry, DEFS, N_M, &rw->m);
    if (!rc && p->wal_dir)
        rc = replay(rw);
    pthread_mutex_lock(&rw->mu);
    if (!rc)
        rc = shards_start(rw, p->min_shards);
    if (!rc) {
        if (pthread_create(&rw->disp, NULL, dispatcher, rw) != 0)
            rc = am__err(AM_ENOMEM, "remote_write: cannot start the dispatcher");
        else
            rw->disp_started = true;
    }
    pthread_mutex_unlock(&rw->mu);
    if (!rc && p->n_registries) {
        if (pthread_create(&rw->sampler, NULL, sampler, rw) != 0)
            rc = am__err(AM_ENOMEM, "remote_write: cannot start the sampler");
        else
            rw->sampler_started = true;
    }
    if (rc) {
        char why[256];
        snprintf(why, sizeof why, "%s", am_errmsg());
        am_remote_write_free(rw, 0);
        return am__err(rc, "%s", why);
    }
    *out = rw;
    return AM_OK;
}

am_err am_remote_write_new(const am_remote_write_opts *o, am_remote_write **out)
{
    if (!out)
        return am__err(AM_EINVAL, "remote_write: out is NULL");
    return am__rw_new(o, o ? o->relabel : NULL, o ? o->relabel_userdata : NULL, out);
}

am_err am__rw_append_pairs(am_remote_write *rw, am__pair *pairs, size_t n, int64_t t_ms, double v)
{
    char scratch[8192];
    am__pair moved[AM_RW_MAX_PAIRS + 8];
    if (rw->relabel) {
        if (n > AM_RW_MAX_PAIRS + 8) {
            pthread_mutex_lock(&rw->mu);
            rw->invalid++;
            pthread_mutex_unlock(&rw->mu);
            return am__err(AM_EINVAL, "remote_write: too many labels");
        }
        memcpy(moved, pairs, n * sizeof *pairs);
        pairs = moved;
        if (!rw->relabel(rw->relabel_ud, pairs, &n, AM_RW_MAX_PAIRS + 8, scratch, sizeof scratch)) {
            pthread_mutex_lock(&rw->mu);
            rw->dropped++;
            pthread_mutex_unlock(&rw->mu);
            return AM_OK;
        }
    }
    pthread_mutex_lock(&rw->mu);
    am_err rc = log_append(rw, pairs, n, t_ms, v);
    if (rc == AM_EINVAL) {
        rw->invalid++;
    }
    pthread_mutex_unlock(&rw->mu);
    return rc;
}

am_err am_remote_write_append(am_remote_write *rw, const char *const *names,
                              const char *const *values, size_t n, int64_t t_ms, double v)
{
    if (!rw || (n && (!names || !values)))
        return am__err(AM_EINVAL, "remote_write: NULL sender or labels");
    if (n > AM_RW_MAX_PAIRS)
        return am__err(AM_EINVAL, "remote_write: more than %d labels", AM_RW_MAX_PAIRS);
    am__pair pairs[AM_RW_MAX_PAIRS];
    for (size_t i = 0; i < n; i++)
        pairs[i] = (am__pair){names[i], values[i]};
    return am__rw_append_pairs(rw, pairs, n, t_ms, v);
}

uint64_t am_remote_write_pending(am_remote_write *rw)
{
    if (!rw)
        return 0;
    pthread_mutex_lock(&rw->mu);
    uint64_t n = rw->appended - rw->done;
    pthread_mutex_unlock(&rw->mu);
    return n;
}

am_err am_remote_write_flush(am_remote_write *rw, double timeout_s)
{
    if (!rw)
        return am__err(AM_EINVAL, "remote_write: NULL sender");
    double until = am_unix_time() + (timeout_s > 0 ? timeout_s : 0);
    pthread_mutex_lock(&rw->mu);
    /* whatever is queued goes now, not at its deadline */
    for (;;) {
        if (rw->appended == rw->done)
            break;
        double now = am_unix_time();
        if (now >= until)
            break;
        for (unsigned i = 0; i < rw->n_shards; i++)
            if (rw->shards[i].count)
                rw->shards[i].first_at = 0;
        for (unsigned i = 0; i < rw->n_shards; i++)
            pthread_cond_signal(&rw->shards[i].cv);
        pthread_cond_signal(&rw->cv_disp);
        double at = now + 0.05 < until ? now + 0.05 : until;
        struct timespec ts = {(time_t)at, (long)((at - (double)(time_t)at) * 1e9)};
        pthread_cond_timedwait(&rw->cv_done, &rw->mu, &ts);
    }
    bool ok = rw->appended == rw->done;
    pthread_mutex_unlock(&rw->mu);
    return ok ? AM_OK : am__err(AM_ETIMEDOUT, "remote_write: samples still pending");
}

void am__rw_get_stats(am_remote_write *rw, am__rw_stats *st)
{
    pthread_mutex_lock(&rw->mu);
    *st = (am__rw_stats){rw->sent,
                         rw->failed,
                         rw->retried,
                         rw->dropped,
                         rw->invalid,
                         rw->spilled,
                         rw->appended - rw->done,
                         rw->bytes,
                         rw->requests,
                         rw->n_shards,
                         rw->on_disk};
    pthread_mutex_unlock(&rw->mu);
}

void am_remote_write_free(am_remote_write *rw, double timeout_s)
{
    if (!rw)
        return;
    if (rw->sampler_started) {
        pthread_mutex_lock(&rw->sample_mu);
        rw->sample_stop = true;
        pthread_cond_signal(&rw->sample_cv);
        pthread_mutex_unlock(&rw->sample_mu);
        pthread_join(rw->sampler, NULL);
        sample_now(rw);
    }
    if (rw->disp_started)
        am_remote_write_flush(rw, timeout_s);
    pthread_mutex_lock(&rw->mu);
    /* what is left: sealed to disk (when there is one) for the next run */
    seal(rw, true);
    rw->stopping = true;
    pthread_cond_broadcast(&rw->cv_disp);
    pthread_cond_broadcast(&rw->cv_done);
    for (unsigned i = 0; i < rw->n_shards; i++)
        rw->shards[i].stop = true;
    pthread_mutex_unlock(&rw->mu);
    if (rw->disp_started)
        pthread_join(rw->disp, NULL);
    pthread_mutex_lock(&rw->mu);
    shards_stop(rw);
    /* what was not sent stays in wal_dir for the next run: segments on
       disk keep their files, those in memory are written (a segment
       partly sent is sent again whole: receivers take a duplicate of
       the same sample) */
    for (int list = 0; list < 2; list++) {
        for (seg *s = list ? rw->head : rw->taken, *nx; s; s = nx) {
            nx = s->next;
            if (s->data.len && !s->on_disk)
                seg_spill(rw, s);
            am_buf_free(&s->data);
            am__free(s);
        }
    }
    pthread_mutex_unlock(&rw->mu);
    publish(rw);
    am__pack_free(rw->m);
    pthread_mutex_destroy(&rw->mu);
    pthread_cond_destroy(&rw->cv_disp);
    pthread_cond_destroy(&rw->cv_done);
    pthread_mutex_destroy(&rw->sample_mu);
    pthread_cond_destroy(&rw->sample_cv);
    for (size_t i = 0; i < sizeof rw->strs / sizeof rw->strs[0]; i++)
        am__free(rw->strs[i]);
    am__free(rw);
}
