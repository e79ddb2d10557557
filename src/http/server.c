/*
** server.c: the HTTP server -- options, the listening socket, starting
** and stopping libmicrohttpd, the guard and the handler pool.
**
** DESIGN
** We bind the listening socket ourselves (so a failure comes back as
** "127.0.0.1:9470: Address already in use", not a bare NULL) and hand it
** to libmicrohttpd, which runs io_threads event loops over epoll (no
** FD_SETSIZE limit). Three parts share the work:
**   request.c  a request's life in libmicrohttpd's callbacks: refusals as
**              soon as the headers are complete, inline handlers, answers;
**   pool.c     the handler threads: a non-inline route's handler runs there
**              while its connection is suspended, so a handler that waits
**              never delays another connection -- /health and /metrics are
**              inline and answered by the event loop itself;
**   guard.c    deadlines libmicrohttpd lacks: the request line and headers
**              (header_timeout_s), a minimum body rate, enforced by a reaper
**              that shuts down late sockets (why that is safe: its essay);
**              the same reaper answers deferred requests past their timeout;
**   later.c    deferred answers: a handler returns without its answer, and
**              whichever thread finishes its work answers and resumes.
** libmicrohttpd itself bounds the connections (max_connections, far more
** than there are threads: a slow client costs a slot, never a thread),
** connections per client address, idle time and header memory.
**
** SLOWLORIS, IN NUMBERS (defaults)
** 1024 slots, 64 per address: holding them all takes 16 addresses, and
** each held slot is freed within 10 s (headers) or 10 s + 1 s per KiB
** (body); then the attacker has to reconnect and start again, while every
** other client is served from the free slots. A slot costs one fd and at
** most 32 KiB of header memory. RLIMIT_NOFILE is raised to fit
** max_connections + 64 when it is lower (see am_http_listen()).
**
** STOPPING
** Drain the pool (new and queued requests get 503, running handlers
** finish, deferred answers are waited for: libmicrohttpd must not be
** stopped with a suspended connection), stop libmicrohttpd (which closes
** the listening socket), then the reaper (which answers deferred requests
** past their timeout, so it outlives the drain) and the pool threads.
** There is no MHD_quiesce_daemon() first: with epoll event loops it races
** the loop threads, which remove the listening socket from their epoll set
** themselves once they see the daemon quiesced, and the loser of that race
** aborts the process ("Failed to remove listen FD from epoll set",
** libmicrohttpd 0.9.75). Clients that connect during the drain get a 503.
**
** The route table is read under a shared lock; routes are never removed,
** so a matched route stays valid after the lock is dropped.
*/
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agentmon/timer.h"
#include "../util/alloc.h"
#include "../util/catalog.h"
#include "../util/error.h"
#include "auth.h"
#include "server.h"

#define FD_RESERVE 64      /* descriptors kept for the rest of the process */
#define MIN_CONNECTIONS 16 /* lowering max_connections stops here */
#define MAX_TIMEOUT_S 3600

/* ------------------------------------------------------------------ */
/* Creating                                                            */
/* ------------------------------------------------------------------ */

static am_err read_file(const char *path, char **out)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return am__err(AM_EIO, "cannot open %s: %s", path, strerror(errno));
    am_buf b;
    am_buf_init(&b, 1 << 20);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        am_buf_append(&b, chunk, n);
    bool failed = ferror(fp);
    fclose(fp);
    if (failed || am_buf_err(&b)) {
        am_err rc = am_buf_err(&b) == AM_ENOMEM ? AM_ENOMEM : AM_EIO;
        am_buf_free(&b);
        return am__err(rc, "cannot read %s", path);
    }
    *out = am_buf_take(&b, NULL);
    return *out ? AM_OK : am__err(AM_ENOMEM, "out of memory reading %s", path);
}

const am_metric_def am__defs_http[] = {
    {"http", AM_TYPE_COUNTER, "agentmon_http_requests_total", NULL,
     "HTTP requests answered by agentmon's server, by route pattern and status code.", NULL,
     AM_DEF_LABELS("route", "code"), NULL, 0, NULL, "agentmon"},
    {"http", AM_TYPE_HISTOGRAM, "agentmon_http_request_duration_seconds", NULL,
     "Time from a request's arrival to its response being queued, by route pattern.", "seconds",
     AM_DEF_LABELS("route"), NULL, 0, NULL, "agentmon"},
    {"http", AM_TYPE_COUNTER, "agentmon_http_connections_closed_total", NULL,
     "Connections agentmon's HTTP server closed because the client was too slow: reason "
     "header_timeout (request line and headers late) or body_too_slow (body below the minimum "
     "rate).",
     NULL, AM_DEF_LABELS("reason"), NULL, 0, NULL, "agentmon"},
    {"http", AM_TYPE_GAUGE, "agentmon_http_open_connections", NULL,
     "Connections open to agentmon's HTTP server.", NULL, NULL, NULL, 0, NULL, "agentmon"},
};
const am_def_table am__table_http = {am__defs_http, 4};

static am_err self_metrics(am_http *h)
{
    am_counter *closed;
    am_err rc;
    if ((rc = am__def_register(h->self, &am__defs_http[0], (void **)&h->requests)) ||
        (rc = am__def_register(h->self, &am__defs_http[1], (void **)&h->duration)) ||
        (rc = am__def_register(h->self, &am__defs_http[2], (void **)&closed)) ||
        (rc = am__def_register(h->self, &am__defs_http[3], (void **)&h->guard.open)))
        return rc;
    /* both reasons from the start, so that a rate over them is never empty */
    if ((rc = am_counter_with(closed, AM_LABELS("header_timeout"), &h->guard.closed_headers)) &&
        rc != AM_ELIMIT)
        return rc;
    if ((rc = am_counter_with(closed, AM_LABELS("body_too_slow"), &h->guard.closed_body)) &&
        rc != AM_ELIMIT)
        return rc;
    return AM_OK;
}

static unsigned or_default(unsigned v, unsigned def)
{
    return v ? v : def;
}

static am_err check_opts(const am_http_opts *o)
{
    if ((o->tls_cert_file == NULL) != (o->tls_key_file == NULL))
        return am__err(AM_EINVAL, "TLS needs both tls_cert_file and tls_key_file");
    if (o->gzip_level < 0 || o->gzip_level > 9)
        return am__err(AM_EINVAL, "gzip_level %d is not 0..9", o->gzip_level);
    if (o->n_registries && !o->registries)
        return am__err(AM_EINVAL, "n_registries is set but registries is NULL");
    for (size_t i = 0; i < o->n_registries; i++)
        if (!o->registries[i])
            return am__err(AM_EINVAL, "registry %zu is NULL", i);
    if (o->header_timeout_s > MAX_TIMEOUT_S || o->body_grace_s > MAX_TIMEOUT_S ||
        o->idle_timeout_s > MAX_TIMEOUT_S)
        return am__err(AM_EINVAL,
                       "header_timeout_s, body_grace_s and idle_timeout_s are at "
                       "most %d",
                       MAX_TIMEOUT_S);
    if (o->io_threads > 64 || o->threads > 1024)
        return am__err(AM_EINVAL, "io_threads is at most 64 and threads at most 1024");
    if (o->max_connections > (1u << 20))
        return am__err(AM_EINVAL, "max_connections %u is more than %u", o->max_connections,
                       1u << 20);
    if (o->max_connections && o->max_connections < or_default(o->io_threads, 2))
        return am__err(AM_EINVAL, "max_connections %u is less than io_threads", o->max_connections);
    return AM_OK;
}

am_err am_http_new(const am_http_opts *o, am_http **out)
{
    if (!o || !out)
        return am__err(AM_EINVAL, "options or out pointer is NULL");
    am_err rc = check_opts(o);
    if (rc)
        return rc;
    am_http *h = am__calloc(1, sizeof *h);
    if (!h)
        return am__err(AM_ENOMEM, "out of memory creating the server");
    h->fd = -1;
    pthread_rwlock_init(&h->lock, NULL);
    pthread_mutex_init(&h->run_lock, NULL);
    pthread_mutex_init(&h->guard.lock, NULL);
    pthread_cond_init(&h->guard.wake, NULL);
    pthread_mutex_init(&h->pool.lock, NULL);
    pthread_cond_init(&h->pool.work, NULL);
    pthread_cond_init(&h->pool.idle, NULL);
    h->port = o->port;
    h->threads = or_default(o->threads, 2);
    h->io_threads = or_default(o->io_threads, 2);
    h->is_max_connections_default = o->max_connections == 0;
    h->max_connections = or_default(o->max_connections, 1024);
    h->max_per_ip = o->max_connections_per_ip == AM_HTTP_NO_LIMIT
                        ? 0
                        : or_default(o->max_connections_per_ip, 64);
    if (h->max_per_ip > h->max_connections)
        h->max_per_ip = h->max_connections;
    h->idle_timeout_s = or_default(o->idle_timeout_s, 15);
    h->guard.header_ns = or_default(o->header_timeout_s, 10) * 1000000000ull;
    h->guard.grace_ns = or_default(o->body_grace_s, 10) * 1000000000ull;
    h->guard.min_rate =
        o->body_min_bytes_per_s == AM_HTTP_NO_LIMIT ? 0 : or_default(o->body_min_bytes_per_s, 1024);
    h->max_body_bytes = o->max_body_bytes ? o->max_body_bytes : 8u << 20;
    h->max_header_bytes = o->max_header_bytes ? o->max_header_bytes : 32u << 10;
    h->gzip_level = o->gzip_level ? o->gzip_level : 1;
    h->started = am_unix_time();
    rc = AM_ENOMEM;
    if (!(h->host = am__strdup(o->host ? o->host : AM_HTTP_DEFAULT_HOST)))
        goto fail;
    h->n_regs = o->n_registries ? o->n_registries : 1;
    if (!(h->regs = am__calloc(h->n_regs, sizeof *h->regs)))
        goto fail;
    for (size_t i = 0; i < h->n_regs; i++)
        h->regs[i] = o->n_registries ? o->registries[i] : am_registry_default();
    if (!h->regs[0])
        goto fail;
    h->self = o->self_registry ? o->self_registry : h->regs[0];
    if (o->tls_cert_file && ((rc = read_file(o->tls_cert_file, &h->tls_cert)) ||
                             (rc = read_file(o->tls_key_file, &h->tls_key))))
        goto fail;
    if ((rc = self_metrics(h)))
        goto fail;
    if (!o->no_builtin_routes && (rc = am__http_builtin_routes(h, &o->builtin_auth)))
        goto fail;
    *out = h;
    return AM_OK;
fail:
    if (rc == AM_ENOMEM)
        am__err(AM_ENOMEM, "out of memory creating the server");
    am_http_free(h);
    return rc;
}

am_err am_http_route(am_http *h, unsigned methods, const char *pattern, am_http_handler fn,
                     void *userdata, const am_http_auth *auth)
{
    if (!h || !fn)
        return am__err(AM_EINVAL, "server or handler is NULL");
    am_creds creds;
    am_err rc = am__creds_copy(auth, &creds);
    if (rc)
        return rc;
    am_route *r;
    if ((rc = am__route_new(methods, pattern, &r))) {
        am__creds_free(&creds);
        return rc;
    }
    r->fn = fn;
    r->ud = userdata;
    r->creds = creds;
    pthread_rwlock_wrlock(&h->lock);
    rc = am__router_add(&h->router, r);
    pthread_rwlock_unlock(&h->lock);
    if (rc)
        am__route_free(r);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Listening                                                           */
/* ------------------------------------------------------------------ */

bool am__addr_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family != AF_INET6)
        return false;
    const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(a))
        return true;
    return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
}

static am_err bind_socket(am_http *h, int *family)
{
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)h->port);
    int gai = getaddrinfo(h->host, port, &hints, &ai);
    if (gai != 0)
        return am__err(AM_EINVAL, "%s: %s", h->host, gai_strerror(gai));
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    am_err rc = AM_OK;
    /* a backlog for a burst of connects as large as the slots (the kernel
       caps it at net.core.somaxconn) */
    int backlog = h->max_connections < 128 ? 128 : (int)h->max_connections;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, backlog) != 0) {
        rc = am__err(AM_EIO, "%s:%u: %s", h->host, (unsigned)h->port, strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    *family = ai->ai_family;
    freeaddrinfo(ai);
    if (rc)
        return rc;
    socklen_t sl = sizeof h->bound;
    if (getsockname(fd, (struct sockaddr *)&h->bound, &sl) == 0)
        h->port =
            ntohs(h->bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&h->bound)->sin6_port
                                                 : ((struct sockaddr_in *)&h->bound)->sin_port);
    h->fd = fd;
    return AM_OK;
}

/* Make room for max_connections descriptors: raise the soft
   RLIMIT_NOFILE up to the hard one, else lower a default max_connections. */
static am_err fit_fd_limit(am_http *h)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return AM_OK;
    rlim_t need = (rlim_t)h->max_connections + FD_RESERVE;
    if (rl.rlim_cur < need) {
        struct rlimit up = rl;
        up.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need : rl.rlim_max;
        if (up.rlim_cur > rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &up) == 0)
            rl = up;
    }
    if (rl.rlim_cur >= need)
        return AM_OK;
    if (!h->is_max_connections_default || rl.rlim_cur < FD_RESERVE + MIN_CONNECTIONS)
        return am__err(AM_ELIMIT,
                       "max_connections %u needs %llu file descriptors but RLIMIT_NOFILE allows "
                       "%llu (raise it, e.g. ulimit -n, or lower max_connections)",
                       h->max_connections, (unsigned long long)need,
                       (unsigned long long)rl.rlim_cur);
    h->max_connections = (unsigned)(rl.rlim_cur - FD_RESERVE);
    if (h->max_connections < h->io_threads)
        h->max_connections = h->io_threads;
    if (h->max_per_ip > h->max_connections)
        h->max_per_ip = h->max_connections;
    return AM_OK;
}

static am_err start_daemon(am_http *h, int family)
{
    unsigned flags = MHD_ALLOW_SUSPEND_RESUME;
    flags |= MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES ? MHD_USE_EPOLL_INTERNAL_THREAD
                                                                    : MHD_USE_AUTO_INTERNAL_THREAD;
    if (family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (h->tls_cert)
        flags |= MHD_USE_TLS;
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_LISTEN_SOCKET, h->fd, NULL},
        {MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)h->io_threads, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)h->max_connections, NULL},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, (intptr_t)h->max_per_ip, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)h->idle_timeout_s, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)h->max_header_bytes, NULL},
        {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)am__req_uri, h},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)am__req_done, h},
        {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)am__guard_notify, h},
        /* Without TLS the list ends here, before the key. */
        {h->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, h->tls_cert},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, h->tls_key},
        {MHD_OPTION_END, 0, NULL},
    };
    h->d = MHD_start_daemon(flags, 0, NULL, NULL, am__req_access, h, MHD_OPTION_ARRAY, opts,
                            MHD_OPTION_END);
    if (!h->d)
        return am__err(AM_EIO, "libmicrohttpd could not start on %s:%u%s", h->host,
                       (unsigned)h->port,
                       h->tls_cert ? " (check the TLS certificate and key)" : "");
    return AM_OK;
}

am_err am_http_listen(am_http *h)
{
    if (!h)
        return am__err(AM_EINVAL, "server is NULL");
    pthread_mutex_lock(&h->run_lock);
    if (h->d) {
        pthread_mutex_unlock(&h->run_lock);
        return am__err(AM_EMISUSE, "the server is already listening");
    }
    int family = AF_INET;
    am_err rc = fit_fd_limit(h);
    if (!rc)
        rc = bind_socket(h, &family);
    if (!rc && !(rc = am__guard_start(&h->guard)) && !(rc = am__pool_start(&h->pool, h->threads)))
        rc = start_daemon(h, family);
    if (rc) {
        am__guard_stop(&h->guard);
        am__pool_stop(&h->pool);
        if (h->fd >= 0)
            close(h->fd);
        h->fd = -1;
    }
    h->is_listening = rc == AM_OK;
    pthread_mutex_unlock(&h->run_lock);
    return rc;
}

am_err am_http_start(const am_http_opts *o, am_http **out)
{
    am_http *h;
    am_err rc = am_http_new(o, &h);
    if (rc)
        return rc;
    if ((rc = am_http_listen(h))) {
        am_http_free(h);
        return rc;
    }
    *out = h;
    return AM_OK;
}

uint16_t am_http_port(const am_http *h)
{
    return h ? h->port : 0;
}

bool am_http_is_loopback(const am_http *h)
{
    if (!h)
        return false;
    pthread_mutex_lock((pthread_mutex_t *)&h->run_lock);
    bool yes = h->is_listening && am__addr_is_loopback((const struct sockaddr *)&h->bound);
    pthread_mutex_unlock((pthread_mutex_t *)&h->run_lock);
    return yes;
}

unsigned am_http_max_connections(const am_http *h)
{
    return h ? h->max_connections : 0;
}

void am_http_stop(am_http *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->run_lock);
    if (h->d) {
        am__pool_drain(&h->pool);
        MHD_stop_daemon(h->d);
        h->d = NULL;
        am__guard_stop(&h->guard);
        am__pool_stop(&h->pool);
        h->fd = -1;
        h->is_listening = false;
    }
    pthread_mutex_unlock(&h->run_lock);
}

void am_http_free(am_http *h)
{
    if (!h)
        return;
    am_http_stop(h);
    am__router_free(&h->router);
    pthread_rwlock_destroy(&h->lock);
    pthread_mutex_destroy(&h->run_lock);
    pthread_mutex_destroy(&h->guard.lock);
    pthread_cond_destroy(&h->guard.wake);
    pthread_mutex_destroy(&h->pool.lock);
    pthread_cond_destroy(&h->pool.work);
    pthread_cond_destroy(&h->pool.idle);
    am__free(h->host);
    am__free(h->regs);
    am__free(h->tls_cert);
    am__free(h->tls_key);
    am__free(h);
}
