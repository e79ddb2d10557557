/*
** guard.c: deadlines libmicrohttpd does not have -- the request line and
** headers must arrive within header_timeout_s, and a body must keep up a
** minimum rate -- enforced by one reaper thread per server.
**
** WHY
** libmicrohttpd's only timeout is an idle timeout, restarted by every byte.
** A client sending one header line every 5 s (or one body byte) is never
** idle, so a few hundred of them held every connection slot for as long
** as they liked (slowloris). Its per-connection timeout setter cannot help:
** it is the same idle timeout, and may only be called from the
** connection's own thread.
**
** DESIGN
** Every connection gets an am_conn when libmicrohttpd tells us it started
** (MHD_OPTION_NOTIFY_CONNECTION, STARTED) and loses it when it tells us it
** closed (CLOSED). The connection's own thread moves it between phases
** (am__conn_phase, from request.c):
**   HEADERS  from the accept, and again from the end of each response
**            (a keep-alive connection waits at most header_timeout_s for
**            its next request, and must deliver it whole in that time);
**   BODY     from the headers' end: the body may take body_grace_s plus
**            one second per min_rate bytes received (Apache mod_reqtimeout's
**            "body=N,MinRate=R" rule);
**   BUSY     a handler runs or the answer is being sent: only the idle
**            timeout applies (a slow handler is not the client's fault).
** Four times a second the reaper walks the list and shutdown(2)s the
** socket of a connection past its deadline. libmicrohttpd then reads EOF
** and closes the connection the ordinary way on its own thread: we never
** touch its state, only the socket under it. (With TLS, gnutls sees the
** EOF.) The connection is not answered: a client that has not finished
** sending its request in 10 s is not waiting for a 408.
**
** WHY shutdown(2) ON ANOTHER THREAD IS SAFE
** The danger is the fd number: once libmicrohttpd close()s it, the number
** may be reused at once by any other open() in the process, and a late
** shutdown() would cut an unrelated socket. libmicrohttpd calls the
** CLOSED notification before it closes the socket -- in
** MHD_cleanup_connections() (daemon.c: notify_connection(CLOSED), then
** MHD_ip_limit_del, epoll_ctl(DEL), then MHD_socket_close_chk_), and in
** internal_add_connection()'s failure path likewise -- and our CLOSED
** handler takes the guard's lock to unlink the record. The reaper holds
** that same lock while it calls shutdown(). So whenever the reaper sees a
** record, the fd in it is still the connection's own. Debug builds check
** the order on every close (the fd must still be open in CLOSED).
**
** THREADING
** The list and is_shut are under g->lock. phase, since_ns and body_bytes
** are written only by the connection's thread and read by the reaper, as
** atomics; since_ns is stored before phase (release) so that a reaper
** that reads the new phase (acquire) sees its start time. An am_conn is
** allocated and freed on the connection's thread, inside the callbacks.
*/
#include <assert.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <sys/socket.h>
#include <time.h>

#include "agentmon/timer.h"
#include "../util/alloc.h"
#include "../util/error.h"
#include "server.h"

#define TICK_MS 250

void am__conn_phase(am_conn *c, int phase)
{
    if (!c)
        return;
    atomic_store_explicit(&c->since_ns, am_now_ns(), memory_order_relaxed);
    atomic_store_explicit(&c->body_bytes, 0, memory_order_relaxed);
    atomic_store_explicit(&c->phase, phase, memory_order_release);
}

static void link_conn(am_guard *g, am_conn *c)
{
    pthread_mutex_lock(&g->lock);
    c->next = g->head;
    if (g->head)
        g->head->prev = c;
    g->head = c;
    g->n++;
    pthread_mutex_unlock(&g->lock);
}

static void unlink_conn(am_guard *g, am_conn *c)
{
    pthread_mutex_lock(&g->lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        g->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    g->n--;
    pthread_mutex_unlock(&g->lock);
}

void am__guard_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                      enum MHD_ConnectionNotificationCode toe)
{
    am_http *h = cls;
    am_guard *g = &h->guard;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        int fd = ci ? ci->connect_fd : -1;
        am_conn *c = am__calloc(1, sizeof *c);
        if (!c) {
            /* Unguarded connections must not exist: end this one now (its
               fd is certainly open: we are in its thread, before any use). */
            if (fd >= 0)
                shutdown(fd, SHUT_RDWR);
            *socket_context = NULL;
            return;
        }
        c->fd = fd;
        am__conn_phase(c, AM_CONN_HEADERS);
        link_conn(g, c);
        *socket_context = c;
        am_gauge_add(g->open, 1);
        return;
    }
    am_conn *c = *socket_context;
    if (!c)
        return;
    /* libmicrohttpd has not closed the socket yet (see the essay above). */
    assert(c->fd < 0 || fcntl(c->fd, F_GETFD) != -1);
    unlink_conn(g, c);
    am_gauge_add(g->open, -1);
    am__free(c);
    *socket_context = NULL;
}

/* Whether c is past its deadline at now (g->lock held). */
static int overdue(const am_guard *g, am_conn *c, uint64_t now)
{
    int phase = atomic_load_explicit(&c->phase, memory_order_acquire);
    uint64_t since = atomic_load_explicit(&c->since_ns, memory_order_relaxed);
    uint64_t elapsed = now > since ? now - since : 0;
    if (phase == AM_CONN_HEADERS)
        return elapsed > g->header_ns ? AM_CONN_HEADERS : -1;
    if (phase == AM_CONN_BODY && g->min_rate) {
        uint64_t got = atomic_load_explicit(&c->body_bytes, memory_order_relaxed);
        /* grace plus one second per min_rate bytes, in ns, without overflow */
        uint64_t earned =
            got / g->min_rate * 1000000000ull + got % g->min_rate * 1000000000ull / g->min_rate;
        return elapsed > g->grace_ns && elapsed - g->grace_ns > earned ? AM_CONN_BODY : -1;
    }
    return -1;
}

static void *reaper(void *arg)
{
    am_guard *g = arg;
    pthread_mutex_lock(&g->lock);
    while (!g->is_stopping) {
        uint64_t now = am_now_ns();
        for (am_conn *c = g->head; c; c = c->next) {
            if (c->is_shut)
                continue;
            int why = overdue(g, c, now);
            if (why < 0)
                continue;
            /* The connection's thread sees EOF and closes it; is_shut keeps
               us from counting it twice meanwhile. */
            shutdown(c->fd, SHUT_RDWR);
            c->is_shut = true;
            am_counter_inc(why == AM_CONN_HEADERS ? g->closed_headers : g->closed_body);
        }
        /* deferred answers past their time (later.c): answered without
           the lock, which their answerers take */
        am_http_later *due = am__later_due(g, now);
        if (due) {
            pthread_mutex_unlock(&g->lock);
            am__later_expire(due);
            pthread_mutex_lock(&g->lock);
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += TICK_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&g->wake, &g->lock, &ts);
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

am_err am__guard_start(am_guard *g)
{
    g->is_stopping = false;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_destroy(&g->wake);
    pthread_cond_init(&g->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&g->thread, NULL, reaper, g) != 0)
        return am__err(AM_ENOMEM, "cannot start the HTTP server's deadline thread");
    g->is_running = true;
    return AM_OK;
}

void am__guard_stop(am_guard *g)
{
    if (!g->is_running)
        return;
    pthread_mutex_lock(&g->lock);
    g->is_stopping = true;
    pthread_cond_signal(&g->wake);
    pthread_mutex_unlock(&g->lock);
    pthread_join(g->thread, NULL);
    g->is_running = false;
}
