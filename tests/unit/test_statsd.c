/*
** test_statsd.c: the StatsD client and listener over real sockets --
** client -> UDP and unix datagram sockets -> listener -> registry; the
** exact lines the client writes; datagrams split at max_packet_bytes;
** the time-based flush thread; drops counted when no server listens;
** the invalid-line counter and its once-a-second log; refused arguments
** and options on both sides.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <sys/un.h>
#include <unistd.h>

#include "testutil.h"
#include "serve/ingest/statsd.h"

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A plain UDP socket on 127.0.0.1 with a free port, to see datagrams. */
static int raw_socket(int *port)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t sl = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    *port = ntohs(sa.sin_port);
    return fd;
}

/* The next datagram into buf (NUL-terminated), or -1 after timeout_ms. */
static ssize_t raw_recv(int fd, char *buf, size_t cap, int timeout_ms)
{
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0)
        return -1;
    ssize_t n = recv(fd, buf, cap - 1, 0);
    if (n >= 0)
        buf[n] = '\0';
    return n;
}

static void raw_send(int port, const char *s, size_t n)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(sendto(fd, s, n, 0, (struct sockaddr *)&sa, sizeof sa), (ssize_t)n);
    close(fd);
}

static double ingest_value(am_registry *r, const char *name)
{
    am_counter *root, *c;
    if (am_counter_find(r, name, &root))
        return -1;
    AM_ASSERT_OK(am_counter_with(root, AM_LABELS("statsd"), &c));
    return am_counter_value(c);
}

/* Wait (up to 5 s) until the listener has counted want lines. */
static void wait_lines(am_registry *r, double want)
{
    for (int i = 0; i < 500 && ingest_value(r, "agentmon_ingest_lines_total") < want; i++)
        sleep_ms(10);
    AM_ASSERT_DBL_EQ(ingest_value(r, "agentmon_ingest_lines_total"), want);
}

/* Log lines the listener writes (on its thread), kept in memory. */
typedef struct logbuf {
    pthread_mutex_t mu;
    char text[8192];
    size_t len;
    int n;
} logbuf;

static int log_write(void *ud, const char *line, size_t len)
{
    logbuf *b = ud;
    pthread_mutex_lock(&b->mu);
    if (b->len + len < sizeof b->text) {
        memcpy(b->text + b->len, line, len);
        b->len += len;
        b->text[b->len] = '\0';
    }
    b->n++;
    pthread_mutex_unlock(&b->mu);
    return 0;
}

/* The number of lines so far, and a copy of their text into out. */
static int log_read(logbuf *b, char *out, size_t cap)
{
    pthread_mutex_lock(&b->mu);
    snprintf(out, cap, "%s", b->text);
    int n = b->n;
    pthread_mutex_unlock(&b->mu);
    return n;
}

typedef struct server {
    am_registry *r;
    am_statsd_agg *agg;
    am_logger *lg;
    am_ingest_statsd *s;
    logbuf log;
    char path[108];
} server;

static void server_start(server *sv, bool udp, bool unix_sock, size_t max_datagram)
{
    memset(sv, 0, sizeof *sv);
    pthread_mutex_init(&sv->log.mu, NULL);
    AM_ASSERT_OK(am_registry_new(&sv->r));
    AM_ASSERT_OK(am__statsd_agg_new(sv->r, NULL, &sv->agg));
    am_log_opts lo = AM_LOG_OPTS_INIT;
    lo.write_fn = log_write;
    lo.userdata = &sv->log;
    lo.level = AM_LOG_LEVEL_INFO;
    AM_ASSERT_OK(am_logger_new(&lo, &sv->lg));
    am_ingest_statsd_opts o = AM_INGEST_STATSD_OPTS_INIT;
    o.has_udp = udp;
    o.port = 0;
    o.registry = sv->r;
    o.agg = sv->agg;
    o.logger = sv->lg;
    o.max_datagram = max_datagram;
    if (unix_sock) {
        snprintf(sv->path, sizeof sv->path, "/tmp/am-test-statsd-%d.sock", (int)getpid());
        o.unix_path = sv->path;
    }
    AM_ASSERT_OK(am__ingest_statsd_start(&o, &sv->s));
    if (udp)
        assert_true(am__ingest_statsd_port(sv->s) > 0);
    else
        AM_ASSERT_EQ(am__ingest_statsd_port(sv->s), 0);
}

static void server_stop(server *sv)
{
    am__ingest_statsd_stop(sv->s);
    if (sv->path[0])
        assert_int_equal(access(sv->path, F_OK), -1); /* the socket file is gone */
    am__statsd_agg_free(sv->agg);
    am_logger_free(sv->lg);
    am_registry_free(sv->r);
    pthread_mutex_destroy(&sv->log.mu);
}

static void send_mix(am_statsd *c, int n)
{
    for (int i = 0; i < n; i++) {
        const char *agent = i % 2 ? "agent:planner" : "agent:coder";
        AM_ASSERT_OK(am_statsd_count(c, "agent.tasks", 1, 1, AM_LABELS(agent, "env:test")));
        AM_ASSERT_OK(am_statsd_timing(c, "llm.latency", 250, 1, AM_LABELS("provider:a")));
        AM_ASSERT_OK(am_statsd_gauge_add(c, "queue.depth", 1, 1, NULL, 0));
        AM_ASSERT_OK(am_statsd_set(c, "users", i % 3 ? "alice" : "bob", 1, NULL, 0));
    }
    AM_ASSERT_OK(am_statsd_distribution(c, "tokens", 300, 1, NULL, 0));
    AM_ASSERT_OK(am_statsd_histogram(c, "tokens", 3000, 1, NULL, 0));
    AM_ASSERT_OK(am_statsd_gauge(c, "temp", -7.5, 1, NULL, 0));
}

static void check_mix(am_registry *r, int n)
{
    char *text = am_test_encode(r, AM_FORMAT_PROMETHEUS);
    char want[128];
    snprintf(want, sizeof want, "agent_tasks_total{agent=\"planner\",env=\"test\"} %d\n", n / 2);
    AM_ASSERT_CONTAINS(text, want);
    snprintf(want, sizeof want, "llm_latency_seconds_count{provider=\"a\"} %d\n", n);
    AM_ASSERT_CONTAINS(text, want);
    snprintf(want, sizeof want, "\nqueue_depth %d\n", n);
    AM_ASSERT_CONTAINS(text, want);
    AM_ASSERT_CONTAINS(text, "\nusers 2\n");
    AM_ASSERT_CONTAINS(text, "tokens_count 2\n");
    AM_ASSERT_CONTAINS(text, "\ntemp -7.5\n");
    AM_ASSERT_CONTAINS(text, "agentmon_ingest_invalid_total{protocol=\"statsd\"} 0\n");
    am_free(text);
}

/* Flushes in a loop, as the store's flusher would, until told to stop. */
typedef struct flusher_arg {
    am_statsd_agg *agg;
    _Atomic int stop;
    atomic_int n_flushes;
} flusher_arg;

static int count_sample(void *ud, const am_sample *s)
{
    (void)ud;
    return s->name[0] == '\0'; /* never: names are never empty */
}

static void *flush_loop(void *p)
{
    flusher_arg *f = p;
    while (!atomic_load(&f->stop)) {
        if (am__statsd_agg_flush(f->agg, count_sample, NULL) == AM_OK)
            f->n_flushes++;
        sleep_ms(1);
    }
    return NULL;
}

static void test_udp(void **state)
{
    (void)state;
    server sv;
    server_start(&sv, true, false, 0);
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", am__ingest_statsd_port(sv.s));
    am_statsd_opts o = AM_STATSD_OPTS_INIT;
    o.max_packet_bytes = 300;
    am_statsd *c;
    AM_ASSERT_OK(am_statsd_open(target, &o, &c));
    /* a flush on another thread while lines arrive (sets are reset by it,
       so the set is sent again after the flusher has stopped) */
    flusher_arg fa = {.agg = sv.agg};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, flush_loop, &fa), 0);
    while (atomic_load(&fa.n_flushes) == 0) /* flushing before the lines come */
        sleep_ms(1);
    send_mix(c, 100);
    AM_ASSERT_OK(am_statsd_flush(c));
    wait_lines(sv.r, 404);
    atomic_store(&fa.stop, 1);
    pthread_join(th, NULL);
    assert_true(fa.n_flushes > 0);
    AM_ASSERT_OK(am_statsd_set(c, "users", "alice", 1, NULL, 0));
    AM_ASSERT_OK(am_statsd_set(c, "users", "bob", 1, NULL, 0));
    AM_ASSERT_OK(am_statsd_flush(c));
    am_statsd_stats st;
    am_statsd_get_stats(c, &st);
    AM_ASSERT_EQ(st.n_lines, 406); /* the negative gauge is two lines */
    AM_ASSERT_EQ(st.n_dropped_packets, 0);
    assert_true(st.n_packets > 404 * 20 / 300);
    wait_lines(sv.r, 406);
    AM_ASSERT_EQ(am__ingest_statsd_datagrams(sv.s), st.n_packets);
    check_mix(sv.r, 100);
    am_statsd_close(c);
    server_stop(&sv);
}

static void *send_many(void *p)
{
    am_statsd *c = p;
    for (int i = 0; i < 2000; i++)
        if (am_statsd_count(c, "mt", 1, 1, AM_LABELS("k:v")) != AM_OK)
            return p;
    return NULL;
}

/* Four threads share one client: every line arrives once, whole. */
static void test_threads(void **state)
{
    (void)state;
    server sv;
    server_start(&sv, false, true, 0);
    am_statsd_opts o = AM_STATSD_OPTS_INIT;
    o.flags = AM_STATSD_FLUSH_THREAD;
    o.flush_interval_ms = 1;
    am_statsd *c;
    AM_ASSERT_OK(am_statsd_open(sv.path, &o, &c));
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, send_many, c), 0);
    for (int i = 0; i < 4; i++) {
        void *rv;
        pthread_join(th[i], &rv);
        assert_null(rv);
    }
    (void)am_statsd_flush(c);
    am_statsd_stats st;
    am_statsd_get_stats(c, &st);
    am_statsd_close(c);
    AM_ASSERT_EQ(st.n_lines, 8000);
    /* a full receive queue drops datagrams (never blocks): those are counted */
    uint64_t arrived = st.n_lines - st.n_dropped_lines;
    wait_lines(sv.r, (double)arrived);
    char *text = am_test_encode(sv.r, AM_FORMAT_PROMETHEUS);
    char want[64];
    snprintf(want, sizeof want, "mt_total{k=\"v\"} %llu\n", (unsigned long long)arrived);
    AM_ASSERT_CONTAINS(text, want);
    AM_ASSERT_CONTAINS(text, "agentmon_ingest_invalid_total{protocol=\"statsd\"} 0\n");
    am_free(text);
    server_stop(&sv);
}

static void test_unix(void **state)
{
    (void)state;
    server sv;
    server_start(&sv, false, true, 0);
    char target[160];
    snprintf(target, sizeof target, "unix:%s", sv.path);
    am_statsd *c;
    AM_ASSERT_OK(am_statsd_open(target, NULL, &c));
    send_mix(c, 40);
    am_statsd_close(c);                              /* close flushes */
    AM_ASSERT_OK(am_statsd_open(sv.path, NULL, &c)); /* a bare path works too */
    AM_ASSERT_OK(am_statsd_count(c, "agent.tasks", 2, 1, AM_LABELS("agent:planner", "env:test")));
    am_statsd_close(c);
    wait_lines(sv.r, 40 * 4 + 4 + 1);
    char *text = am_test_encode(sv.r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_CONTAINS(text, "agent_tasks_total{agent=\"planner\",env=\"test\"} 22\n");
    am_free(text);
    server_stop(&sv);
}

/* A unix path another collector listens on is refused; a left-over
   socket (its owner killed) is taken over; at exit a collector unlinks
   only its own socket, not one another process put there since. */
static void test_unix_path_owner(void **state)
{
    (void)state;
    server a;
    server_start(&a, false, true, 0);
    am_ingest_statsd_opts o = AM_INGEST_STATSD_OPTS_INIT;
    o.registry = a.r;
    o.agg = a.agg;
    o.logger = a.lg;
    o.unix_path = a.path;
    am_ingest_statsd *b;
    AM_ASSERT_ERR(am__ingest_statsd_start(&o, &b), AM_EIO);
    AM_ASSERT_CONTAINS(am_errmsg(), "another process listens");
    assert_int_equal(access(a.path, F_OK), 0); /* a's socket untouched */

    /* the path is taken by someone else meanwhile: a must leave it */
    unlink(a.path);
    int other = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", a.path);
    AM_ASSERT_EQ(bind(other, (struct sockaddr *)&sa, sizeof sa), 0);
    am__ingest_statsd_stop(a.s);
    assert_int_equal(access(a.path, F_OK), 0);
    close(other); /* its socket file stays: a left-over, as after kill -9 */

    /* a left-over socket nobody reads is taken over */
    AM_ASSERT_OK(am__ingest_statsd_start(&o, &b));
    am__ingest_statsd_stop(b);
    assert_int_equal(access(a.path, F_OK), -1);
    am__statsd_agg_free(a.agg);
    am_logger_free(a.lg);
    am_registry_free(a.r);
    pthread_mutex_destroy(&a.log.mu);
}

static void test_lines(void **state)
{
    (void)state;
    int port;
    int fd = raw_socket(&port);
    char target[64], buf[70000];
    snprintf(target, sizeof target, "127.0.0.1:%d", port);
    am_statsd_opts o = AM_STATSD_OPTS_INIT;
    o.prefix = "app.";
    static const char *const const_tags[] = {"env:prod", "host"};
    o.tags = const_tags;
    o.n_tags = 2;
    am_statsd *c;
    AM_ASSERT_OK(am_statsd_open(target, &o, &c));
    AM_ASSERT_OK(am_statsd_count(c, "hits", 1, 1, AM_LABELS("a:1")));
    AM_ASSERT_OK(am_statsd_gauge(c, "g", -5, 1, NULL, 0));
    AM_ASSERT_OK(am_statsd_gauge_add(c, "g", 2.5, 1, NULL, 0));
    AM_ASSERT_OK(am_statsd_gauge_add(c, "g", -1, 1, NULL, 0));
    AM_ASSERT_OK(am_statsd_timing(c, "t", 0.25, 1, NULL, 0));
    AM_ASSERT_OK(am_statsd_histogram(c, "h", 1e6, 1, NULL, 0));
    AM_ASSERT_OK(am_statsd_distribution(c, "d", 7, 1, NULL, 0));
    AM_ASSERT_OK(am_statsd_set(c, "s", "alice", 1, NULL, 0));
    AM_ASSERT_OK(am_statsd_gauge(c, "z", -0.0, 1, NULL, 0)); /* "0", not the delta "-0" */
    AM_ASSERT_OK(am_statsd_flush(c));
    AM_ASSERT_OK(am_statsd_flush(c)); /* nothing to send: fine */
    assert_true(raw_recv(fd, buf, sizeof buf, 2000) > 0);
    AM_ASSERT_STR_EQ(buf, "app.hits:1|c|#env:prod,host,a:1\n"
                          "app.g:0|g|#env:prod,host\n"
                          "app.g:-5|g|#env:prod,host\n"
                          "app.g:+2.5|g|#env:prod,host\n"
                          "app.g:-1|g|#env:prod,host\n"
                          "app.t:0.25|ms|#env:prod,host\n"
                          "app.h:1e+06|h|#env:prod,host\n"
                          "app.d:7|d|#env:prod,host\n"
                          "app.s:alice|s|#env:prod,host\n"
                          "app.z:0|g|#env:prod,host");
    am_statsd_close(c);

    /* sampling: about rate of the calls are sent, marked with the rate */
    AM_ASSERT_OK(am_statsd_open(target, NULL, &c));
    for (int i = 0; i < 1000; i++)
        AM_ASSERT_OK(am_statsd_count(c, "x", 1, 0.25, NULL, 0));
    AM_ASSERT_OK(am_statsd_flush(c));
    am_statsd_stats st;
    am_statsd_get_stats(c, &st);
    AM_ASSERT_EQ(st.n_lines + st.n_sampled_out, 1000);
    assert_true(st.n_lines > 150 && st.n_lines < 350);
    size_t got = 0;
    ssize_t n;
    while ((n = raw_recv(fd, buf, sizeof buf, 500)) > 0) {
        assert_true(n <= AM_STATSD_DEFAULT_PACKET);
        for (char *p = buf; (p = strstr(p, "x:1|c|@0.25")); p++)
            got++;
    }
    AM_ASSERT_EQ(got, st.n_lines);
    am_statsd_close(c);

    /* a line longer than the packet size goes alone */
    o = (am_statsd_opts)AM_STATSD_OPTS_INIT;
    o.max_packet_bytes = 64;
    AM_ASSERT_OK(am_statsd_open(target, &o, &c));
    AM_ASSERT_OK(am_statsd_count(c, "a", 1, 1, NULL, 0));
    char tag[200];
    memset(tag, 'v', sizeof tag - 1);
    tag[sizeof tag - 1] = '\0';
    tag[0] = 'k';
    tag[1] = ':';
    AM_ASSERT_OK(am_statsd_count(c, "b", 1, 1, AM_LABELS(tag)));
    AM_ASSERT_OK(am_statsd_count(c, "c", 1, 1, NULL, 0));
    am_statsd_close(c);
    assert_true(raw_recv(fd, buf, sizeof buf, 2000) > 0);
    AM_ASSERT_STR_EQ(buf, "a:1|c");
    assert_true(raw_recv(fd, buf, sizeof buf, 2000) > 0);
    AM_ASSERT_EQ(strlen(buf), 5 + 2 + 199);
    assert_true(raw_recv(fd, buf, sizeof buf, 2000) > 0);
    AM_ASSERT_STR_EQ(buf, "c:1|c");
    close(fd);
}

static void test_split_and_timer(void **state)
{
    (void)state;
    int port;
    int fd = raw_socket(&port);
    char target[64], buf[70000];
    snprintf(target, sizeof target, "127.0.0.1:%d", port);
    am_statsd_opts o = AM_STATSD_OPTS_INIT;
    o.max_packet_bytes = 128;
    am_statsd *c;
    AM_ASSERT_OK(am_statsd_open(target, &o, &c));
    for (int i = 0; i < 200; i++)
        AM_ASSERT_OK(am_statsd_count(c, "split.me", i, 1, AM_LABELS("k:v")));
    am_statsd_close(c);
    int lines = 0, packets = 0;
    ssize_t n;
    while ((n = raw_recv(fd, buf, sizeof buf, 500)) > 0) {
        packets++;
        assert_true(n <= 128);
        /* every datagram holds whole lines only */
        size_t pos = 0;
        am_statsd_str line;
        am_statsd_line l;
        while (am__statsd_next_line(buf, (size_t)n, &pos, &line)) {
            AM_ASSERT_OK(am__statsd_parse(line.p, line.len, &l));
            AM_ASSERT_DBL_EQ(l.values[0], lines);
            lines++;
        }
    }
    AM_ASSERT_EQ(lines, 200);
    assert_true(packets >= 200 * 20 / 128);

    /* the flush thread sends an idle client's lines after the interval */
    o = (am_statsd_opts)AM_STATSD_OPTS_INIT;
    o.flush_interval_ms = 20;
    o.flags = AM_STATSD_FLUSH_THREAD;
    AM_ASSERT_OK(am_statsd_open(target, &o, &c));
    AM_ASSERT_OK(am_statsd_count(c, "late", 1, 1, NULL, 0));
    assert_true(raw_recv(fd, buf, sizeof buf, 3000) > 0);
    AM_ASSERT_STR_EQ(buf, "late:1|c");
    am_statsd_close(c);
    close(fd);
}

static void test_drops(void **state)
{
    (void)state;
    /* no server on the unix path: every datagram is dropped and counted */
    am_statsd *c;
    AM_ASSERT_OK(am_statsd_open("unix:/tmp/am-test-statsd-nobody.sock", NULL, &c));
    AM_ASSERT_OK(am_statsd_count(c, "x", 1, 1, NULL, 0));
    AM_ASSERT_OK(am_statsd_count(c, "y", 1, 1, NULL, 0));
    AM_ASSERT_ERR(am_statsd_flush(c), AM_EIO);
    AM_ASSERT_CONTAINS(am_errmsg(), "dropped");
    am_statsd_stats st;
    am_statsd_get_stats(c, &st);
    AM_ASSERT_EQ(st.n_dropped_packets, 1);
    AM_ASSERT_EQ(st.n_dropped_lines, 2);
    AM_ASSERT_EQ(st.n_packets, 0);
    am_statsd_close(c);

    /* UDP to a closed port: ICMP comes back, a later send reports it */
    int port;
    int fd = raw_socket(&port);
    close(fd);
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", port);
    AM_ASSERT_OK(am_statsd_open(target, NULL, &c));
    for (int i = 0; i < 50; i++) {
        AM_ASSERT_OK(am_statsd_count(c, "x", 1, 1, NULL, 0));
        (void)am_statsd_flush(c);
        am_statsd_get_stats(c, &st);
        if (st.n_dropped_packets)
            break;
        sleep_ms(10);
    }
    assert_true(st.n_dropped_packets > 0);
    AM_ASSERT_EQ(st.n_dropped_lines, st.n_dropped_packets);
    am_statsd_close(c);
}

static void test_invalid(void **state)
{
    (void)state;
    server sv;
    server_start(&sv, true, false, 512);
    int port = am__ingest_statsd_port(sv.s);
    const char *dg = "good:1|c\nbad\n:1|c\nx:1|q\n_e{1,1}:a|b\ny:nan|g\nok:2|g\n";
    raw_send(port, dg, strlen(dg));
    wait_lines(sv.r, 7);
    AM_ASSERT_DBL_EQ(ingest_value(sv.r, "agentmon_ingest_invalid_total"), 5);
    char log[8192];
    AM_ASSERT_EQ(log_read(&sv.log, log, sizeof log), 1); /* once a second at most */
    AM_ASSERT_CONTAINS(log, "\"level\":\"WARNING\"");
    AM_ASSERT_CONTAINS(log, "\"line\":\"bad\"");
    AM_ASSERT_CONTAINS(log, "no ':' between name and value");
    AM_ASSERT_CONTAINS(log, "\"suppressed\":0");
    /* a datagram over max_datagram: one invalid line */
    char big[600];
    memset(big, 'a', sizeof big);
    raw_send(port, big, sizeof big);
    wait_lines(sv.r, 8);
    AM_ASSERT_DBL_EQ(ingest_value(sv.r, "agentmon_ingest_invalid_total"), 6);
    AM_ASSERT_EQ(log_read(&sv.log, log, sizeof log), 1);
    sleep_ms(1100);
    raw_send(port, "again", 5);
    wait_lines(sv.r, 9);
    AM_ASSERT_EQ(log_read(&sv.log, log, sizeof log), 2);
    AM_ASSERT_CONTAINS(log, "\"suppressed\":5");
    char *text = am_test_encode(sv.r, AM_FORMAT_PROMETHEUS);
    AM_ASSERT_CONTAINS(text, "good_total 1\n");
    AM_ASSERT_CONTAINS(text, "\nok 2\n");
    am_free(text);
    server_stop(&sv);
}

static void test_bad_args(void **state)
{
    (void)state;
    int port;
    int fd = raw_socket(&port);
    char target[64];
    snprintf(target, sizeof target, "127.0.0.1:%d", port);
    am_statsd *c;
    AM_ASSERT_OK(am_statsd_open(target, NULL, &c));
    static const char *bad_names[] = {"", "a:b", "a|b", "a\nb", "a\rb"};
    for (size_t i = 0; i < sizeof bad_names / sizeof *bad_names; i++)
        AM_ASSERT_ERR(am_statsd_count(c, bad_names[i], 1, 1, NULL, 0), AM_EINVAL);
    AM_ASSERT_ERR(am_statsd_count(c, NULL, 1, 1, NULL, 0), AM_EINVAL);
    char longname[AM_STATSD_MAX_NAME + 2];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    AM_ASSERT_ERR(am_statsd_count(c, longname, 1, 1, NULL, 0), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "longer than");
    AM_ASSERT_ERR(am_statsd_count(c, "x", -1, 1, NULL, 0), AM_EINVAL);
    AM_ASSERT_ERR(am_statsd_count(c, "x", NAN, 1, NULL, 0), AM_EINVAL);
    AM_ASSERT_ERR(am_statsd_gauge(c, "x", INFINITY, 1, NULL, 0), AM_EINVAL);
    AM_ASSERT_ERR(am_statsd_gauge_add(c, "x", NAN, 1, NULL, 0), AM_EINVAL);
    AM_ASSERT_ERR(am_statsd_timing(c, "x", -INFINITY, 1, NULL, 0), AM_EINVAL);
    AM_ASSERT_ERR(am_statsd_count(c, "x", 1, 0, NULL, 0), AM_EINVAL);
    AM_ASSERT_ERR(am_statsd_count(c, "x", 1, 1.5, NULL, 0), AM_EINVAL);
    AM_ASSERT_ERR(am_statsd_count(c, "x", 1, NAN, NULL, 0), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "sample rate");
    static const char *bad_tags[] = {"", "a,b", "a|b", ":v", "a\nb"};
    for (size_t i = 0; i < sizeof bad_tags / sizeof *bad_tags; i++)
        AM_ASSERT_ERR(am_statsd_count(c, "x", 1, 1, AM_LABELS(bad_tags[i])), AM_EINVAL);
    AM_ASSERT_ERR(am_statsd_count(c, "x", 1, 1, AM_LABELS("ok", NULL)), AM_EINVAL);
    AM_ASSERT_ERR(am_statsd_count(c, "x", 1, 1, NULL, 2), AM_EINVAL);
    const char *many[AM_STATSD_MAX_TAGS + 1];
    for (size_t i = 0; i <= AM_STATSD_MAX_TAGS; i++)
        many[i] = "k:v";
    AM_ASSERT_ERR(am_statsd_count(c, "x", 1, 1, many, AM_STATSD_MAX_TAGS + 1), AM_EINVAL);
    AM_ASSERT_ERR(am_statsd_set(c, "x", "a:b", 1, NULL, 0), AM_EINVAL);
    AM_ASSERT_ERR(am_statsd_set(c, "x", "", 1, NULL, 0), AM_EINVAL);
    AM_ASSERT_ERR(am_statsd_set(c, "x", NULL, 1, NULL, 0), AM_EINVAL);
    AM_ASSERT_ERR(am_statsd_count(NULL, "x", 1, 1, NULL, 0), AM_EINVAL);
    AM_ASSERT_ERR(am_statsd_flush(NULL), AM_EINVAL);
    /* nothing was sent by any of them */
    am_statsd_stats st;
    am_statsd_get_stats(c, &st);
    AM_ASSERT_EQ(st.n_lines, 0);
    am_statsd_close(c);
    am_statsd_close(NULL);
    char buf[64];
    AM_ASSERT_EQ(raw_recv(fd, buf, sizeof buf, 100), -1);
    close(fd);

    static const char *bad_targets[] = {"[::1",  "[::1]x", "host:0", "host:99999", "127.0.0.1:abc",
                                        "a:b:c", ":8125",  "unix:",  "127.0.0.1:", "[]:8125"};
    for (size_t i = 0; i < sizeof bad_targets / sizeof *bad_targets; i++) {
        am_err rc = am_statsd_open(bad_targets[i], NULL, &c);
        if (rc != AM_EINVAL)
            fail_msg("target \"%s\" gave %s", bad_targets[i], am_err_name(rc));
    }
    char longpath[200] = "unix:/tmp/";
    memset(longpath + 10, 'p', 150);
    longpath[160] = '\0';
    AM_ASSERT_ERR(am_statsd_open(longpath, NULL, &c), AM_EINVAL);
    am_statsd_opts o = AM_STATSD_OPTS_INIT;
    o.max_packet_bytes = 10;
    AM_ASSERT_ERR(am_statsd_open(NULL, &o, &c), AM_EINVAL);
    o = (am_statsd_opts)AM_STATSD_OPTS_INIT;
    o.flush_interval_ms = 100000;
    AM_ASSERT_ERR(am_statsd_open(NULL, &o, &c), AM_EINVAL);
    o = (am_statsd_opts)AM_STATSD_OPTS_INIT;
    o.flags = 0x80;
    AM_ASSERT_ERR(am_statsd_open(NULL, &o, &c), AM_EINVAL);
    o = (am_statsd_opts)AM_STATSD_OPTS_INIT;
    o.prefix = "a|b";
    AM_ASSERT_ERR(am_statsd_open(NULL, &o, &c), AM_EINVAL);
    o = (am_statsd_opts)AM_STATSD_OPTS_INIT;
    static const char *const bad_const[] = {"a,b"};
    o.tags = bad_const;
    o.n_tags = 1;
    AM_ASSERT_ERR(am_statsd_open(NULL, &o, &c), AM_EINVAL);
    AM_ASSERT_ERR(am_statsd_open(NULL, NULL, NULL), AM_EINVAL);
    /* IPv6 and the default target open (nothing is sent) */
    AM_ASSERT_OK(am_statsd_open("[::1]:8125", NULL, &c));
    am_statsd_close(c);
    AM_ASSERT_OK(am_statsd_open(NULL, NULL, &c));
    am_statsd_close(c);
    AM_ASSERT_OK(am_statsd_open("localhost", NULL, &c));
    am_statsd_close(c);
}

static void test_listener_opts(void **state)
{
    (void)state;
    am_registry *r;
    am_statsd_agg *a;
    am_ingest_statsd *s;
    AM_ASSERT_OK(am_registry_new(&r));
    AM_ASSERT_OK(am__statsd_agg_new(r, NULL, &a));
    am_ingest_statsd_opts o = AM_INGEST_STATSD_OPTS_INIT;
    o.registry = r;
    o.port = 0;
    AM_ASSERT_ERR(am__ingest_statsd_start(&o, &s), AM_EINVAL); /* no aggregator */
    o.agg = a;
    o.has_udp = false;
    AM_ASSERT_ERR(am__ingest_statsd_start(&o, &s), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "neither");
    o.has_udp = true;
    o.port = 70000;
    AM_ASSERT_ERR(am__ingest_statsd_start(&o, &s), AM_EINVAL);
    o.port = 0;
    o.max_datagram = 100;
    AM_ASSERT_ERR(am__ingest_statsd_start(&o, &s), AM_EINVAL);
    o.max_datagram = 0;
    o.unix_path = "/tmp"; /* exists, not a socket */
    AM_ASSERT_ERR(am__ingest_statsd_start(&o, &s), AM_EINVAL);
    AM_ASSERT_CONTAINS(am_errmsg(), "not a socket");
    o.unix_path = NULL;
    /* a port in use */
    int port;
    int fd = raw_socket(&port);
    o.port = port;
    AM_ASSERT_ERR(am__ingest_statsd_start(&o, &s), AM_EIO);
    AM_ASSERT_CONTAINS(am_errmsg(), "cannot bind");
    close(fd);
    /* IPv6 loopback, when the machine has it */
    o.port = 0;
    o.host = "::1";
    am_err rc = am__ingest_statsd_start(&o, &s);
    if (rc == AM_OK) {
        char target[64];
        snprintf(target, sizeof target, "[::1]:%d", am__ingest_statsd_port(s));
        am_statsd *c;
        AM_ASSERT_OK(am_statsd_open(target, NULL, &c));
        AM_ASSERT_OK(am_statsd_count(c, "v6", 3, 1, NULL, 0));
        am_statsd_close(c);
        wait_lines(r, 1);
        am__ingest_statsd_stop(s);
        char *text = am_test_encode(r, AM_FORMAT_PROMETHEUS);
        AM_ASSERT_CONTAINS(text, "v6_total 3\n");
        am_free(text);
    } else {
        AM_ASSERT_ERR(rc, AM_EIO); /* no IPv6 here */
    }
    am__ingest_statsd_stop(NULL);
    am__statsd_agg_free(a);
    am_registry_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_udp),
        cmocka_unit_test(test_unix),
        cmocka_unit_test(test_unix_path_owner),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_split_and_timer),
        cmocka_unit_test(test_drops),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_bad_args),
        cmocka_unit_test(test_listener_opts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
