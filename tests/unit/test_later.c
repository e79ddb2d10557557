/*
** test_later.c: deferred answers (src/http/later.c) over real HTTP on
** 127.0.0.1 -- a handler that defers and returns, its answer given by
** another thread; an answer that comes before the handler has returned
** (from the handler itself, and from another thread while the handler
** still runs); the timeout's answer, and a late answer after it that
** must touch nothing; a client that disconnects while its answer is
** deferred; and stopping the server with answers pending (the stop
** waits for them). Each runs for a route on the handler pool and one
** run on the event loop (AM_HTTP_LOOP_SMALL).
**
** Nothing is timed: each step waits for an event (a token deferred, an
** answer received, the server stopping) with a generous limit only so a
** failure cannot hang the run. ASan and TSan builds of this file are the
** check that no answer touches a freed request.
*/
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "http_client.h"
#include "http/server.h"

#define MAX_TOKENS 8
#define WAIT_STEPS 8000 /* x 1 ms: only so that a failure cannot hang the run */

enum { HOLD, SELF, RACE };

/* Handlers run on the server's threads, where cmocka cannot fail a test:
   they count what went wrong in n_bad, which the test thread checks. */
typedef struct ctx {
    pthread_mutex_t lock;
    pthread_cond_t cv;
    int mode;                     /* HOLD: defer and return; SELF: answer, then return;
                                     RACE: return once another thread has answered */
    double timeout_s;             /* the tokens' */
    am_http_later *t[MAX_TOKENS]; /* HOLD's and RACE's, for take() */
    int n_tokens, n_taken, n_deferred, n_filled, n_freed, n_bad;
} ctx;

static ctx g_ctx = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};

/* What the next handlers do; a test begins with reset() (the counts of a
   request go on after its answer: free_ud comes when it is freed). */
static void set_mode(int mode, double timeout_s)
{
    pthread_mutex_lock(&g_ctx.lock);
    g_ctx.mode = mode;
    g_ctx.timeout_s = timeout_s;
    pthread_mutex_unlock(&g_ctx.lock);
}

static void reset(int mode, double timeout_s)
{
    set_mode(mode, timeout_s);
    pthread_mutex_lock(&g_ctx.lock);
    g_ctx.n_tokens = g_ctx.n_taken = g_ctx.n_deferred = 0;
    g_ctx.n_filled = g_ctx.n_freed = g_ctx.n_bad = 0;
    pthread_mutex_unlock(&g_ctx.lock);
}

/* The answer: 200 "rc=AM_OK" when answered AM_OK, else 503 naming rc. */
static void fill(am_http_resp *resp, void *ud, am_err rc)
{
    ctx *c = ud;
    char body[64];
    snprintf(body, sizeof body, "rc=%s", am_err_name(rc));
    am_http_resp_status(resp, rc ? 503 : 200);
    am_http_resp_body(resp, "text/plain", body, strlen(body));
    pthread_mutex_lock(&c->lock);
    c->n_filled++;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->lock);
}

static void freed(void *ud)
{
    ctx *c = ud;
    pthread_mutex_lock(&c->lock);
    c->n_freed++;
    pthread_mutex_unlock(&c->lock);
}

static void deferring(am_http_req *req, am_http_resp *resp, void *ud)
{
    (void)resp; /* the answer is fill()'s */
    ctx *c = ud;
    pthread_mutex_lock(&c->lock);
    int mode = c->mode;
    am_http_later *t = NULL, *again = NULL;
    if (am_http_req_defer(req, c->timeout_s, fill, freed, c, &t) ||
        am_http_req_defer(req, c->timeout_s, fill, freed, c, &again) != AM_EMISUSE)
        c->n_bad++; /* once per request */
    if (!t) {
        pthread_mutex_unlock(&c->lock);
        am_http_resp_error(resp, 500, "internal", "could not defer");
        return;
    }
    int filled = c->n_filled;
    if (mode != SELF)
        c->t[c->n_tokens++ % MAX_TOKENS] = t;
    c->n_deferred++;
    pthread_cond_broadcast(&c->cv);
    if (mode == RACE)
        while (c->n_filled == filled)
            pthread_cond_wait(&c->cv, &c->lock);
    pthread_mutex_unlock(&c->lock);
    if (mode == SELF && !am_http_later_answer(t, AM_EIO)) /* an error found after deferring */
        c->n_bad++;
}

/* An inline route's handler is not parked: it cannot defer. */
static void plain(am_http_req *req, am_http_resp *resp, void *ud)
{
    ctx *c = ud;
    am_http_later *t = NULL;
    bool is_refused = am_http_req_defer(req, 1, fill, freed, c, &t) == AM_EMISUSE && !t &&
                      strstr(am_errmsg(), "cannot defer");
    am_http_resp_body(resp, "text/plain", is_refused ? "refused" : "deferred", is_refused ? 7 : 8);
}

/* The next token a handler deferred (HOLD or RACE), waiting for it. */
static am_http_later *take(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += WAIT_STEPS / 1000;
    pthread_mutex_lock(&g_ctx.lock);
    while (g_ctx.n_tokens == g_ctx.n_taken)
        if (pthread_cond_timedwait(&g_ctx.cv, &g_ctx.lock, &ts) != 0)
            break;
    am_http_later *t =
        g_ctx.n_tokens > g_ctx.n_taken ? g_ctx.t[g_ctx.n_taken++ % MAX_TOKENS] : NULL;
    pthread_mutex_unlock(&g_ctx.lock);
    if (!t)
        fail_msg("no handler deferred its answer");
    return t;
}

static int counted(const int *n)
{
    pthread_mutex_lock(&g_ctx.lock);
    int v = *n;
    pthread_mutex_unlock(&g_ctx.lock);
    return v;
}

/* Poll until is_met(arg), failing with what after WAIT_STEPS ms. */
static void wait_until(bool (*is_met)(void *arg), void *arg, const char *what)
{
    for (int i = 0; !is_met(arg); i++) {
        if (i == WAIT_STEPS)
            fail_msg("%s did not happen", what);
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

static bool is_nothing_parked(void *arg)
{
    am_http *h = arg;
    pthread_mutex_lock(&h->pool.lock);
    size_t n = h->pool.n_parked;
    pthread_mutex_unlock(&h->pool.lock);
    return n == 0;
}

static bool is_stopping(void *arg)
{
    am_http *h = arg;
    pthread_mutex_lock(&h->pool.lock);
    bool stopping = h->pool.is_stopping;
    pthread_mutex_unlock(&h->pool.lock);
    return stopping;
}

static int g_want_filled;

static bool is_filled(void *arg)
{
    (void)arg;
    return counted(&g_ctx.n_filled) >= g_want_filled;
}

/* Wait until no request is parked: every deferred one answered and freed. */
static void wait_unparked(am_http *h)
{
    wait_until(is_nothing_parked, h, "every request's end");
}

static const char *url(am_http *h, const char *path)
{
    static __thread char u[160];
    snprintf(u, sizeof u, "http://127.0.0.1:%u%s", am_http_port(h), path);
    return u;
}

static am_http *start(am_registry **reg)
{
    AM_ASSERT_OK(am_registry_new(reg));
    am_http_opts o = AM_HTTP_OPTS_INIT;
    o.port = 0;
    o.registries = reg;
    o.n_registries = 1;
    o.threads = 2;
    o.io_threads = 1;
    am_http *h;
    AM_ASSERT_OK(am_http_new(&o, &h));
    AM_ASSERT_OK(am_http_route(h, AM_HTTP_POST, "/pool", deferring, &g_ctx, NULL));
    AM_ASSERT_OK(
        am_http_route(h, AM_HTTP_POST | AM_HTTP_LOOP_SMALL, "/loop", deferring, &g_ctx, NULL));
    AM_ASSERT_OK(am_http_route(h, AM_HTTP_GET | AM_HTTP_INLINE, "/inline", plain, &g_ctx, NULL));
    AM_ASSERT_OK(am_http_listen(h));
    return h;
}

/* Stop and free h; then every token has been let go of exactly once, and
   no handler saw anything wrong. */
static void finish(am_http *h, am_registry *reg)
{
    am_http_free(h);
    am_registry_free(reg);
    AM_ASSERT_EQ(counted(&g_ctx.n_freed), counted(&g_ctx.n_deferred));
    AM_ASSERT_EQ(counted(&g_ctx.n_bad), 0);
}

static const char *const PATHS[] = {"/pool", "/loop"};

/* The handler returns; another thread answers later. */
static void test_answer_from_another_thread(void **state)
{
    (void)state;
    am_registry *reg;
    am_http *h = start(&reg);
    reset(HOLD, 30);
    for (size_t i = 0; i < 2; i++) {
        fetcher p = {0};
        fetch_start(&p, am_http_port(h), "POST", PATHS[i], "{}");
        am_http_later *t = take();
        assert_true(am_http_later_answer(t, AM_OK));
        pthread_join(p.t, NULL);
        AM_ASSERT_EQ(p.status, 200);
        AM_ASSERT_STR_EQ(p.body, "rc=AM_OK");
    }
    AM_ASSERT_EQ(counted(&g_ctx.n_filled), 2);
    reply r = fetch(url(h, "/inline"), "GET", NULL, NULL, 0, NULL);
    AM_ASSERT_EQ(r.status, 200);
    AM_ASSERT_STR_EQ(r.body, "refused");
    reply_free(&r);
    finish(h, reg);
}

/* The answer comes before the handler has returned: from the handler
   itself (an error found after deferring), and from another thread while
   the handler still runs (the store can commit before submit returns). */
static void test_answer_before_return(void **state)
{
    (void)state;
    am_registry *reg;
    am_http *h = start(&reg);
    reset(SELF, 30);
    for (size_t i = 0; i < 2; i++) {
        set_mode(SELF, 30);
        reply r = fetch(url(h, PATHS[i]), "POST", NULL, "{}", 0, NULL);
        AM_ASSERT_EQ(r.status, 503);
        AM_ASSERT_STR_EQ(r.body, "rc=AM_EIO");
        reply_free(&r);
        set_mode(RACE, 30);
        int filled = counted(&g_ctx.n_filled);
        fetcher p = {0};
        fetch_start(&p, am_http_port(h), "POST", PATHS[i], "{}");
        am_http_later *t = take();
        assert_true(am_http_later_answer(t, AM_OK)); /* the handler waits for this */
        pthread_join(p.t, NULL);
        AM_ASSERT_EQ(p.status, 200);
        AM_ASSERT_STR_EQ(p.body, "rc=AM_OK");
        AM_ASSERT_EQ(counted(&g_ctx.n_filled), filled + 1);
    }
    finish(h, reg);
}

/* No answer in time: the timeout's (AM_ETIMEDOUT); the late answer loses
   and touches nothing; the token goes once both let go of it. */
static void test_timeout(void **state)
{
    (void)state;
    am_registry *reg;
    am_http *h = start(&reg);
    reset(HOLD, 0.2);
    for (size_t i = 0; i < 2; i++) {
        fetcher p = {0};
        fetch_start(&p, am_http_port(h), "POST", PATHS[i], "{}");
        am_http_later *t = take();
        pthread_join(p.t, NULL);
        AM_ASSERT_EQ(p.status, 503);
        AM_ASSERT_STR_EQ(p.body, "rc=AM_ETIMEDOUT");
        wait_unparked(h); /* the request is freed: only the late answerer holds t */
        assert_false(am_http_later_answer(t, AM_OK));
        AM_ASSERT_EQ(counted(&g_ctx.n_filled), (int)i + 1);
    }
    finish(h, reg);
}

static int raw_post(am_http *h, const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(am_http_port(h));
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    char req[256];
    int n = snprintf(req, sizeof req, "POST %s HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}",
                     path);
    assert_int_equal(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
    return fd;
}

/* The client leaves while its answer is deferred: answered by another
   thread, then by the timeout with a late answer after it. Either way
   the request is freed once, after the answer, and the server carries on. */
static void test_client_disconnects(void **state)
{
    (void)state;
    am_registry *reg;
    am_http *h = start(&reg);
    reset(HOLD, 30);
    for (size_t i = 0; i < 2; i++) {
        set_mode(HOLD, 30);
        int fd = raw_post(h, PATHS[i]);
        am_http_later *t = take();
        close(fd);
        assert_true(am_http_later_answer(t, AM_OK));
        wait_unparked(h);
        set_mode(HOLD, 0.2);
        fd = raw_post(h, PATHS[i]);
        t = take();
        close(fd);
        g_want_filled = 2 * (int)i + 2;
        wait_until(is_filled, NULL, "the timeout's answer");
        wait_unparked(h);
        assert_false(am_http_later_answer(t, AM_OK));
        reply r = fetch(url(h, "/inline"), "GET", NULL, NULL, 0, NULL);
        AM_ASSERT_EQ(r.status, 200);
        reply_free(&r);
    }
    finish(h, reg);
}

typedef struct stopper {
    pthread_t t;
    am_http *h;
    atomic_bool is_done;
} stopper;

static void *stop_thread(void *arg)
{
    stopper *s = arg;
    am_http_stop(s->h);
    atomic_store(&s->is_done, true);
    return NULL;
}

/* am_http_stop() with answers pending waits for them (libmicrohttpd must
   not stop with a suspended connection); a new request meanwhile gets 503. */
static void test_stop_with_answers_pending(void **state)
{
    (void)state;
    am_registry *reg;
    am_http *h = start(&reg);
    reset(HOLD, 30);
    fetcher p[2] = {{0}, {0}};
    am_http_later *t[2];
    for (size_t i = 0; i < 2; i++) {
        fetch_start(&p[i], am_http_port(h), "POST", PATHS[i], "{}");
        t[i] = take();
    }
    stopper s = {.h = h};
    atomic_init(&s.is_done, false);
    pthread_create(&s.t, NULL, stop_thread, &s);
    wait_until(is_stopping, h, "the stop's beginning");
    assert_false(atomic_load(&s.is_done));
    assert_true(am_http_later_answer(t[0], AM_OK));
    assert_false(atomic_load(&s.is_done)); /* the other is still pending */
    assert_true(am_http_later_answer(t[1], AM_OK));
    pthread_join(s.t, NULL);
    for (size_t i = 0; i < 2; i++) {
        pthread_join(p[i].t, NULL);
        AM_ASSERT_EQ(p[i].status, 200);
        AM_ASSERT_STR_EQ(p[i].body, "rc=AM_OK");
    }
    finish(h, reg);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answer_from_another_thread),
        cmocka_unit_test(test_answer_before_return),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_client_disconnects),
        cmocka_unit_test(test_stop_with_answers_pending),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
