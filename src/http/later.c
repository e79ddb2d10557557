/*
** later.c: deferred answers (am_http_req_defer, agentmon/http.h) -- a
** request answered by whichever thread finishes its work, with no thread
** waiting meanwhile.
**
** WHY
** agentmon serve's ingest answers 200 only after the store committed. A
** handler thread used to wait for the writer's commit: event loop -> pool
** thread -> (wait) writer -> pool thread -> event loop, four or more
** context switches per request, more than half of a one-event request's
** CPU on a small machine (issue 14). Deferred, the writer answers itself:
** event loop -> writer -> event loop (with AM_HTTP_LOOP_SMALL, the
** handler runs on the event loop; otherwise it adds one pool hop).
**
** THE TOKEN
** am_http_req_defer() makes a token for a parked request (its connection is
** suspended, or will be before the handler's caller lets go of it: see
** pending). Three counters make it safe from any thread:
**   claimed  0 -> 1 once, by compare-and-swap: the answerer or the
**            timeout, whichever comes first, fills the answer (fn); the
**            loser touches nothing of the request.
**   pending  2 -> 0: the answer is filled (1) and the handler has
**            returned (1), in either order; whoever brings it to 0 builds
**            the answer, marks the request DONE and resumes its
**            connection (am__req_resume). So an answer that comes before
**            the handler returned -- the writer can commit before
**            am_store_submit_then() returns -- never resumes a connection
**            the event loop has not suspended yet, and the handler's
**            caller never reads a request another thread has freed.
**   refs     2 -> 0: the answerer's (dropped by am_http_later_answer)
**            and the request's (dropped when libmicrohttpd frees the
**            request, am__req_done). At 0, free_ud(ud) and the token go:
**            a late answer after a timeout finds its token, loses the
**            claim, and touches nothing else.
** The request stays valid while pending > 0: it is freed only after its
** answer is sent or its connection failed, which follows the resumption
** (libmicrohttpd neither polls nor times out a suspended connection, so a
** client that leaves is noticed only then).
**
** ON THE EVENT LOOP (AM_HTTP_LOOP_SMALL, request.c's dispatch): the
** handler runs in the access callback, before the connection is
** suspended. If it was answered already (pending 1) the loop takes the
** answer itself and never suspends; else it suspends, then arms: an
** answer between the two finds the connection suspended, as the pool's
** path always does.
**
** THE TIMEOUT
** The guard's reaper thread (guard.c), which already wakes four times a
** second, walks the deadline list under the guard's lock. A token is put
** on it by am__later_arm() when the handler has returned (under that lock:
** what the handler wrote is then visible to the reaper) unless it was
** answered already, and taken off by whoever claims it. The reaper
** claims the tokens due, and outside the lock fills them with
** AM_ETIMEDOUT and completes them.
**
** STOPPING
** A deferred request stays parked (pool.c's n_parked) until
** libmicrohttpd reports it complete, so am_http_stop() waits for its
** answer -- from its answerer, or at worst from its timeout, since the
** reaper stops only after libmicrohttpd has. A client that disconnects
** while its request is deferred is noticed once the connection resumes;
** the request is then freed the ordinary way.
*/
#include <math.h>

#include "agentmon/timer.h"
#include "../util/alloc.h"
#include "../util/error.h"
#include "server.h"

#define MAX_TIMEOUT_S 1e9 /* 31 years: "never", within a uint64_t of ns */

am_err am_http_req_defer(am_http_req *req, double timeout_s, am_http_later_fn fn,
                         void (*free_ud)(void *ud), void *ud, am_http_later **out)
{
    if (!req || !fn || !out || !(timeout_s > 0) || !isfinite(timeout_s))
        return am__err(AM_EINVAL, "deferring needs a request, an answer function and a "
                                  "timeout > 0 s");
    if (req->later || !req->is_parked)
        return am__err(AM_EMISUSE, "this request cannot defer its answer (%s)",
                       req->later ? "deferred already" : "its route runs inline");
    am_http_later *t = am__calloc(1, sizeof *t);
    if (!t)
        return am__err(AM_ENOMEM, "out of memory deferring an answer");
    if (timeout_s > MAX_TIMEOUT_S)
        timeout_s = MAX_TIMEOUT_S; /* so that the deadline cannot overflow */
    t->r = req;
    t->deadline_ns = am_now_ns() + (uint64_t)(timeout_s * 1e9);
    atomic_init(&t->claimed, 0);
    atomic_init(&t->pending, 2);
    atomic_init(&t->refs, 2);
    t->fn = fn;
    t->free_ud = free_ud;
    t->ud = ud;
    req->later = t;
    *out = t;
    return AM_OK;
}

void am__later_release(am_http_later *t)
{
    if (!t || atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (t->free_ud)
        t->free_ud(t->ud);
    am__free(t);
}

static bool claim(am_http_later *t)
{
    int open = 0;
    return atomic_compare_exchange_strong_explicit(&t->claimed, &open, 1, memory_order_acq_rel,
                                                   memory_order_acquire);
}

/* One of the two things the request waits for is done; the last one
   completes it. */
static void one_done(am_http_later *t)
{
    if (atomic_fetch_sub_explicit(&t->pending, 1, memory_order_acq_rel) != 1)
        return;
    am_http_req *r = t->r;
    am__req_finish(r, r->match.route->pattern);
    am__req_resume(r);
}

static void unlink_later(am_guard *g, am_http_later *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        g->later = t->next;
    if (t->next)
        t->next->prev = t->prev;
    t->prev = t->next = NULL;
    t->is_linked = false;
}

bool am_http_later_answer(am_http_later *t, am_err rc)
{
    if (!t)
        return false;
    bool won = claim(t);
    if (won) {
        am_http_req *r = t->r;
        am_guard *g = &r->h->guard;
        pthread_mutex_lock(&g->lock);
        if (t->is_linked)
            unlink_later(g, t);
        pthread_mutex_unlock(&g->lock);
        t->fn(&r->resp, t->ud, rc);
        one_done(t);
    }
    am__later_release(t);
    return won;
}

void am__later_arm(am_http_req *r)
{
    am_http_later *t = r->later;
    am_guard *g = &r->h->guard;
    pthread_mutex_lock(&g->lock);
    if (!atomic_load_explicit(&t->claimed, memory_order_acquire)) {
        t->prev = NULL;
        t->next = g->later;
        if (g->later)
            g->later->prev = t;
        g->later = t;
        t->is_linked = true;
    }
    pthread_mutex_unlock(&g->lock);
    one_done(t);
}

am_http_later *am__later_due(am_guard *g, uint64_t now)
{
    am_http_later *due = NULL;
    for (am_http_later *t = g->later, *next; t; t = next) {
        next = t->next;
        if (t->deadline_ns > now || !claim(t))
            continue;
        unlink_later(g, t);
        t->next = due;
        due = t;
    }
    return due;
}

void am__later_expire(am_http_later *list)
{
    while (list) {
        am_http_later *t = list;
        list = t->next; /* t may be freed once completed */
        t->next = NULL;
        am__err(AM_ETIMEDOUT, "no answer within the request's time limit");
        t->fn(&t->r->resp, t->ud, AM_ETIMEDOUT);
        one_done(t);
    }
}
