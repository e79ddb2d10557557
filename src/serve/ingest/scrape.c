/*
** scrape.c: scraping targets with libcurl's multi interface (see
** scrape.h).
**
** DESIGN
** One thread owns a curl multi handle and one easy handle per target (kept
** between scrapes, so connections are reused). The loop starts the
** transfers that are due, lets curl work until the next due time or an
** event (curl_multi_poll), and finishes each completed transfer: status,
** body limit, then the body is parsed twice -- once only to check it, then
** to deliver -- so a scrape that fails anywhere delivers nothing (as
** Prometheus does for both formats; OpenMetrics requires it). Parsing runs
** on the scraping thread: a multi-megabyte page holds the other transfers
** for the milliseconds it takes (see am-bench's expo figures).
**
** Schedule: a target is scraped when started, then at fixed steps of its
** interval from there; a step missed because a scrape took longer is
** skipped, never run late twice.
**
** Labels, as Prometheus with honor_labels: false. Each sample gets the
** target's instance (host:port of the URL) and job; a scraped label of the
** same name is kept as exported_instance / exported_job (with exported_
** repeated until the name is free). Labels with an empty value are dropped:
** in Prometheus' data model an empty value is no label. The timestamp is
** the sample's own when it has one, else the scrape's start (wall clock).
** The body's format is the response's Content-Type; without one it is
** guessed (OpenMetrics iff it ends in # EOF).
**
** Health: up, scrape_duration_seconds and scrape_samples_scraped per
** {instance, job} in the collector's registry, delivered to the sink too
** (as Prometheus stores them), and agentmon_scrape_errors_total by reason.
**
** THREADS: the public calls take s->lock for the stats; the registry's
** handles are thread-safe. The sink is called on the scraping thread only.
*/
#define _GNU_SOURCE
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agentmon/timer.h"
#include "agentmon/version.h"
#include "../../util/alloc.h"
#include "../../util/buf.h"
#include "../../util/error.h"
#include "../../util/validate.h"
#include "../../util/curl.h"
#include "scrape.h"
#include "../../util/hash.h"
#include "../store/labels.h"

#define ACCEPT_HEADER                                                                              \
    "Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
#define DEFAULT_MAX_BODY (64u << 20)
#define KEEP_BODY_CAP (1u << 20) /* a body buffer larger than this is freed after use */

enum { UP, DURATION, SAMPLES, ERRORS, DELIVERED, BYTES, N_DEFS };

const am_metric_def am__defs_scrape[] = {
    [UP] = {"scrape", AM_TYPE_GAUGE, "up", NULL,
            "1 if the target's last scrape succeeded (fetched and parsed), else 0.", NULL,
            AM_DEF_LABELS("instance", "job"), NULL, 0, NULL, "prometheus"},
    [DURATION] = {"scrape", AM_TYPE_GAUGE, "scrape_duration_seconds", NULL,
                  "How long the target's last scrape took, fetch and parse.", "seconds",
                  AM_DEF_LABELS("instance", "job"), NULL, 0, NULL, "prometheus"},
    [SAMPLES] = {"scrape", AM_TYPE_GAUGE, "scrape_samples_scraped", NULL,
                 "Samples the target exposed in its last good scrape.", NULL,
                 AM_DEF_LABELS("instance", "job"), NULL, 0, NULL, "prometheus"},
    [ERRORS] = {"scrape", AM_TYPE_COUNTER, "agentmon_scrape_errors_total", NULL,
                "Failed scrapes, by reason: connect, timeout, http, limit, parse; and "
                "samples dropped from good scrapes: duplicate (a series' second sample in one "
                "scrape, which Prometheus refuses too).",
                NULL, AM_DEF_LABELS("instance", "job", "reason"), NULL, 0, NULL, "agentmon"},
    [DELIVERED] = {"scrape", AM_TYPE_COUNTER, "agentmon_scrape_samples_total", NULL,
                   "Scraped samples handed to the collector.", NULL, AM_DEF_LABELS("job"), NULL, 0,
                   NULL, "agentmon"},
    [BYTES] = {"scrape", AM_TYPE_COUNTER, "agentmon_scrape_bytes_total", NULL,
               "Exposition text read from targets, after decompression.", "bytes",
               AM_DEF_LABELS("job"), NULL, 0, NULL, "agentmon"},
};
const am_def_table am__table_scrape = {am__defs_scrape, N_DEFS};

typedef struct target {
    char *url, *job, *instance, *source;
    unsigned interval_ms, timeout_ms;
    CURL *easy;
    struct curl_slist *headers;
    char errbuf[CURL_ERROR_SIZE];
    am_buf body;
    bool is_too_big;
    bool in_flight;
    double due;          /* monotonic seconds */
    double started_mono; /* of the scrape in flight */
    double started_wall;
    am_gauge *up, *duration, *samples;
    am_counter *delivered, *bytes;
    am_scrape_stats stats; /* under the scraper's lock */
} target;

struct am_scraper {
    am_scrape_opts o;
    target **t;
    size_t n, cap;
    CURLM *multi;
    pthread_t thread;
    bool is_started;
    atomic_bool stop;
    pthread_mutex_t lock;
    void *fam[N_DEFS]; /* the registry's families, or NULL */
    am_buf labels;     /* canonical label text of the sample being delivered */
    am_buf key;        /* name NUL labels: the repeated-series check's key */
};

/* ------------------------------------------------------------------ helpers */

/* Monotonic seconds, for durations and the schedule. */
static double mono_s(void)
{
    return (double)am_now_ns() / 1e9;
}

static char *join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = am__malloc(la + lb + 1);
    if (s) {
        memcpy(s, a, la);
        memcpy(s + la, b, lb + 1);
    }
    return s;
}

/* ------------------------------------------------------------------ targets */

static void target_free(target *t)
{
    if (!t)
        return;
    if (t->easy)
        curl_easy_cleanup(t->easy);
    curl_slist_free_all(t->headers);
    am_buf_free(&t->body);
    am__free(t->url);
    am__free(t->job);
    am__free(t->instance);
    am__free(t->source);
    am__free(t);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    target *t = ud;
    size_t total = size * n;
    am_buf_append(&t->body, p, total);
    if (am_buf_err(&t->body)) {
        t->is_too_big = am_buf_err(&t->body) == AM_ELIMIT;
        return 0; /* curl fails the transfer with CURLE_WRITE_ERROR */
    }
    return total;
}

/* host:port of url, the way Prometheus names an instance; with_path:
   host:port/path, for targets that share host:port in one job. */
static am_err instance_of(const char *url, bool with_path, char **out)
{
    CURLU *u = curl_url();
    if (!u)
        return am__err(AM_ENOMEM, "out of memory parsing a target url");
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
    am_err rc = AM_OK;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
        rc = am__err(AM_EINVAL, "scrape target \"%.200s\" is not a URL", url);
    } else if (strcasecmp(scheme, "http") && strcasecmp(scheme, "https")) {
        rc = am__err(AM_EINVAL, "scrape target \"%.200s\": scheme must be http or https", url);
    } else if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
               curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
               curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK) {
        rc = am__err(AM_EINVAL, "scrape target \"%.200s\" has no host", url);
    } else {
        size_t n = strlen(host) + strlen(port) + strlen(path) + 2;
        *out = am__malloc(n);
        if (!*out)
            rc = am__err(AM_ENOMEM, "out of memory for a scrape target");
        else
            snprintf(*out, n, "%s:%s%s", host, port, with_path ? path : "");
    }
    curl_free(path);
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return rc;
}

static CURLcode configure(target *t)
{
    CURL *h = t->easy;
    CURLcode cc = curl_easy_setopt(h, CURLOPT_URL, t->url);
    if (!cc)
        cc = curl_easy_setopt(h, CURLOPT_ERRORBUFFER, t->errbuf);
    if (!cc)
        cc = curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (!cc)
        cc = curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)t->timeout_ms);
    if (!cc)
        cc = curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)t->timeout_ms);
    if (!cc)
        cc = curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (!cc)
        cc = curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    if (!cc)
        cc = curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L); /* follow_redirects: true */
    if (!cc)
        cc = curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
    if (!cc)
        cc = curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "gzip");
    if (!cc)
        cc = curl_easy_setopt(h, CURLOPT_USERAGENT, "agentmon/" AM_VERSION_STRING);
    if (!cc)
        cc = curl_easy_setopt(h, CURLOPT_HTTPHEADER, t->headers);
    if (!cc)
        cc = curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    if (!cc)
        cc = curl_easy_setopt(h, CURLOPT_WRITEDATA, (void *)t);
    if (!cc)
        cc = curl_easy_setopt(h, CURLOPT_PRIVATE, (void *)t);
    return cc;
}

static am_err make_headers(target *t, const char *token)
{
    char tmp[64];
    snprintf(tmp, sizeof tmp, "X-Prometheus-Scrape-Timeout-Seconds: %g", t->timeout_ms / 1000.0);
    struct curl_slist *l = curl_slist_append(NULL, ACCEPT_HEADER);
    struct curl_slist *l2 = l ? curl_slist_append(l, tmp) : NULL;
    if (!l2) {
        curl_slist_free_all(l);
        return am__err(AM_ENOMEM, "out of memory for a scrape target");
    }
    l = l2;
    if (token) {
        char *auth = join("Authorization: Bearer ", token);
        l2 = auth ? curl_slist_append(l, auth) : NULL;
        am__free(auth);
        if (!l2) {
            curl_slist_free_all(l);
            return am__err(AM_ENOMEM, "out of memory for a scrape target");
        }
    }
    t->headers = l;
    return AM_OK;
}

static am_err resolve_health(am_scraper *s, target *t)
{
    if (!s->o.registry)
        return AM_OK;
    const char *const il[] = {t->instance, t->job};
    const char *const jl[] = {t->job};
    am_err rc = am_gauge_with(s->fam[UP], il, 2, &t->up);
    if (!rc)
        rc = am_gauge_with(s->fam[DURATION], il, 2, &t->duration);
    if (!rc)
        rc = am_gauge_with(s->fam[SAMPLES], il, 2, &t->samples);
    if (!rc)
        rc = am_counter_with(s->fam[DELIVERED], jl, 1, &t->delivered);
    if (!rc)
        rc = am_counter_with(s->fam[BYTES], jl, 1, &t->bytes);
    return rc;
}

am_err am__scrape_spec(const char *spec, char *buf, size_t cap, am_scrape_target *t)
{
    size_t n = strlen(spec);
    if (n + 1 > cap)
        return am__err(AM_EINVAL, "scrape target \"%.100s...\" is longer than %zu bytes", spec,
                       cap - 1);
    memcpy(buf, spec, n + 1);
    char *scheme = strstr(buf, "://"), *eq = strchr(buf, '=');
    t->url = buf;
    if (eq && (!scheme || eq < scheme)) { /* JOB=URL */
        *eq = '\0';
        if (!*buf)
            return am__err(AM_EINVAL, "scrape target \"%.200s\": the job before '=' is empty",
                           spec);
        t->job = buf;
        t->url = eq + 1;
    }
    return AM_OK;
}

am_err am__scraper_add(am_scraper *s, const am_scrape_target *in)
{
    if (!s || !in || !in->url)
        return am__err(AM_EINVAL, "scrape target or its url is NULL");
    if (s->is_started)
        return am__err(AM_EMISUSE, "scrape targets must be added before the scraper starts");
    const char *job = in->job ? in->job : "scrape";
    am_err rc = am__check_text(job, 256, "job name");
    if (rc)
        return rc;
    if (!*job)
        return am__err(AM_EINVAL, "job name is empty");
    unsigned interval = in->interval_ms ? in->interval_ms : 15000;
    /* as Prometheus: an unset timeout is 10 s, or the interval when shorter */
    unsigned timeout = in->timeout_ms ? in->timeout_ms : interval < 10000 ? interval : 10000;
    if (timeout > interval)
        return am__err(AM_EINVAL, "scrape timeout %u ms is longer than the interval %u ms", timeout,
                       interval);
    if (in->bearer_token && strpbrk(in->bearer_token, "\r\n"))
        return am__err(AM_EINVAL, "bearer token holds a line break");
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->t[i]->url, in->url) && !strcmp(s->t[i]->job, job))
            return am__err(AM_EEXIST, "scrape target %.200s (job %.100s) is there already", in->url,
                           job);
    target **nt = am__grow(s->t, &s->cap, s->n + 1, sizeof *nt, 8);
    if (!nt)
        return am__err(AM_ENOMEM, "out of memory adding a scrape target");
    s->t = nt;
    target *t = am__calloc(1, sizeof *t);
    if (!t)
        return am__err(AM_ENOMEM, "out of memory adding a scrape target");
    t->interval_ms = interval;
    t->timeout_ms = timeout;
    am_buf_init(&t->body, s->o.max_body_bytes + 1);
    rc = instance_of(in->url, false, &t->instance);
    if (!rc) {
        t->url = am__strdup(in->url);
        t->job = am__strdup(job);
        t->source = join("scrape:", in->url);
        if (!t->url || !t->job || !t->source)
            rc = am__err(AM_ENOMEM, "out of memory adding a scrape target");
    }
    if (!rc)
        rc = make_headers(t, in->bearer_token);
    if (!rc && !(t->easy = curl_easy_init()))
        rc = am__err(AM_ENOMEM, "out of memory for a transfer");
    if (!rc) {
        CURLcode cc = configure(t);
        if (cc)
            rc = am__err(cc == CURLE_OUT_OF_MEMORY ? AM_ENOMEM : AM_EINVAL,
                         "scrape target %.200s: %s", in->url, curl_easy_strerror(cc));
    }
    if (rc) {
        target_free(t);
        return rc;
    }
    s->t[s->n++] = t;
    return AM_OK;
}

/* ------------------------------------------------------------------ delivery */

typedef struct deliver_ctx {
    am_scraper *s;
    target *t;
    size_t n;
    bool is_stopped;
    am__map *seen;     /* the series delivered by this scrape; NULL: no check */
    size_t n_repeated; /* samples of a series already delivered: dropped */
} deliver_ctx;

/* "exported_" + name, with "exported_" repeated until unused in the set. */
static const char *exported(char *buf, size_t cap, const char *name, const char *const *names,
                            size_t n)
{
    for (size_t k = 1;; k++) {
        size_t o = 0;
        for (size_t j = 0; j < k && o + 9 < cap; j++, o += 9)
            memcpy(buf + o, "exported_", 9);
        snprintf(buf + o, cap - o, "%s", name);
        bool used = false;
        for (size_t i = 0; i < n && !used; i++)
            used = !strcmp(names[i], buf);
        if (!used || o + 9 + strlen(name) >= cap)
            return buf;
    }
}

/* Whether this scrape delivered the series name + labels already (and
   if not, remember it). Prometheus refuses a series' second sample in one
   scrape ("duplicate sample for timestamp"): so do we. */
static bool repeated(deliver_ctx *c, const char *name, const am_buf *labels)
{
    if (!c->seen)
        return false;
    am_buf *k = &c->s->key;
    k->len = 0;
    k->err = AM_OK;
    am_buf_puts(k, name);
    am_buf_putc(k, '\0');
    am_buf_append(k, labels->p, labels->len);
    if (am_buf_err(k))
        return false;
    uint64_t h = am__hash64(0, k->p, k->len);
    if (am__map_find(c->seen, h, k->p, k->len))
        return true;
    (void)am__map_put(c->seen, h, k->p, k->len, c); /* out of memory: no check, not a failure */
    return false;
}

static int send_sample(deliver_ctx *c, const char *name, const char *type, const char *const *names,
                       const char *const *values, size_t n, double v, double ts)
{
    am_scraper *s = c->s;
    s->labels.len = 0;
    s->labels.err = AM_OK;
    am_buf_puts(&s->labels, "");
    am__labels_canonical(&s->labels, names, values, n);
    if (am_buf_err(&s->labels))
        return 1;
    if (repeated(c, name, &s->labels)) {
        c->n_repeated++;
        return 0;
    }
    am_sample x = {name, type, s->labels.p, v, ts, c->t->source};
    return s->o.sink(s->o.sink_ud, &x);
}

static int on_sample(void *ud, const am_expo_sample *x)
{
    deliver_ctx *c = ud;
    target *t = c->t;
    const char *names[AM_LABELS_MAX], *values[AM_LABELS_MAX];
    size_t n = 0;
    for (size_t i = 0; i < x->n_labels && n < AM_LABELS_MAX - 2; i++) {
        if (!*x->label_values[i])
            continue;
        names[n] = x->label_names[i];
        values[n++] = x->label_values[i];
    }
    char bj[640], bi[640];
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(names[i], "job"))
            names[i] = exported(bj, sizeof bj, "job", names, n);
        else if (!strcmp(names[i], "instance"))
            names[i] = exported(bi, sizeof bi, "instance", names, n);
    }
    names[n] = "instance";
    values[n++] = t->instance;
    names[n] = "job";
    values[n++] = t->job;
    double ts = x->has_timestamp ? x->timestamp : t->started_wall;
    if (send_sample(c, x->name, x->type, names, values, n, x->value, ts)) {
        c->is_stopped = true;
        return 1;
    }
    c->n++;
    return 0;
}

/* ------------------------------------------------------------------ the loop */

static void count_error(am_scraper *s, target *t, const char *reason, size_t n)
{
    if (!s->fam[ERRORS])
        return;
    am_counter *c = NULL;
    if (am_counter_with(s->fam[ERRORS], AM_LABELS(t->instance, t->job, reason), &c) == AM_OK || c)
        am_counter_add(c, (double)n);
}

static void finish(am_scraper *s, target *t, CURLcode cc)
{
    const char *reason = NULL;
    char why[256] = "";
    long status = 0;
    size_t n = 0, delivered = 0, repeats = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    if (cc == CURLE_WRITE_ERROR && t->is_too_big) {
        reason = "limit";
        snprintf(why, sizeof why, "body larger than %zu bytes", s->o.max_body_bytes);
    } else if (cc == CURLE_OPERATION_TIMEDOUT) {
        reason = "timeout";
        snprintf(why, sizeof why, "timed out after %u ms", t->timeout_ms);
    } else if (cc != CURLE_OK) {
        reason = "connect";
        snprintf(why, sizeof why, "%s", t->errbuf[0] ? t->errbuf : curl_easy_strerror(cc));
    } else if (status < 200 || status > 299) {
        reason = "http";
        snprintf(why, sizeof why, "HTTP status %ld", status);
    } else {
        char *ct = NULL;
        curl_easy_getinfo(t->easy, CURLINFO_CONTENT_TYPE, &ct);
        am_expo_format f = ct ? am__expo_format_of(ct) : AM_EXPO_AUTO;
        const char *text = t->body.p ? t->body.p : "";
        am_err rc = am__expo_parse(text, t->body.len, f, &s->o.parse, NULL, NULL, &n);
        if (rc) {
            reason = rc == AM_EPROTO ? "parse" : "limit";
            snprintf(why, sizeof why, "%s", am_errmsg());
        } else if (s->o.sink) {
            am__map seen = {0};
            deliver_ctx c = {s, t, 0, false, &seen, 0};
            rc = am__expo_parse(text, t->body.len, f, &s->o.parse, on_sample, &c, NULL);
            delivered = c.n;
            repeats = c.n_repeated;
            am__map_free(&seen);
            if (rc) { /* only ENOMEM can differ from the check */
                reason = "limit";
                snprintf(why, sizeof why, "%s", am_errmsg());
            }
        }
    }
    double dur = mono_s() - t->started_mono;
    bool up = !reason;
    if (t->up) {
        am_gauge_set(t->up, up);
        am_gauge_set(t->duration, dur);
        am_gauge_set(t->samples, up ? (double)n : 0);
        am_counter_add(t->bytes, (double)t->body.len);
        if (delivered)
            am_counter_add(t->delivered, (double)delivered);
    }
    if (reason)
        count_error(s, t, reason, 1);
    if (repeats)
        count_error(s, t, "duplicate", repeats);
    pthread_mutex_lock(&s->lock);
    t->stats.n_scrapes++;
    t->stats.n_errors += !up;
    t->stats.is_up = up;
    t->stats.last_duration_s = dur;
    if (up)
        t->stats.last_samples = n;
    snprintf(t->stats.last_error, sizeof t->stats.last_error, "%s", why);
    pthread_mutex_unlock(&s->lock);
    if (s->o.sink) {
        deliver_ctx c = {s, t, 0, false, NULL, 0};
        const char *const names[] = {"instance", "job"};
        const char *const values[] = {t->instance, t->job};
        if (!send_sample(&c, "up", "gauge", names, values, 2, up, t->started_wall) &&
            !send_sample(&c, "scrape_duration_seconds", "gauge", names, values, 2, dur,
                         t->started_wall))
            send_sample(&c, "scrape_samples_scraped", "gauge", names, values, 2, up ? (double)n : 0,
                        t->started_wall);
    }
    if (t->body.cap > KEEP_BODY_CAP)
        am_buf_free(&t->body);
    t->body.len = 0;
    t->body.err = AM_OK;
    t->is_too_big = false;
}

static void start_due(am_scraper *s, double now)
{
    for (size_t i = 0; i < s->n; i++) {
        target *t = s->t[i];
        if (t->in_flight || t->due > now)
            continue;
        t->errbuf[0] = '\0';
        t->started_mono = now;
        t->started_wall = am_unix_time();
        if (curl_multi_add_handle(s->multi, t->easy) != CURLM_OK) {
            finish(s, t, CURLE_OUT_OF_MEMORY);
            t->due = now + t->interval_ms / 1000.0;
            continue;
        }
        t->in_flight = true;
    }
}

static void *loop(void *arg)
{
    am_scraper *s = arg;
    double t0 = mono_s();
    for (size_t i = 0; i < s->n; i++)
        s->t[i]->due = t0;
    while (!atomic_load_explicit(&s->stop, memory_order_acquire)) {
        double now = mono_s();
        start_due(s, now);
        int running = 0;
        curl_multi_perform(s->multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(s->multi, &left))) {
            if (m->msg != CURLMSG_DONE)
                continue;
            target *t = NULL;
            CURL *e = m->easy_handle;
            CURLcode cc = m->data.result;
            curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&t);
            curl_multi_remove_handle(s->multi, e);
            t->in_flight = false;
            if (atomic_load_explicit(&s->stop, memory_order_acquire))
                break;
            finish(s, t, cc);
            double step = t->interval_ms / 1000.0, after = mono_s();
            t->due += step;
            if (t->due <= after) /* missed steps are skipped */
                t->due += step * (double)(unsigned long)((after - t->due) / step + 1);
        }
        /* sleep until the next due time, or curl's events */
        now = mono_s();
        double next = now + 1.0;
        for (size_t i = 0; i < s->n; i++)
            if (!s->t[i]->in_flight && s->t[i]->due < next)
                next = s->t[i]->due;
        int wait_ms = next > now ? (int)((next - now) * 1000.0) + 1 : 0;
        if (wait_ms > 0)
            curl_multi_poll(s->multi, NULL, 0, wait_ms, NULL);
    }
    for (size_t i = 0; i < s->n; i++)
        if (s->t[i]->in_flight) {
            curl_multi_remove_handle(s->multi, s->t[i]->easy);
            s->t[i]->in_flight = false;
        }
    return NULL;
}

/* ------------------------------------------------------------------ life */

am_err am__scraper_new(const am_scrape_opts *o, am_scraper **out)
{
    if (!o || !out)
        return am__err(AM_EINVAL, "scraper options or out pointer is NULL");
    *out = NULL;
    am_err crc = am__curl_ready();
    if (crc)
        return crc;
    am_scraper *s = am__calloc(1, sizeof *s);
    if (!s)
        return am__err(AM_ENOMEM, "out of memory creating the scraper");
    s->o = *o;
    if (!s->o.max_body_bytes)
        s->o.max_body_bytes = DEFAULT_MAX_BODY;
    /* room for instance and job in the collector's label sets */
    if (!s->o.parse.max_labels || s->o.parse.max_labels > AM_LABELS_MAX - 2)
        s->o.parse.max_labels = AM_LABELS_MAX - 2;
    am_expo_opts d = AM_EXPO_OPTS_INIT;
    if (!s->o.parse.max_line_bytes)
        s->o.parse.max_line_bytes = d.max_line_bytes;
    if (!s->o.parse.max_label_value_bytes)
        s->o.parse.max_label_value_bytes = d.max_label_value_bytes;
    pthread_mutex_init(&s->lock, NULL);
    am_buf_init(&s->labels, 0);
    am_buf_init(&s->key, 0);
    am_err rc = AM_OK;
    if (o->registry)
        rc = am__defs_register(o->registry, am__defs_scrape, N_DEFS, s->fam);
    if (!rc && !(s->multi = curl_multi_init()))
        rc = am__err(AM_ENOMEM, "out of memory for the scraper's transfers");
    if (rc) {
        am__scraper_free(s);
        return rc;
    }
    *out = s;
    return AM_OK;
}

am_err am__scraper_start(am_scraper *s)
{
    if (!s)
        return am__err(AM_EINVAL, "scraper is NULL");
    if (s->is_started)
        return am__err(AM_EMISUSE, "the scraper is started already");
    /* every target has health series of its own: targets of one job on one
       host:port are told apart by their path in the instance label */
    for (size_t i = 0; i < s->n; i++) {
        bool is_shared = false;
        for (size_t j = 0; j < s->n && !is_shared; j++) {
            char *other = NULL;
            is_shared = j != i && !strcmp(s->t[i]->job, s->t[j]->job) &&
                        !instance_of(s->t[j]->url, false, &other) &&
                        !strcmp(s->t[i]->instance, other);
            am__free(other);
        }
        if (is_shared) {
            char *inst;
            am_err rc = instance_of(s->t[i]->url, true, &inst);
            if (rc)
                return rc;
            am__free(s->t[i]->instance);
            s->t[i]->instance = inst;
        }
    }
    for (size_t i = 0; i < s->n; i++) {
        am_err rc = resolve_health(s, s->t[i]);
        if (rc)
            return rc;
    }
    int e = pthread_create(&s->thread, NULL, loop, s);
    if (e)
        return am__err(AM_EIO, "cannot start the scraping thread: %s", strerror(e));
    s->is_started = true;
    return AM_OK;
}

void am__scraper_stop(am_scraper *s)
{
    if (!s || !s->is_started)
        return;
    if (!atomic_exchange(&s->stop, true)) {
        curl_multi_wakeup(s->multi);
        pthread_join(s->thread, NULL);
    }
}

void am__scraper_free(am_scraper *s)
{
    if (!s)
        return;
    am__scraper_stop(s);
    for (size_t i = 0; i < s->n; i++)
        target_free(s->t[i]);
    am__free(s->t);
    if (s->multi)
        curl_multi_cleanup(s->multi);
    am_buf_free(&s->labels);
    am_buf_free(&s->key);
    pthread_mutex_destroy(&s->lock);
    am__free(s);
}

size_t am__scraper_n_targets(const am_scraper *s)
{
    return s ? s->n : 0;
}

am_err am__scraper_stats(am_scraper *s, size_t i, am_scrape_stats *out)
{
    if (!s || !out || i >= s->n)
        return am__err(AM_EINVAL, "no scrape target %zu", i);
    pthread_mutex_lock(&s->lock);
    *out = s->t[i]->stats;
    pthread_mutex_unlock(&s->lock);
    return AM_OK;
}
