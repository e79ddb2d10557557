/*
** statsd.c: the StatsD listener (see statsd.h).
**
** DESIGN
** One thread owns the sockets. It sleeps in poll(2) on the UDP socket, the
** unix socket and an eventfd that stop() writes to; when a socket is
** readable it drains it with recvmmsg(2), BATCH datagrams per system call,
** until EAGAIN (or ROUNDS batches, so that a flood cannot starve stop()),
** so a busy sender costs one system call per BATCH datagrams rather than
** one each. Every datagram is handed whole to the aggregator,
** which takes its mutex once per datagram. The self-metrics are resolved
** to their protocol="statsd" children once, at start, and added to once
** per batch.
**
** A datagram longer than max_datagram arrives cut (MSG_TRUNC): it is
** refused whole, as one invalid line, since its last line is damaged and
** we cannot tell where.
**
** LOGGING
** A refused line is logged when no line was logged in the last second;
** the others are counted and that count ("suppressed") rides on the next
** line logged, so a flood of bad input costs one log line a second.
**
** SHUTDOWN
** stop() signals the eventfd and joins; the thread processes what its
** last recvmmsg returned, then exits. Sockets are closed after the join,
** so the thread never reads a closed descriptor.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agentmon/timer.h"
#include "../../util/alloc.h"
#include "../../util/error.h"
#include "statsd.h"

enum { LINES, INVALID, N_DEFS };

const am_metric_def am__defs_ingest[] = {
    [LINES] = {"ingest", AM_TYPE_COUNTER, "agentmon_ingest_lines_total", NULL,
               "Lines (StatsD) or events (HTTP) received by the collector, valid or not", NULL,
               AM_DEF_LABELS("protocol"), NULL, 0, NULL, "agentmon"},
    [INVALID] = {"ingest", AM_TYPE_COUNTER, "agentmon_ingest_invalid_total", NULL,
                 "Lines or events the collector refused as malformed", NULL,
                 AM_DEF_LABELS("protocol"), NULL, 0, NULL, "agentmon"},
};
const size_t am__n_defs_ingest = N_DEFS;
const am_def_table am__table_ingest = {am__defs_ingest, N_DEFS};

#define BATCH 16
#define ROUNDS 64        /* batches per wake-up at most */
#define LOG_LINE_MAX 256 /* bytes of a refused line quoted in the log */

struct am_ingest_statsd {
    int udp_fd, unix_fd, wake_fd;
    int port;
    char *unix_path;
    dev_t unix_dev; /* the socket file we bound: the only one we unlink */
    ino_t unix_ino;
    size_t max_datagram;
    am_statsd_agg *agg;
    am_logger *logger;
    am_counter *lines, *invalid;
    pthread_t thread;
    bool has_thread;
    _Atomic uint64_t n_datagrams;
    /* receive thread only */
    char *bufs; /* BATCH * max_datagram */
    uint64_t last_log_ns;
    uint64_t suppressed;
};

static void on_invalid(void *ud, const char *line, size_t len, am_err rc)
{
    am_ingest_statsd *s = ud;
    uint64_t now = am_now_ns();
    if (s->last_log_ns && now - s->last_log_ns < 1000000000u) {
        s->suppressed++;
        return;
    }
    char quoted[LOG_LINE_MAX + 1];
    size_t n = len < LOG_LINE_MAX ? len : LOG_LINE_MAX;
    memcpy(quoted, line, n);
    quoted[n] = '\0';
    AM_LOG_WARNING(s->logger, "statsd", "refused a StatsD line", AM_F_STR("line", quoted),
                   AM_F_AM_ERR(rc), AM_F_INT("suppressed", s->suppressed));
    s->suppressed = 0;
    s->last_log_ns = now;
}

/* Read fd until it has nothing more, or for ROUNDS batches so that a
   flood cannot keep the thread from seeing stop() or from publishing its
   counts; adds to *c. */
static void drain(am_ingest_statsd *s, int fd, am_statsd_counts *c)
{
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < BATCH; i++) {
            iov[i].iov_base = s->bufs + (size_t)i * s->max_datagram;
            iov[i].iov_len = s->max_datagram;
            memset(&msgs[i], 0, sizeof msgs[i]);
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        int n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            return; /* EAGAIN, or an error the next poll will show again */
        atomic_fetch_add_explicit(&s->n_datagrams, (uint64_t)n, memory_order_relaxed);
        for (int i = 0; i < n; i++) {
            if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
                c->n_lines++;
                c->n_invalid++;
                am__err(AM_EINVAL, "statsd: datagram longer than %zu bytes", s->max_datagram);
                on_invalid(s, iov[i].iov_base, 64, AM_EINVAL);
                continue;
            }
            am__statsd_agg_datagram(s->agg, iov[i].iov_base, msgs[i].msg_len, c, on_invalid, s);
        }
        if (n < BATCH)
            return;
    }
}

static void *run(void *arg)
{
    am_ingest_statsd *s = arg;
    struct pollfd p[3] = {{s->wake_fd, POLLIN, 0}, {s->udp_fd, POLLIN, 0}, {s->unix_fd, POLLIN, 0}};
    for (;;) {
        int rc = poll(p, 3, -1);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        am_statsd_counts c = {0, 0};
        for (int i = 1; i < 3; i++)
            if (p[i].fd >= 0 && (p[i].revents & (POLLIN | POLLERR)))
                drain(s, p[i].fd, &c); /* a read also clears a pending error */
        if (c.n_lines)
            (void)am_counter_add(s->lines, (double)c.n_lines);
        if (c.n_invalid)
            (void)am_counter_add(s->invalid, (double)c.n_invalid);
        if (p[0].revents)
            break;
    }
    return NULL;
}

/* A big receive buffer rides out bursts; root may go past
   net.core.rmem_max, others get what the kernel allows. */
static void set_rcvbuf(int fd, int bytes)
{
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) != 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
}

static am_err bind_udp(am_ingest_statsd *s, const char *host, int port, int rcvbuf)
{
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int g = getaddrinfo(host, service, &hints, &res);
    if (g)
        return am__err(AM_EINVAL, "statsd: cannot resolve listen host \"%s\": %s", host,
                       gai_strerror(g));
    int err = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
            err = errno;
            continue;
        }
        set_rcvbuf(fd, rcvbuf);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            struct sockaddr_storage ss;
            socklen_t sl = sizeof ss;
            getsockname(fd, (struct sockaddr *)&ss, &sl);
            s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                     : ((struct sockaddr_in *)&ss)->sin_port);
            s->udp_fd = fd;
            freeaddrinfo(res);
            return AM_OK;
        }
        err = errno;
        close(fd);
    }
    freeaddrinfo(res);
    return am__err(AM_EIO, "statsd: cannot bind UDP %s:%d: %s", host, port, strerror(err));
}

static am_err bind_unix(am_ingest_statsd *s, const char *path, int rcvbuf)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t n = strlen(path);
    if (!n || n >= sizeof sa.sun_path)
        return am__err(AM_EINVAL, "statsd: unix socket path must be 1..%zu bytes",
                       sizeof sa.sun_path - 1);
    memcpy(sa.sun_path, path, n);
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return am__err(AM_EINVAL, "statsd: \"%s\" exists and is not a socket", path);
        /* someone still reading it (another collector) answers a connect;
           a previous run's left-over socket refuses it and may go */
        int probe = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        bool is_live = probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof sa) == 0;
        if (probe >= 0)
            close(probe);
        if (is_live)
            return am__err(AM_EIO, "statsd: another process listens on the unix socket \"%s\"",
                           path);
        unlink(path);
    }
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return am__err(AM_EIO, "statsd: unix socket: %s", strerror(errno));
    set_rcvbuf(fd, rcvbuf);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || lstat(path, &st) != 0) {
        int e = errno;
        close(fd);
        return am__err(AM_EIO, "statsd: cannot bind unix socket \"%s\": %s", path, strerror(e));
    }
    s->unix_dev = st.st_dev;
    s->unix_ino = st.st_ino;
    s->unix_fd = fd;
    s->unix_path = am__strdup(path);
    if (!s->unix_path) {
        unlink(path);
        return am__err(AM_ENOMEM, "statsd: out of memory");
    }
    return AM_OK;
}

static void destroy(am_ingest_statsd *s)
{
    if (s->udp_fd >= 0)
        close(s->udp_fd);
    if (s->unix_fd >= 0)
        close(s->unix_fd);
    if (s->wake_fd >= 0)
        close(s->wake_fd);
    /* only our own socket: another collector may have taken the path since */
    struct stat st;
    if (s->unix_path && lstat(s->unix_path, &st) == 0 && st.st_dev == s->unix_dev &&
        st.st_ino == s->unix_ino)
        unlink(s->unix_path);
    am__free(s->unix_path);
    am__free(s->bufs);
    am__free(s);
}

am_err am__ingest_statsd_start(const am_ingest_statsd_opts *o, am_ingest_statsd **out)
{
    if (!o || !o->agg || !out)
        return am__err(AM_EINVAL, "statsd: options, aggregator and out are required");
    if (!o->has_udp && !o->unix_path)
        return am__err(AM_EINVAL, "statsd: neither a UDP address nor a unix socket to listen on");
    if (o->has_udp && (o->port < 0 || o->port > 65535))
        return am__err(AM_EINVAL, "statsd: port %d is not in 0..65535", o->port);
    size_t maxd = o->max_datagram ? o->max_datagram : AM_STATSD_DEFAULT_DATAGRAM;
    if (maxd < 512 || maxd > (1u << 20))
        return am__err(AM_EINVAL, "statsd: max_datagram %zu is not in 512..1048576", maxd);
    am_ingest_statsd *s = am__calloc(1, sizeof *s);
    if (!s)
        return am__err(AM_ENOMEM, "statsd: out of memory");
    s->udp_fd = s->unix_fd = s->wake_fd = -1;
    s->max_datagram = maxd;
    s->agg = o->agg;
    s->logger = o->logger;
    void *h[N_DEFS];
    am_err rc = am__defs_register(o->registry, am__defs_ingest, N_DEFS, h);
    if (!rc)
        rc = am_counter_with(h[LINES], AM_LABELS("statsd"), &s->lines);
    if (!rc)
        rc = am_counter_with(h[INVALID], AM_LABELS("statsd"), &s->invalid);
    if (!rc && !(s->bufs = am__malloc(BATCH * maxd)))
        rc = am__err(AM_ENOMEM, "statsd: out of memory");
    int rcvbuf = o->rcvbuf_bytes > 0 ? o->rcvbuf_bytes : 4 << 20;
    if (!rc && o->has_udp)
        rc = bind_udp(s, o->host ? o->host : AM_STATSD_DEFAULT_HOST, o->port, rcvbuf);
    if (!rc && o->unix_path)
        rc = bind_unix(s, o->unix_path, rcvbuf);
    if (!rc) {
        s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (s->wake_fd < 0)
            rc = am__err(AM_EIO, "statsd: eventfd: %s", strerror(errno));
    }
    if (!rc) {
        int e = pthread_create(&s->thread, NULL, run, s);
        if (e)
            rc = am__err(AM_ENOMEM, "statsd: cannot start the receive thread: %s", strerror(e));
        else
            s->has_thread = true;
    }
    if (rc) {
        destroy(s);
        return rc;
    }
    *out = s;
    return AM_OK;
}

int am__ingest_statsd_port(const am_ingest_statsd *s)
{
    return s && s->udp_fd >= 0 ? s->port : 0;
}

uint64_t am__ingest_statsd_datagrams(const am_ingest_statsd *s)
{
    return atomic_load_explicit(&((am_ingest_statsd *)s)->n_datagrams, memory_order_relaxed);
}

void am__ingest_statsd_stop(am_ingest_statsd *s)
{
    if (!s)
        return;
    if (s->has_thread) {
        uint64_t one = 1;
        while (write(s->wake_fd, &one, sizeof one) < 0 && errno == EINTR)
            ;
        pthread_join(s->thread, NULL);
    }
    destroy(s);
}
