/*
** coord_worker.c: the processes of the Redis coordinator's conservation
** test (tests/integration/coord_conservation.sh), and its referee.
**
**   coord_worker port                          print a free 127.0.0.1 port
**   coord_worker ping PORT SECONDS             wait until Redis answers PING
**   coord_worker produce URI TAG N LOG         send N messages, ids TAG-0.., to
**                                              work:1/work:2, random priorities
**   coord_worker consume URI AGENT SEED LOG STOPFILE
**                                              receive and randomly ack (70%),
**                                              nack transiently (15%) or for
**                                              good (15%); leave when STOPFILE
**                                              exists and AGENT has nothing
**                                              queued, delayed or in flight
**   coord_worker hold URI AGENT K LOG          reserve K messages, then sleep
**                                              until killed (kill -9)
**   coord_worker check URI DIR                 the verdict (below)
**   coord_worker lens URI                      every agent's lengths line (as
**                                              the scripts keep it in
**                                              <prefix>:lens:<n>, on a cluster
**                                              <prefix>:{<tag>}:lens on the
**                                              master of each bucket) against
**                                              its keys: LLEN, ZCARD, the
**                                              head's enqueued_at, the next
**                                              timer
**   coord_worker master URI AGENT              the port of the master that
**                                              serves AGENT's bucket (cluster)
**   coord_worker deadletters URI AGENT         dead-letter messages whose
**                                              payloads and error texts hold
**                                              NUL, invalid UTF-8 and control
**                                              bytes, and broadcast copies
**                                              whose ids pass 128 bytes
**
** produce and consume run two threads on one coordinator (its sends,
** receives and acks at the same time, on its pooled connections, as the
** threads of an agent process do).
** Every worker writes one line per outcome to its LOG, flushed at once so a
** killed process loses nothing it wrote:
**   sent ID | send? ID            send: AM_OK | AM_EBACKEND (may have landed)
**   ack ID | ack? ID              ack: AM_OK | AM_EBACKEND (may have applied)
**   retry ID | dead ID REASON     a nack that returned AM_OK, and what it did
**   nack? ID                      a nack that returned AM_EBACKEND
**   late ID                       ack/nack refused: the reservation expired
**   held ID                       a holder's reservation (it will be killed)
**   error OP                      any AM_EBACKEND (counted in delivered_error)
**
** THE VERDICT (check): after every worker has left, the referee opens its
** own coordinator, recovers expired reservations, drains what is still
** queued (without acking), and lists the DLQs. Then:
**   - every id logged "sent" is in exactly one place: acked ("ack"), in a
**     DLQ, or still queued; an id whose only ack was "ack?" and that is
**     nowhere else counts as acked (the ack applied, its reply was lost);
**   - no id was acked twice; nothing acked, queued or dead-lettered was
**     never sent ("send?" ids may be anywhere or nowhere: their send may
**     or may not have landed);
**   - the snapshot's totals agree: sent == "sent" lines, delivered.ok ==
**     "ack" lines, nacks == "retry" + "dead" lines, retries == "retry"
**     lines, delivered.error == nacks + "error" lines of the workers that
**     closed (the holders' counters die with them), dead_lettered and
**     permanent_failures == the DLQ's size -- exactly when no reply was
**     lost, else within the number of operations whose reply was lost.
** It prints one summary line and exits 0, or prints each violation and
** exits 1.
*/
#define _GNU_SOURCE
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "agentmon/agentmon.h"
#include "agentmon/coord.h"
#include "coord/coord_redis.h"
#include "../unit/free_port.h"
#include "../unit/lens_line.h"

#define MAX_ATTEMPTS 3
#define VISIBILITY_S 2.0
static const char *const AGENTS[] = {"work:1", "work:2"};

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

static am_coord_opts worker_opts(am_registry *r)
{
    am_coord_opts o = AM_COORD_OPTS_INIT;
    o.registry = r;
    o.max_queue = 100000;
    o.max_attempts = MAX_ATTEMPTS;
    o.backoff_base_s = 0.05;
    o.backoff_factor = 2;
    o.backoff_max_s = 0.2;
    o.backoff_jitter = -1;
    o.visibility_s = VISIBILITY_S;
    o.dlq_growth_threshold = 1000000; /* no warnings in the output */
    return o;
}

static FILE *g_log;
static pthread_mutex_t g_log_lock = PTHREAD_MUTEX_INITIALIZER; /* a line at a time */

static void logf_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_line(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&g_log_lock);
    vfprintf(g_log, fmt, ap);
    fputc('\n', g_log);
    fflush(g_log);
    pthread_mutex_unlock(&g_log_lock);
    va_end(ap);
}

/* Open a coordinator on uri, retrying while Redis is away (up to 20 s). */
static am_coord *open_retry(const char *uri, am_registry *r)
{
    am_coord_opts o = worker_opts(r);
    for (int i = 0; i < 200; i++) {
        am_coord *c;
        am_err rc = am_coord_open(uri, &o, &c);
        if (rc == AM_OK)
            return c;
        if (rc != AM_EBACKEND) {
            fprintf(stderr, "coord_worker: open %s: %s\n", uri, am_errmsg());
            exit(2);
        }
        sleep_s(0.1);
    }
    fprintf(stderr, "coord_worker: cannot open %s: %s\n", uri, am_errmsg());
    exit(2);
}

static uint64_t g_seed = 88172645463325252ull;
static __thread uint64_t g_rand; /* each worker thread's, from g_seed */

static uint64_t next_rand(void)
{
    if (!g_rand)
        g_rand = g_seed;
    g_rand ^= g_rand << 13;
    g_rand ^= g_rand >> 7;
    g_rand ^= g_rand << 17;
    return g_rand;
}

/* ------------------------------------------------------------------ */
/* Workers                                                             */
/* ------------------------------------------------------------------ */

/* The threads of one worker process: they share its coordinator, so that
   their sends and acks run at the same time through it (its connection
   pools, several writes to a master at once), as an agent process's
   threads do. */
#define THREADS 2

typedef struct job {
    am_coord *c;
    const char *tag, *agent, *stopfile;
    long n;
    int k; /* which thread */
    int rc;
} job;

static void seed_thread(int k)
{
    g_rand = g_seed ^ ((uint64_t)(k + 1) * 0x9E3779B97F4A7C15ull);
    if (!g_rand)
        g_rand = 1;
}

/* Run fn on THREADS threads sharing c; the first nonzero rc. */
static int run_threads(void *(*fn)(void *), job *proto)
{
    job jobs[THREADS];
    pthread_t t[THREADS];
    for (int k = 0; k < THREADS; k++) {
        jobs[k] = *proto;
        jobs[k].k = k;
        pthread_create(&t[k], NULL, fn, &jobs[k]);
    }
    int rc = 0;
    for (int k = 0; k < THREADS; k++) {
        pthread_join(t[k], NULL);
        if (jobs[k].rc && !rc)
            rc = jobs[k].rc;
    }
    return rc;
}

/* Thread k sends ids TAG-i, i = k, k + THREADS, ... < n. */
static void *produce_part(void *p)
{
    job *j = p;
    seed_thread(j->k);
    am_coord *c = j->c;
    const char *tag = j->tag;
    static const int prios[3] = {AM_PRIO_LOW, AM_PRIO_NORMAL, AM_PRIO_HIGH};
    for (long i = j->k; i < j->n; i += THREADS) {
        char id[64], body[96];
        snprintf(id, sizeof id, "%s-%ld", tag, i);
        snprintf(body, sizeof body, "payload of %s", id);
        am_coord_msg m = AM_COORD_MSG_INIT;
        m.from = "producer:1";
        m.to = AGENTS[next_rand() % 2];
        m.id = id;
        m.type = "task";
        m.payload = body;
        m.len = strlen(body);
        m.priority = prios[next_rand() % 3];
        am_err rc = am_coord_send(c, &m);
        if (rc == AM_OK) {
            logf_line("sent %s", id);
        } else if (rc == AM_EBACKEND) {
            logf_line("send? %s", id);
            logf_line("error send");
            sleep_s(0.05);
        } else {
            fprintf(stderr, "coord_worker: send %s: %s: %s\n", id, am_err_name(rc), am_errmsg());
            j->rc = 1;
            return NULL;
        }
        sleep_s(0.008 * THREADS);
    }
    return NULL;
}

static int produce(const char *uri, const char *tag, long n)
{
    am_registry *r;
    am_registry_new(&r);
    job j = {.c = open_retry(uri, r), .tag = tag, .n = n};
    int rc = run_threads(produce_part, &j);
    am_coord_close(j.c);
    am_registry_free(r);
    return rc;
}

static bool agent_idle(am_coord *c, const char *agent)
{
    am_coord_stats st;
    if (am_coord_agent_stats(c, agent, &st) != AM_OK)
        return false;
    return st.queued[0] + st.queued[1] + st.queued[2] + st.delayed + st.inflight == 0;
}

static void *consume_part(void *p)
{
    job *j = p;
    seed_thread(j->k);
    am_coord *c = j->c;
    const char *agent = j->agent, *stopfile = j->stopfile;
    for (;;) {
        am_coord_delivery *d;
        am_err rc = am_coord_receive(c, agent, 0, 0.3, &d);
        if (rc == AM_ETIMEDOUT) {
            if (access(stopfile, F_OK) == 0 && agent_idle(c, agent))
                break;
            continue;
        }
        if (rc == AM_EBACKEND) {
            logf_line("error receive");
            sleep_s(0.05);
            continue;
        }
        if (rc) {
            fprintf(stderr, "coord_worker: receive: %s: %s\n", am_err_name(rc), am_errmsg());
            j->rc = 1;
            return NULL;
        }
        sleep_s((double)(next_rand() % 2000) / 1e6); /* work */
        unsigned dice = (unsigned)(next_rand() % 100);
        if (dice < 70) {
            rc = am_coord_ack(c, d);
            if (rc == AM_OK)
                logf_line("ack %s", d->id);
            else if (rc == AM_EBACKEND)
                logf_line("ack? %s\nerror ack", d->id);
        } else {
            bool permanent = dice >= 85;
            rc = am_coord_nack(c, d, permanent, permanent ? "bad input" : "try again");
            if (rc == AM_OK && !permanent && d->attempt < MAX_ATTEMPTS)
                logf_line("retry %s", d->id);
            else if (rc == AM_OK)
                logf_line("dead %s %s", d->id, permanent ? "permanent" : "max_attempts");
            else if (rc == AM_EBACKEND)
                logf_line("nack? %s\nerror nack", d->id);
        }
        if (rc == AM_ENOTFOUND)
            logf_line("late %s", d->id);
        else if (rc != AM_OK && rc != AM_EBACKEND) {
            fprintf(stderr, "coord_worker: settle %s: %s: %s\n", d->id, am_err_name(rc),
                    am_errmsg());
            j->rc = 1;
            return NULL;
        }
        am_coord_delivery_free(d);
    }
    return NULL;
}

static int consume(const char *uri, const char *agent, const char *stopfile)
{
    am_registry *r;
    am_registry_new(&r);
    job j = {.c = open_retry(uri, r), .agent = agent, .stopfile = stopfile};
    int rc = run_threads(consume_part, &j);
    am_coord_close(j.c);
    am_registry_free(r);
    return rc;
}

static __attribute__((noreturn)) void hold(const char *uri, const char *agent, long k)
{
    am_registry *r;
    am_registry_new(&r);
    am_coord *c = open_retry(uri, r);
    for (long got = 0; got < k;) {
        am_coord_delivery *d;
        am_err rc = am_coord_receive(c, agent, 0, 1, &d);
        if (rc == AM_OK) {
            logf_line("held %s", d->id);
            am_coord_delivery_free(d);
            got++;
        } else if (rc == AM_EBACKEND) {
            logf_line("error receive");
            sleep_s(0.05);
        }
    }
    logf_line("holding");
    for (;;)
        pause(); /* until kill -9 */
}

/* ------------------------------------------------------------------ */
/* The referee                                                         */
/* ------------------------------------------------------------------ */

/* A set of ids with a few counters each, by open addressing. */
typedef struct rec {
    char *id;
    int sent, send_unknown, ack, ack_unknown, dead_nack, held, queued, dlq;
} rec;

static rec *g_t;
static size_t g_cap = 1 << 16, g_n;

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static rec *get(const char *id)
{
    if (!g_t)
        g_t = calloc(g_cap, sizeof *g_t);
    if ((g_n + 1) * 2 > g_cap) {
        fprintf(stderr, "coord_worker: too many ids\n");
        exit(2);
    }
    for (size_t i = hash(id) & (g_cap - 1);; i = (i + 1) & (g_cap - 1)) {
        if (!g_t[i].id) {
            g_t[i].id = strdup(id);
            g_n++;
            return &g_t[i];
        }
        if (strcmp(g_t[i].id, id) == 0)
            return &g_t[i];
    }
}

typedef struct tally {
    long sent, send_unknown, ack, ack_unknown, retry, dead_nack, nack_unknown, late, held;
    long errors_closed, errors_killed;
} tally;

static void read_log(const char *path, bool is_holder, tally *t)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *sp = strchr(line, ' ');
        const char *id = sp ? sp + 1 : "";
        if (sp)
            *sp = '\0';
        char *sp2 = strchr(id, ' ');
        if (sp2)
            *sp2 = '\0';
        if (strcmp(line, "sent") == 0) {
            get(id)->sent++;
            t->sent++;
        } else if (strcmp(line, "send?") == 0) {
            get(id)->send_unknown++;
            t->send_unknown++;
        } else if (strcmp(line, "ack") == 0) {
            get(id)->ack++;
            t->ack++;
        } else if (strcmp(line, "ack?") == 0) {
            get(id)->ack_unknown++;
            t->ack_unknown++;
        } else if (strcmp(line, "retry") == 0) {
            t->retry++;
        } else if (strcmp(line, "dead") == 0) {
            get(id)->dead_nack++;
            t->dead_nack++;
        } else if (strcmp(line, "nack?") == 0) {
            t->nack_unknown++;
        } else if (strcmp(line, "late") == 0) {
            t->late++;
        } else if (strcmp(line, "held") == 0) {
            get(id)->held++;
            t->held++;
        } else if (strcmp(line, "error") == 0) {
            if (is_holder)
                t->errors_killed++;
            else
                t->errors_closed++;
        }
    }
    fclose(f);
}

static double snap_number(const char *snap, const char *key)
{
    char k[128];
    snprintf(k, sizeof k, "\"%s\":", key);
    const char *p = strstr(snap, k);
    return p ? strtod(p + strlen(k), NULL) : -1;
}

static int g_bad;

#define VIOLATION(...)                                                                             \
    do {                                                                                           \
        fprintf(stderr, "coord_worker check: VIOLATION: " __VA_ARGS__);                            \
        fputc('\n', stderr);                                                                       \
        g_bad++;                                                                                   \
    } while (0)

static int check(const char *uri, const char *dir)
{
    tally t = {0};
    DIR *dh = opendir(dir);
    if (!dh) {
        perror(dir);
        return 2;
    }
    struct dirent *e;
    while ((e = readdir(dh))) {
        size_t n = strlen(e->d_name);
        if (n < 4 || strcmp(e->d_name + n - 4, ".log") != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        read_log(path, strncmp(e->d_name, "hold", 4) == 0, &t);
    }
    closedir(dh);

    am_registry *r;
    am_registry_new(&r);
    am_coord *c = open_retry(uri, r);
    size_t recovered = 0;
    if (am_coord_recover(c, &recovered) != AM_OK) {
        fprintf(stderr, "coord_worker check: recover: %s\n", am_errmsg());
        return 2;
    }
    long queued = 0, dlq = 0, dlq_permanent = 0, dlq_attempts = 0;
    for (size_t a = 0; a < 2; a++) {
        am_coord_delivery *d;
        while (am_coord_receive(c, AGENTS[a], 60, 0.5, &d) == AM_OK) {
            get(d->id)->queued++;
            queued++;
            am_coord_delivery_free(d);
        }
        am_coord_dlq_entry *de;
        size_t n;
        if (am_coord_dlq_list(c, AGENTS[a], (size_t)-1, &de, &n) != AM_OK) {
            fprintf(stderr, "coord_worker check: dlq_list: %s\n", am_errmsg());
            return 2;
        }
        for (size_t i = 0; i < n; i++) {
            get(de[i].id)->dlq++;
            dlq++;
            dlq_permanent += strcmp(de[i].reason, "permanent") == 0;
            dlq_attempts += strcmp(de[i].reason, "max_attempts") == 0;
            if (strcmp(de[i].reason, "poison") == 0)
                VIOLATION("%s was dead-lettered as poison", de[i].id);
        }
        am_coord_dlq_free(de, n);
    }

    long acked = 0, acked_lost_reply = 0, unknown_landed = 0;
    for (size_t i = 0; i < g_cap; i++) {
        rec *x = &g_t[i];
        if (!x->id)
            continue;
        int places = x->ack + x->dlq + x->queued;
        if (x->ack > 1)
            VIOLATION("%s was acked %d times", x->id, x->ack);
        if (x->sent + x->send_unknown > 1)
            VIOLATION("%s was sent %d times", x->id, x->sent + x->send_unknown);
        if (x->sent) {
            if (places == 0 && x->ack_unknown)
                acked_lost_reply++;
            else if (places != 1)
                VIOLATION("%s is in %d places (acked %d, dlq %d, queued %d)%s", x->id, places,
                          x->ack, x->dlq, x->queued,
                          x->held ? "; it was held by a killed worker" : "");
        } else if (x->send_unknown) {
            if (places > 1)
                VIOLATION("%s (send reply lost) is in %d places", x->id, places);
            unknown_landed += places > 0 || x->ack_unknown;
        } else if (places || x->ack_unknown || x->held) {
            VIOLATION("%s was received but never sent", x->id);
        }
        acked += x->ack;
    }

    char *snap;
    size_t len;
    if (am_coord_snapshot(c, &snap, &len) != AM_OK) {
        fprintf(stderr, "coord_worker check: snapshot: %s\n", am_errmsg());
        return 2;
    }
    double s_sent = snap_number(snap, "messaging.sent.total");
    double s_ok = snap_number(snap, "messaging.delivered.ok");
    double s_err = snap_number(snap, "messaging.delivered.error");
    double s_nacks = snap_number(snap, "messaging.nacks.total");
    double s_retries = snap_number(snap, "messaging.retries.scheduled.total");
    double s_dead = snap_number(snap, "messaging.dead_lettered.total");
    double s_perm = snap_number(snap, "messaging.permanent_failures.total");
    double s_rec = snap_number(snap, "messaging.recovered.total");
    long lost_replies =
        t.send_unknown + t.ack_unknown + t.nack_unknown + t.errors_closed + t.errors_killed;
    if (s_sent != (double)t.sent)
        VIOLATION("sent.total %.0f, but %ld sends returned AM_OK", s_sent, t.sent);
    if (s_ok != (double)t.ack)
        VIOLATION("delivered.ok %.0f, but %ld acks returned AM_OK", s_ok, t.ack);
    if (s_nacks != (double)(t.retry + t.dead_nack))
        VIOLATION("nacks.total %.0f, but %ld nacks returned AM_OK", s_nacks, t.retry + t.dead_nack);
    if (s_retries != (double)t.retry)
        VIOLATION("retries.scheduled.total %.0f, but %ld retries", s_retries, t.retry);
    double err_lo = (double)(t.retry + t.dead_nack + t.errors_closed);
    if (s_err < err_lo || s_err > err_lo + (double)t.errors_killed)
        VIOLATION("delivered.error %.0f, expected %.0f (+ up to %ld of the killed holders)", s_err,
                  err_lo, t.errors_killed);
    if (s_dead != s_perm)
        VIOLATION("dead_lettered %.0f != permanent_failures %.0f (no poison here)", s_dead, s_perm);
    if (s_dead > (double)dlq || (lost_replies == 0 && s_dead != (double)dlq) ||
        (double)dlq - s_dead > (double)lost_replies * (double)(t.held + 1))
        VIOLATION("dead_lettered.total %.0f, but the DLQs hold %ld (%ld replies lost)", s_dead, dlq,
                  lost_replies);
    if (s_rec < 0)
        VIOLATION("no recovered.total in the snapshot");
    printf("{\"sent\":%ld,\"send_reply_lost\":%ld,\"send_lost_landed\":%ld,\"acked\":%ld,"
           "\"ack_reply_lost_applied\":%ld,\"dead_lettered\":%ld,\"dlq_permanent\":%ld,"
           "\"dlq_max_attempts\":%ld,\"still_queued\":%ld,\"retries\":%ld,\"late\":%ld,"
           "\"held_by_killed\":%ld,\"recovered_now\":%zu,\"backend_errors\":%ld,"
           "\"snapshot\":{\"sent\":%.0f,\"ok\":%.0f,\"error\":%.0f,\"nacks\":%.0f,\"retries\":%.0f,"
           "\"dead\":%.0f,\"recovered\":%.0f},\"violations\":%d}\n",
           t.sent, t.send_unknown, unknown_landed, acked, acked_lost_reply, dlq, dlq_permanent,
           dlq_attempts, queued, t.retry, t.late, t.held, recovered,
           t.errors_closed + t.errors_killed, s_sent, s_ok, s_err, s_nacks, s_retries, s_dead,
           s_rec, g_bad);
    am_free(snap);
    am_coord_close(c);
    am_registry_free(r);
    if (t.sent == 0)
        VIOLATION("nothing was sent");
    return g_bad ? 1 : 0;
}

/* ------------------------------------------------------------------ */
/* Helpers for the script                                              */
/* ------------------------------------------------------------------ */

/* "port": print a free port (free_port.h) for the script. */
static int print_free_port(void)
{
    int port = free_port();
    if (port < 0)
        return 1;
    printf("%d\n", port);
    return 0;
}

static int ping(int port, double seconds)
{
    for (double t = 0; t < seconds; t += 0.05) {
        struct timeval tv = {1, 0};
        redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
        if (c && !c->err) {
            redisReply *r = redisCommand(c, "PING");
            bool ok = r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
            if (r)
                freeReplyObject(r);
            redisFree(c);
            if (ok)
                return 0;
        } else if (c) {
            redisFree(c);
        }
        sleep_s(0.05);
    }
    return 1;
}

static FILE *open_log(const char *path)
{
    FILE *f = fopen(path, "a");
    if (!f) {
        perror(path);
        exit(2);
    }
    return f;
}

/* ------------------------------------------------------------------ */
/* The lengths lines against the keys                                  */
/* ------------------------------------------------------------------ */

/*
** Where the referee reads: one server (redis://), or the masters of a
** cluster (redis+cluster://), a connection to each found by asking a seed
** CLUSTER SLOTS and cached by port. Keys are named as common.lua names
** them: "<prefix>:<kind>:<agent>" and "<prefix>:m:<id>" on one server,
** "<prefix>:{<tag>}:<kind>:<agent>" and "<prefix>:{<tag>}:m:<agent>:<id>"
** on a cluster, the tag being the bucket's (am__redis_bucket_tag).
*/
typedef struct where {
    am__redis_uri u;
    redisContext *one; /* standalone */
    int slot_port[16384];
    int ports[16];
    redisContext *ctx[16];
    int n;
} where;

static redisContext *connect_port(const char *host, int port)
{
    struct timeval tv = {5, 0};
    redisContext *rc = redisConnectWithTimeout(host, port, tv);
    if (!rc || rc->err) {
        fprintf(stderr, "coord_worker: cannot connect to %s:%d\n", host, port);
        exit(2);
    }
    return rc;
}

static void where_open(where *w, const char *uri)
{
    memset(w, 0, sizeof *w);
    if (am__redis_uri_parse(uri, &w->u) != AM_OK || w->u.is_unix) {
        fprintf(stderr, "coord_worker: %s: %s\n", uri, am_errmsg());
        exit(2);
    }
    if (!w->u.is_cluster) {
        w->one = connect_port(w->u.host, w->u.port);
        return;
    }
    redisContext *seed = connect_port(w->u.host, w->u.port);
    redisReply *r = redisCommand(seed, "CLUSTER SLOTS");
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        redisReply *e = r->element[i];
        for (long long s = e->element[0]->integer; s <= e->element[1]->integer; s++)
            w->slot_port[s] = (int)e->element[2]->element[1]->integer;
    }
    if (r)
        freeReplyObject(r);
    redisFree(seed);
}

/* The connection to the node of bucket. */
static redisContext *at(where *w, int bucket)
{
    if (w->one)
        return w->one;
    char tag[AM__REDIS_TAG_MAX];
    int slot;
    am__redis_bucket_tag(bucket, tag, &slot);
    int port = w->slot_port[slot];
    for (int i = 0; i < w->n; i++)
        if (w->ports[i] == port)
            return w->ctx[i];
    w->ports[w->n] = port;
    return w->ctx[w->n++] = connect_port(w->u.host, port);
}

static void where_close(where *w)
{
    if (w->one)
        redisFree(w->one);
    for (int i = 0; i < w->n; i++)
        redisFree(w->ctx[i]);
}

/* The name of bucket's key "<what>" (kind:agent, m:..., lens, totals). */
static void bkey(const where *w, int bucket, const char *what, char *out, size_t cap)
{
    char tag[AM__REDIS_TAG_MAX];
    am__redis_bucket_tag(bucket, tag, NULL);
    if (w->u.is_cluster)
        snprintf(out, cap, "%s:{%s}:%s", w->u.prefix, tag, what);
    else
        snprintf(out, cap, "%s:%s", w->u.prefix, what);
}

static long long int_reply(redisContext *rc, const char *cmd, const char *key)
{
    redisReply *r = redisCommand(rc, "%s %s", cmd, key);
    long long v = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    if (r)
        freeReplyObject(r);
    return v;
}

/* The enqueued_at of the head of agent's list qk as stored ("-" when none). */
static void head_time(where *w, int bucket, const char *agent, const char *qk, char *out,
                      size_t cap)
{
    redisContext *rc = at(w, bucket);
    snprintf(out, cap, "-");
    redisReply *h = redisCommand(rc, "LINDEX %s 0", qk);
    if (h && h->type == REDIS_REPLY_STRING) {
        char what[512], mk[640];
        if (w->u.is_cluster)
            snprintf(what, sizeof what, "m:%s:%s", agent, h->str);
        else
            snprintf(what, sizeof what, "m:%s", h->str);
        bkey(w, bucket, what, mk, sizeof mk);
        redisReply *e = redisCommand(rc, "HGET %s enqueued_at", mk);
        if (e && e->type == REDIS_REPLY_STRING)
            snprintf(out, cap, "%s", e->str);
        if (e)
            freeReplyObject(e);
    }
    if (h)
        freeReplyObject(h);
}

/* The earliest score of zset k, or -1. */
static double first_score(redisContext *rc, const char *k)
{
    redisReply *r = redisCommand(rc, "ZRANGE %s 0 0 WITHSCORES", k);
    double v = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2
                   ? strtod(r->element[1]->str, NULL)
                   : -1;
    if (r)
        freeReplyObject(r);
    return v;
}

/* Every line of the buckets equals what its keys say (lib_lens.lua): run
   while no script runs. Exit 0 and a summary, or each difference. */
static int lens(const char *uri)
{
    where w;
    where_open(&w, uri);
    int bad = 0;
    size_t checked = 0;
    long long repairs = 0;
    for (int bucket = 0; bucket < 64; bucket++) {
        redisContext *rc = at(&w, bucket);
        char lk[256], n[16];
        snprintf(n, sizeof n, "lens:%d", bucket);
        bkey(&w, bucket, w.u.is_cluster ? "lens" : n, lk, sizeof lk);
        redisReply *all = redisCommand(rc, "HGETALL %s", lk);
        if (!all || all->type != REDIS_REPLY_ARRAY) {
            fprintf(stderr, "coord_worker lens: %s is not a hash\n", lk);
            return 1;
        }
        static const char *const kinds[6] = {"q1", "q5", "q9", "dl", "if", "dlq"};
        static const char *const cmds[6] = {"LLEN", "LLEN", "LLEN", "ZCARD", "ZCARD", "LLEN"};
        for (size_t i = 0; i + 1 < all->elements; i += 2) {
            const char *agent = all->element[i]->str;
            /* its bucket, as common.lua's lens_key computes it */
            uint64_t h = 0;
            for (const char *p = agent; *p; p++)
                h = (h * 31 + (unsigned char)*p) % 1000003;
            int want = (int)((h * 2654435761u) % 4294967296u / 67108864u);
            if (want != bucket) {
                printf("lens: %s is in %s, its bucket is %d\n", agent, lk, want);
                bad++;
            }
            /* "<agent> " and the packed numbers (tests/unit/lens_line.h) */
            char name[AM_COORD_MAX_NAME + 1];
            ll_line l;
            if (!ll_decode(all->element[i + 1]->str, all->element[i + 1]->len, name, &l) ||
                strcmp(name, agent) != 0) {
                printf("lens: %s: its line does not parse\n", agent);
                bad++;
                continue;
            }
            char key[512], what[300];
            for (int k = 0; k < 6; k++) {
                snprintf(what, sizeof what, "%s:%s", kinds[k], agent);
                bkey(&w, bucket, what, key, sizeof key);
                long long v = int_reply(rc, cmds[k], key);
                if (v != l.counts[k]) {
                    printf("lens: %s: %s is %u, %s %s says %lld\n", agent, kinds[k], l.counts[k],
                           cmds[k], key, v);
                    bad++;
                }
            }
            for (int q = 0; q < 3; q++) {
                char t[64];
                snprintf(what, sizeof what, "%s:%s", kinds[q], agent);
                bkey(&w, bucket, what, key, sizeof key);
                head_time(&w, bucket, agent, key, t, sizeof t);
                double want_h = strcmp(t, "-") == 0 ? LL_NONE : strtod(t, NULL);
                if (l.heads[q] != LL_UNKNOWN && l.heads[q] != want_h) {
                    printf("lens: %s: the head of %s was enqueued at %s, the line says %.6f\n",
                           agent, key, t, l.heads[q]);
                    bad++;
                }
            }
            char dk[512], ik[512];
            snprintf(what, sizeof what, "dl:%s", agent);
            bkey(&w, bucket, what, dk, sizeof dk);
            snprintf(what, sizeof what, "if:%s", agent);
            bkey(&w, bucket, what, ik, sizeof ik);
            double d = first_score(rc, dk), r = first_score(rc, ik);
            double earliest = d < 0 ? r : r < 0 ? d : d < r ? d : r;
            if (earliest >= 0 && (l.next == LL_NONE || l.next > earliest + 1e-6)) {
                printf("lens: %s: a timer is due at %.6f, the line's next is %.6f\n", agent,
                       earliest, l.next);
                bad++;
            }
            checked++;
        }
        freeReplyObject(all);
        /* audits' repairs: in the totals (one hash standalone, per bucket
           on a cluster) */
        if (w.u.is_cluster || bucket == 0) {
            char tk[256];
            bkey(&w, bucket, "totals", tk, sizeof tk);
            redisReply *rep = redisCommand(rc, "HGET %s lens_repairs", tk);
            if (rep && rep->type == REDIS_REPLY_STRING)
                repairs += strtoll(rep->str, NULL, 10);
            if (rep)
                freeReplyObject(rep);
        }
    }
    if (repairs) {
        printf("lens: audits repaired %lld line(s): something made them disagree\n", repairs);
        bad++;
    }
    where_close(&w);
    if (!bad)
        printf("lens: %zu agents, every line exact (counts, heads, next), no repair made\n",
               checked);
    return bad ? 1 : 0;
}

/* The port of the master that serves agent's bucket (a cluster URI). */
static int master_of(const char *uri, const char *agent)
{
    where w;
    where_open(&w, uri);
    char tag[AM__REDIS_TAG_MAX];
    int slot;
    am__redis_bucket_tag(am__redis_bucket(agent, strlen(agent)), tag, &slot);
    if (!w.u.is_cluster || !w.slot_port[slot])
        return 2;
    printf("%d\n", w.slot_port[slot]);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Dead letters with awkward bytes                                     */
/* ------------------------------------------------------------------ */

static int dead_one(am_coord *c, const char *agent, const void *payload, size_t len,
                    const char *error)
{
    am_coord_msg m = AM_COORD_MSG_INIT;
    m.from = "planner:1";
    m.to = agent;
    m.type = "task";
    m.payload = payload;
    m.len = len;
    am_coord_delivery *d;
    if (am_coord_send(c, &m) != AM_OK || am_coord_receive(c, agent, 0, 2, &d) != AM_OK)
        return 1;
    am_err rc = am_coord_nack(c, d, true, error);
    am_coord_delivery_free(d);
    return rc != AM_OK;
}

static int deadletters(const char *uri, const char *agent)
{
    am_registry *r;
    am_registry_new(&r);
    am_coord *c = open_retry(uri, r);
    static const char bin[] = {'a', 0, 'b', '\xff', '\xfe', '\x01', '\n', '"', '\\', 'z'};
    static const char utf8[] = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \x7f";
    int bad = dead_one(c, agent, bin, sizeof bin, "bad \xff\xc3 byte\x01\t\"quoted\"") ||
              dead_one(c, agent, utf8, strlen(utf8), "\xe2\x82") || dead_one(c, agent, "", 0, NULL);
    /* A broadcast's copies are "<id>/<recipient>": 125 + 1 + the name. */
    char id[126];
    memset(id, 'i', 125);
    id[125] = '\0';
    am_coord_msg m = AM_COORD_MSG_INIT;
    m.from = "planner:1";
    m.id = id;
    m.type = "shutdown";
    size_t n;
    const char *type = strchr(agent, ':');
    char t[64];
    snprintf(t, sizeof t, "%.*s", (int)(type - agent), agent);
    bad = bad || am_coord_register(c, agent) != AM_OK ||
          am_coord_broadcast(c, &m, t, &n) != AM_OK || n < 1;
    am_coord_delivery *d;
    bad = bad || am_coord_receive(c, agent, 0, 2, &d) != AM_OK;
    if (!bad) {
        bad = strlen(d->id) <= AM_COORD_MAX_NAME || am_coord_nack(c, d, true, "long id") != AM_OK;
        am_coord_delivery_free(d);
    }
    if (bad)
        fprintf(stderr, "coord_worker deadletters: %s\n", am_errmsg());
    am_coord_close(c);
    am_registry_free(r);
    return bad;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "port") == 0)
        return print_free_port();
    if (strcmp(mode, "ping") == 0 && argc == 4)
        return ping((int)strtol(argv[2], NULL, 10), strtod(argv[3], NULL));
    if (strcmp(mode, "produce") == 0 && argc == 6) {
        g_log = open_log(argv[5]);
        g_seed ^= hash(argv[3]);
        return produce(argv[2], argv[3], strtol(argv[4], NULL, 10));
    }
    if (strcmp(mode, "consume") == 0 && argc == 7) {
        g_log = open_log(argv[5]);
        g_seed ^= (uint64_t)strtoull(argv[4], NULL, 10) * 0x9E3779B97F4A7C15ull;
        int rc = consume(argv[2], argv[3], argv[6]);
        am_shutdown();
        return rc;
    }
    if (strcmp(mode, "hold") == 0 && argc == 6) {
        g_log = open_log(argv[5]);
        hold(argv[2], argv[3], strtol(argv[4], NULL, 10));
    }
    if (strcmp(mode, "check") == 0 && argc == 4)
        return check(argv[2], argv[3]);
    if (strcmp(mode, "lens") == 0 && argc == 3)
        return lens(argv[2]);
    if (strcmp(mode, "master") == 0 && argc == 4)
        return master_of(argv[2], argv[3]);
    if (strcmp(mode, "deadletters") == 0 && argc == 4)
        return deadletters(argv[2], argv[3]);
    fprintf(stderr, "usage: coord_worker port | ping PORT SECONDS | produce URI TAG N LOG |\n"
                    "       consume URI AGENT SEED LOG STOPFILE | hold URI AGENT K LOG |\n"
                    "       check URI DIR | lens URI | master URI AGENT | deadletters URI AGENT\n");
    return 2;
}
