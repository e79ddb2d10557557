/*
** pool.c: the handler threads -- where route handlers run, away from the
** threads that read and write sockets.
**
** WHY
** libmicrohttpd's threads each run an event loop over their share of the
** connections and call the access handler in that loop. A handler that
** waits (agentmon serve's ingest waits up to 30 s for the store's commit;
** a query waits for PostgreSQL) froze every other connection of its
** thread, /health and /metrics included. So a request whose route is not
** AM_HTTP_INLINE is parked instead: its connection is suspended
** (MHD_suspend_connection, from the access handler, the one safe place),
** the request goes on this queue, a pool thread runs the handler and
** builds the answer (gzip included), sets the request DONE and resumes
** the connection (MHD_resume_connection is safe from any thread).
** libmicrohttpd then calls the access handler again on the connection's
** own thread, which queues the answer (request.c). The event loops only
** ever parse, route, run inline handlers (the built-in routes, which
** never block) and move bytes.
**
** A suspended connection keeps its slot but is not timed out; the guard
** leaves it alone (phase BUSY). A client that disconnects meanwhile is
** noticed once the connection is resumed.
**
** STOPPING
** libmicrohttpd must not be stopped while a connection is suspended (an
** API violation: leaks or worse). n_parked counts requests from their
** suspension until libmicrohttpd reports them complete -- their answer
** sent, or their connection failed -- on the connection's thread
** (NOTIFY_COMPLETED), never by the pool thread: "resumed" means nothing
** until libmicrohttpd has processed the resumption, and a stop that came
** sooner would cut the answer off. am__pool_drain() sets is_stopping (new
** requests are answered 503 "the server is stopping" without parking;
** queued ones too, by the pool threads, which never start them), then
** waits for n_parked to reach 0: handlers already running finish.
** am__pool_stop() joins the threads after libmicrohttpd has stopped.
**
** A handler that deferred its answer (am_http_req_defer, later.c) leaves
** its request parked: it is counted until libmicrohttpd reports it
** complete like any other, so a drain waits for the deferred answer too
** (from its answerer, or at worst from its timeout: the guard's reaper,
** which gives it, stops only after libmicrohttpd has).
**
** OWNERSHIP
** A parked request belongs to the pool thread that took it until it sets
** DONE and resumes; after MHD_resume_connection it touches nothing of it.
** A deferred one belongs to its token (later.c) from the handler's return:
** whichever of the answer and the return comes last resumes it.
*/
#include <microhttpd.h>

#include "../util/alloc.h"
#include "../util/error.h"
#include "server.h"

static void *worker(void *arg)
{
    am_pool *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->head && !p->is_exiting)
            pthread_cond_wait(&p->work, &p->lock);
        if (!p->head)
            break; /* exiting, nothing left */
        am_http_req *r = p->head;
        p->head = r->next;
        if (!p->head)
            p->tail = NULL;
        r->next = NULL;
        bool refuse = p->is_stopping;
        pthread_mutex_unlock(&p->lock);
        if (refuse) {
            am__req_fail(r, 503, "unavailable", r->match.route->pattern, "the server is stopping");
            am__req_resume(r); /* r is libmicrohttpd's again */
        } else {
            am__req_handle(r); /* resumed, or deferred (later.c) */
        }
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

am_err am__pool_start(am_pool *p, unsigned n_threads)
{
    p->is_stopping = p->is_exiting = false;
    p->threads = am__calloc(n_threads, sizeof *p->threads);
    if (!p->threads)
        return am__err(AM_ENOMEM, "out of memory starting the handler threads");
    p->n_threads = n_threads;
    for (p->n_started = 0; p->n_started < n_threads; p->n_started++)
        if (pthread_create(&p->threads[p->n_started], NULL, worker, p) != 0) {
            am__pool_stop(p);
            return am__err(AM_ENOMEM, "cannot start the HTTP server's handler threads");
        }
    return AM_OK;
}

bool am__pool_park(am_pool *p, am_http_req *r)
{
    pthread_mutex_lock(&p->lock);
    bool ok = !p->is_stopping;
    if (ok) {
        p->n_parked++;
        r->is_parked = true;
        atomic_store_explicit(&r->state, AM_REQ_QUEUED, memory_order_relaxed);
    }
    pthread_mutex_unlock(&p->lock);
    return ok;
}

void am__pool_push(am_pool *p, am_http_req *r)
{
    pthread_mutex_lock(&p->lock);
    r->next = NULL;
    if (p->tail)
        p->tail->next = r;
    else
        p->head = r;
    p->tail = r;
    pthread_mutex_unlock(&p->lock);
    /* after the unlock, so the woken thread does not sleep again on the
       lock the caller still holds (a context switch more per request) */
    pthread_cond_signal(&p->work);
}

void am__pool_unpark(am_pool *p, am_http_req *r)
{
    if (!r->is_parked)
        return;
    r->is_parked = false;
    pthread_mutex_lock(&p->lock);
    p->n_parked--;
    pthread_cond_broadcast(&p->idle);
    pthread_mutex_unlock(&p->lock);
}

void am__pool_drain(am_pool *p)
{
    pthread_mutex_lock(&p->lock);
    p->is_stopping = true;
    pthread_cond_broadcast(&p->work);
    while (p->n_parked)
        pthread_cond_wait(&p->idle, &p->lock);
    pthread_mutex_unlock(&p->lock);
}

void am__pool_stop(am_pool *p)
{
    pthread_mutex_lock(&p->lock);
    p->is_exiting = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
    for (unsigned i = 0; i < p->n_started; i++)
        pthread_join(p->threads[i], NULL);
    am__free(p->threads);
    p->threads = NULL;
    p->n_threads = p->n_started = 0;
}
