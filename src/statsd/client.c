/*
** client.c: the StatsD / DogStatsD client of libagentmon (see statsd.h).
**
** DESIGN
** The cost that matters is the agent's: one call must stay well under a
** microsecond. So a call validates its arguments outside any lock, then
** takes the client's mutex only to write the line straight into the
** pending datagram (numbers through am__fmt_double, no printf) and, once
** in every few dozen calls, to send the full datagram with one
** non-blocking send(2). There is no per-call allocation and no system call
** but that send; the age check for the time-based flush reads the coarse
** monotonic clock (vDSO, a few ns).
**
** One buffer under one mutex rather than per-thread buffers: per-thread
** buffers would save an uncontended lock (~20 ns) but make flush, close and
** the age-based flush reach into every thread's buffer; agents send from a
** handful of threads, where the mutex is cheap.
**
** The buffer holds a whole maximum-size datagram (65000 bytes), so a line
** longer than max_packet_bytes is still sent, alone in its own datagram.
**
** SOCKETS
** UDP sockets are connect(2)ed at open (no traffic; it fixes the
** destination and lets ICMP port-unreachable come back as ECONNREFUSED on
** a later send, which is counted as a drop). Unix datagram sockets are
** not connected: each datagram is sent with sendto(2), so a collector that
** starts after the agent, or restarts, is reached without reopening.
** Every send is MSG_DONTWAIT | MSG_NOSIGNAL: never a blocked agent, never
** SIGPIPE.
**
** THREADS
** Thread-safe. The flush thread exists only with AM_STATSD_FLUSH_THREAD
** (the library owns no thread it was not asked for); without it an idle
** client's last lines wait for the next call, am_statsd_flush() or
** am_statsd_close().
*/
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agentmon/statsd.h"
#include "../util/alloc.h"
#include "../util/atomic.h"
#include "../util/error.h"
#include "../util/fmt.h"

#define MAX_DATAGRAM 65000

struct am_statsd {
    pthread_mutex_t mu;
    int fd;
    bool is_unix;
    struct sockaddr_un un;
    socklen_t un_len;
    char *buf; /* MAX_DATAGRAM bytes */
    size_t len;
    size_t max_packet;
    uint64_t n_buf_lines;
    uint64_t first_ns; /* when the pending datagram got its first line */
    uint64_t interval_ns;
    char *prefix;
    size_t prefix_len;
    char *const_tags; /* "a:1,b" */
    size_t const_tags_len, n_const_tags;
    am_statsd_stats st;
    _Atomic uint64_t n_sampled_out;
    /* the flush thread */
    bool has_thread, is_stopping;
    pthread_t thread;
    pthread_cond_t cv;
};

static uint64_t coarse_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A per-thread splitmix64 stream for sampling. */
static double uniform01(void)
{
    static _Thread_local uint64_t state;
    if (AM_UNLIKELY(!state)) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        state = ((uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull) ^ (uint64_t)(uintptr_t)&state;
        state |= 1;
    }
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

/* ------------------------------------------------------------ sending */

static am_err send_locked(am_statsd *c)
{
    if (!c->len)
        return AM_OK;
    ssize_t r;
    if (c->is_unix)
        r = sendto(c->fd, c->buf, c->len, MSG_DONTWAIT | MSG_NOSIGNAL,
                   (const struct sockaddr *)&c->un, c->un_len);
    else
        r = send(c->fd, c->buf, c->len, MSG_DONTWAIT | MSG_NOSIGNAL);
    int e = errno;
    am_err rc = AM_OK;
    if (r < 0 || (size_t)r != c->len) {
        c->st.n_dropped_packets++;
        c->st.n_dropped_lines += c->n_buf_lines;
        rc = am__err(AM_EIO, "statsd: datagram of %zu bytes dropped: %s", c->len,
                     r < 0 ? strerror(e) : "short send");
    } else {
        c->st.n_packets++;
    }
    c->len = 0;
    c->n_buf_lines = 0;
    return rc;
}

am_err am_statsd_flush(am_statsd *c)
{
    if (!c)
        return am__err(AM_EINVAL, "statsd: client is NULL");
    pthread_mutex_lock(&c->mu);
    am_err rc = send_locked(c);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static void *flusher(void *arg)
{
    am_statsd *c = arg;
    pthread_mutex_lock(&c->mu);
    while (!c->is_stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t at = (uint64_t)ts.tv_nsec + c->interval_ns;
        ts.tv_sec += (time_t)(at / 1000000000u);
        ts.tv_nsec = (long)(at % 1000000000u);
        pthread_cond_timedwait(&c->cv, &c->mu, &ts);
        if (c->len && coarse_ns() - c->first_ns >= c->interval_ns)
            (void)send_locked(c); /* counted when dropped */
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* ------------------------------------------------------------ lines */

/* Whether s holds none of the bytes in bad (and is 1..max bytes). */
static bool clean(const char *s, size_t n, const char *bad)
{
    for (size_t i = 0; i < n; i++)
        if (strchr(bad, s[i]) && s[i])
            return false;
    return n > 0;
}

typedef struct line {
    const char *name;
    size_t name_len;
    const char *sign; /* "" or "+" */
    char value[AM_FMT_MAX];
    size_t value_len;
    const char *set_value; /* sets: instead of value */
    const char *type;
    double rate;
    char rate_text[AM_FMT_MAX];
    size_t rate_len;
    const char *const *tags;
    size_t n_tags, tags_len;
    bool zero_first; /* negative absolute gauge: "name:0|g" first */
} line;

static size_t one_len(const am_statsd *c, const line *l, size_t value_len)
{
    size_t n = c->prefix_len + l->name_len + 1 + value_len + 1 + strlen(l->type);
    if (l->rate < 1)
        n += 2 + l->rate_len;
    if (c->n_const_tags + l->n_tags)
        n += 2 + c->const_tags_len + l->tags_len + (c->n_const_tags && l->n_tags);
    return n;
}

static char *put(char *w, const void *s, size_t n)
{
    if (n) /* s may be NULL when empty (no prefix) */
        memcpy(w, s, n);
    return w + n;
}

static char *write_one(const am_statsd *c, const line *l, char *w, const char *value, size_t vlen)
{
    w = put(w, c->prefix, c->prefix_len);
    w = put(w, l->name, l->name_len);
    *w++ = ':';
    w = put(w, value, vlen);
    *w++ = '|';
    w = put(w, l->type, strlen(l->type));
    if (l->rate < 1) {
        w = put(w, "|@", 2);
        w = put(w, l->rate_text, l->rate_len);
    }
    if (c->n_const_tags + l->n_tags) {
        w = put(w, "|#", 2);
        w = put(w, c->const_tags, c->const_tags_len);
        for (size_t i = 0; i < l->n_tags; i++) {
            if (i || c->n_const_tags)
                *w++ = ',';
            w = put(w, l->tags[i], strlen(l->tags[i]));
        }
    }
    return w;
}

static am_err record(am_statsd *c, line *l)
{
    if (!c)
        return am__err(AM_EINVAL, "statsd: client is NULL");
    if (!l->name)
        return am__err(AM_EINVAL, "statsd: metric name is NULL");
    l->name_len = strlen(l->name);
    if (!clean(l->name, l->name_len, ":|\n\r"))
        return am__err(AM_EINVAL,
                       "statsd: metric name \"%s\" is empty or holds ':', '|' or a "
                       "newline",
                       l->name);
    if (c->prefix_len + l->name_len > AM_STATSD_MAX_NAME)
        return am__err(AM_EINVAL, "statsd: metric name longer than %d bytes", AM_STATSD_MAX_NAME);
    if (!(l->rate > 0 && l->rate <= 1))
        return am__err(AM_EINVAL, "statsd: sample rate %g is not in (0, 1]", l->rate);
    if (l->n_tags && !l->tags)
        return am__err(AM_EINVAL, "statsd: tags is NULL but n_tags is %zu", l->n_tags);
    if (c->n_const_tags + l->n_tags > AM_STATSD_MAX_TAGS)
        return am__err(AM_EINVAL, "statsd: more than %d tags", AM_STATSD_MAX_TAGS);
    l->tags_len = 0;
    for (size_t i = 0; i < l->n_tags; i++) {
        size_t n = l->tags[i] ? strlen(l->tags[i]) : 0;
        if (!clean(l->tags[i], n, "|,\n\r") || l->tags[i][0] == ':')
            return am__err(AM_EINVAL,
                           "statsd: tag %zu is NULL, empty, has no key or holds '|', "
                           "',' or a newline",
                           i);
        l->tags_len += n + (i > 0);
    }
    if (l->rate < 1) {
        if (uniform01() >= l->rate) {
            atomic_fetch_add_explicit(&c->n_sampled_out, 1, am_relaxed);
            return AM_OK;
        }
        l->rate_len = am__fmt_double(l->rate_text, l->rate);
    }
    const char *value = l->set_value ? l->set_value : l->value;
    size_t vlen = l->set_value ? strlen(l->set_value) : l->value_len;
    size_t sign = strlen(l->sign);
    size_t n = one_len(c, l, vlen + sign);
    size_t total = n + (l->zero_first ? one_len(c, l, 1) + 1 : 0);
    if (total > MAX_DATAGRAM)
        return am__err(AM_ELIMIT, "statsd: line of %zu bytes is longer than %d", total,
                       MAX_DATAGRAM);

    pthread_mutex_lock(&c->mu);
    if (c->len && c->len + 1 + total > c->max_packet)
        (void)send_locked(c); /* a drop is counted */
    char *w = c->buf + c->len;
    if (c->len)
        *w++ = '\n';
    if (l->zero_first) {
        w = write_one(c, l, w, "0", 1);
        *w++ = '\n';
    }
    if (sign) {
        /* the sign goes before the value: write it as part of the value */
        char signed_value[AM_FMT_MAX + 1];
        signed_value[0] = '+';
        memcpy(signed_value + 1, value, vlen);
        w = write_one(c, l, w, signed_value, vlen + 1);
    } else {
        w = write_one(c, l, w, value, vlen);
    }
    c->len = (size_t)(w - c->buf);
    uint64_t lines = l->zero_first ? 2 : 1;
    c->st.n_lines += lines;
    c->n_buf_lines += lines;
    if (c->n_buf_lines == lines)
        c->first_ns = coarse_ns();
    if (c->len >= c->max_packet || coarse_ns() - c->first_ns >= c->interval_ns)
        (void)send_locked(c);
    pthread_mutex_unlock(&c->mu);
    return AM_OK;
}

static am_err numeric(am_statsd *c, const char *name, double v, double rate,
                      const char *const *tags, size_t n_tags, const char *type, const char *what)
{
    if (!isfinite(v))
        return am__err(AM_EINVAL, "statsd: %s value is not finite", what);
    line l = {.name = name, .sign = "", .type = type, .rate = rate, .tags = tags, .n_tags = n_tags};
    l.value_len = am__fmt_double(l.value, v);
    return record(c, &l);
}

am_err am_statsd_count(am_statsd *c, const char *name, double value, double sample_rate,
                       const char *const *tags, size_t n_tags)
{
    if (value < 0)
        return am__err(AM_EINVAL, "statsd: counter increment %g is negative", value);
    return numeric(c, name, value, sample_rate, tags, n_tags, "c", "counter");
}

am_err am_statsd_gauge(am_statsd *c, const char *name, double value, double sample_rate,
                       const char *const *tags, size_t n_tags)
{
    if (!isfinite(value))
        return am__err(AM_EINVAL, "statsd: gauge value is not finite");
    line l = {.name = name,
              .sign = "",
              .type = "g",
              .rate = sample_rate,
              .tags = tags,
              .n_tags = n_tags,
              .zero_first = value < 0};
    /* a leading '-' means "subtract": a negative value is reached from 0,
       and -0 must be written "0" */
    l.value_len = am__fmt_double(l.value, value == 0 ? 0 : value);
    return record(c, &l);
}

am_err am_statsd_gauge_add(am_statsd *c, const char *name, double delta, double sample_rate,
                           const char *const *tags, size_t n_tags)
{
    if (!isfinite(delta))
        return am__err(AM_EINVAL, "statsd: gauge delta is not finite");
    line l = {.name = name,
              .sign = delta >= 0 ? "+" : "",
              .type = "g",
              .rate = sample_rate,
              .tags = tags,
              .n_tags = n_tags};
    l.value_len = am__fmt_double(l.value, delta == 0 ? 0 : delta);
    return record(c, &l);
}

am_err am_statsd_timing(am_statsd *c, const char *name, double ms, double sample_rate,
                        const char *const *tags, size_t n_tags)
{
    return numeric(c, name, ms, sample_rate, tags, n_tags, "ms", "timing");
}

am_err am_statsd_histogram(am_statsd *c, const char *name, double value, double sample_rate,
                           const char *const *tags, size_t n_tags)
{
    return numeric(c, name, value, sample_rate, tags, n_tags, "h", "histogram");
}

am_err am_statsd_distribution(am_statsd *c, const char *name, double value, double sample_rate,
                              const char *const *tags, size_t n_tags)
{
    return numeric(c, name, value, sample_rate, tags, n_tags, "d", "distribution");
}

am_err am_statsd_set(am_statsd *c, const char *name, const char *value, double sample_rate,
                     const char *const *tags, size_t n_tags)
{
    if (!value || !clean(value, strlen(value), ":|\n\r"))
        return am__err(AM_EINVAL, "statsd: set member is NULL, empty or holds ':', '|' or a "
                                  "newline");
    line l = {.name = name,
              .sign = "",
              .set_value = value,
              .type = "s",
              .rate = sample_rate,
              .tags = tags,
              .n_tags = n_tags};
    return record(c, &l);
}

void am_statsd_get_stats(am_statsd *c, am_statsd_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    *out = c->st;
    pthread_mutex_unlock(&c->mu);
    out->n_sampled_out = atomic_load_explicit(&c->n_sampled_out, am_relaxed);
}

/* ------------------------------------------------------------ opening */

static am_err open_unix(am_statsd *c, const char *path)
{
    size_t n = strlen(path);
    if (!n || n >= sizeof c->un.sun_path)
        return am__err(AM_EINVAL, "statsd: unix socket path must be 1..%zu bytes",
                       sizeof c->un.sun_path - 1);
    c->is_unix = true;
    c->un.sun_family = AF_UNIX;
    memcpy(c->un.sun_path, path, n);
    c->un_len = (socklen_t)sizeof c->un;
    c->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (c->fd < 0)
        return am__err(AM_EIO, "statsd: socket: %s", strerror(errno));
    return AM_OK;
}

static am_err open_udp(am_statsd *c, const char *target)
{
    char host[256];
    const char *port = AM_STR(AM_STATSD_DEFAULT_PORT);
    const char *colon;
    size_t hl;
    if (target[0] == '[') {
        const char *rb = strchr(target, ']');
        if (!rb)
            return am__err(AM_EINVAL, "statsd: target \"%s\": missing ']'", target);
        hl = (size_t)(rb - target - 1);
        memmove(host, target + 1, hl < sizeof host ? hl : 0);
        if (rb[1] == ':')
            port = rb + 2;
        else if (rb[1])
            return am__err(AM_EINVAL, "statsd: target \"%s\": junk after ']'", target);
    } else {
        colon = strchr(target, ':');
        if (colon && strchr(colon + 1, ':'))
            return am__err(AM_EINVAL, "statsd: target \"%s\": write an IPv6 address as [addr]:port",
                           target);
        hl = colon ? (size_t)(colon - target) : strlen(target);
        memmove(host, target, hl < sizeof host ? hl : 0);
        if (colon)
            port = colon + 1;
    }
    if (!hl || hl >= sizeof host)
        return am__err(AM_EINVAL, "statsd: target \"%s\": bad host", target);
    host[hl] = '\0';
    size_t pl = strlen(port);
    long pv = 0;
    for (size_t i = 0; i < pl && pv <= 65535; i++)
        pv = port[i] >= '0' && port[i] <= '9' ? pv * 10 + (port[i] - '0') : 65536;
    if (!pl || pl > 5 || pv < 1 || pv > 65535)
        return am__err(AM_EINVAL, "statsd: target \"%s\": port must be 1..65535", target);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICSERV;
    int g = getaddrinfo(host, port, &hints, &res);
    if (g)
        return am__err(AM_EIO, "statsd: cannot resolve \"%s\": %s", host, gai_strerror(g));
    int err = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
            err = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            c->fd = fd;
            freeaddrinfo(res);
            return AM_OK;
        }
        err = errno;
        close(fd);
    }
    freeaddrinfo(res);
    return am__err(AM_EIO, "statsd: cannot open a UDP socket to \"%s\": %s", target, strerror(err));
}

static am_err set_options(am_statsd *c, const am_statsd_opts *o)
{
    c->max_packet = o->max_packet_bytes ? o->max_packet_bytes : AM_STATSD_DEFAULT_PACKET;
    if (c->max_packet < 64 || c->max_packet > MAX_DATAGRAM)
        return am__err(AM_EINVAL, "statsd: max_packet_bytes %zu is not in 64..%d", c->max_packet,
                       MAX_DATAGRAM);
    unsigned ms = o->flush_interval_ms ? o->flush_interval_ms : AM_STATSD_DEFAULT_FLUSH_MS;
    if (ms > 60000)
        return am__err(AM_EINVAL, "statsd: flush_interval_ms %u is over 60000", ms);
    c->interval_ns = (uint64_t)ms * 1000000u;
    if (o->flags & ~AM_STATSD_FLUSH_THREAD)
        return am__err(AM_EINVAL, "statsd: unknown flags 0x%x", o->flags);
    if (o->prefix) {
        c->prefix_len = strlen(o->prefix);
        if (c->prefix_len && !clean(o->prefix, c->prefix_len, ":|\n\r"))
            return am__err(AM_EINVAL, "statsd: prefix holds ':', '|' or a newline");
        if (c->prefix_len >= AM_STATSD_MAX_NAME)
            return am__err(AM_EINVAL, "statsd: prefix longer than %d bytes",
                           AM_STATSD_MAX_NAME - 1);
        if (!(c->prefix = am__strdup(o->prefix)))
            return am__err(AM_ENOMEM, "statsd: out of memory");
    }
    if (o->n_tags > AM_STATSD_MAX_TAGS || (o->n_tags && !o->tags))
        return am__err(AM_EINVAL, "statsd: %zu constant tags (at most %d, and not NULL)", o->n_tags,
                       AM_STATSD_MAX_TAGS);
    size_t total = 0;
    for (size_t i = 0; i < o->n_tags; i++) {
        size_t n = o->tags[i] ? strlen(o->tags[i]) : 0;
        if (!clean(o->tags[i], n, "|,\n\r") || o->tags[i][0] == ':')
            return am__err(AM_EINVAL,
                           "statsd: constant tag %zu is NULL, empty, has no key or "
                           "holds '|', ',' or a newline",
                           i);
        total += n + 1;
    }
    if (total > 4096)
        return am__err(AM_EINVAL, "statsd: constant tags longer than 4096 bytes");
    if (o->n_tags) {
        if (!(c->const_tags = am__malloc(total)))
            return am__err(AM_ENOMEM, "statsd: out of memory");
        char *w = c->const_tags;
        for (size_t i = 0; i < o->n_tags; i++) {
            if (i)
                *w++ = ',';
            w = put(w, o->tags[i], strlen(o->tags[i]));
        }
        c->const_tags_len = (size_t)(w - c->const_tags);
        c->n_const_tags = o->n_tags;
    }
    return AM_OK;
}

static void destroy(am_statsd *c)
{
    if (c->fd >= 0)
        close(c->fd);
    am__free(c->buf);
    am__free(c->prefix);
    am__free(c->const_tags);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    am__free(c);
}

am_err am_statsd_open(const char *target, const am_statsd_opts *o, am_statsd **out)
{
    if (!out)
        return am__err(AM_EINVAL, "statsd: out pointer is NULL");
    am_statsd_opts defaults = AM_STATSD_OPTS_INIT;
    if (!o)
        o = &defaults;
    if (!target)
        target = AM_STATSD_DEFAULT_TARGET;
    am_statsd *c = am__calloc(1, sizeof *c);
    if (!c)
        return am__err(AM_ENOMEM, "statsd: out of memory");
    c->fd = -1;
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    am_err rc = set_options(c, o);
    if (!rc && !(c->buf = am__malloc(MAX_DATAGRAM)))
        rc = am__err(AM_ENOMEM, "statsd: out of memory");
    if (!rc) {
        if (!strncmp(target, "unix:", 5))
            rc = open_unix(c, target + 5);
        else if (target[0] == '/')
            rc = open_unix(c, target);
        else
            rc = open_udp(c, target);
    }
    if (!rc && (o->flags & AM_STATSD_FLUSH_THREAD)) {
        int e = pthread_create(&c->thread, NULL, flusher, c);
        if (e)
            rc = am__err(AM_ENOMEM, "statsd: cannot start the flush thread: %s", strerror(e));
        else
            c->has_thread = true;
    }
    if (rc) {
        destroy(c);
        return rc;
    }
    *out = c;
    return AM_OK;
}

void am_statsd_close(am_statsd *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->is_stopping = true;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    if (c->has_thread)
        pthread_join(c->thread, NULL);
    pthread_mutex_lock(&c->mu);
    (void)send_locked(c);
    pthread_mutex_unlock(&c->mu);
    destroy(c);
}
