/*
** breaker.c: the circuit breaker of breaker.h and its insa_circuit_breaker_*
** metrics.
**
** DESIGN
** A breaker is a small state machine behind one mutex. Every public call
** takes the mutex, reads the clock once, and first "ticks": the time since
** the last call is added to the current state (a local total for
** am_breaker_seconds_in() and the time_in_state counter, so the two agree),
** and an OPEN breaker whose cool-down is over moves to HALF_OPEN. Then the
** call does its own step. Nothing runs in the background, so a breaker
** costs nothing while nobody calls it; the price is that the time-based
** move and the time counter wait for the next call (documented in the
** header).
**
** Failures in CLOSED are a ring of the last N failure times (allocated once,
** N doubles). After a failure is written, the ring's oldest entry is the
** N-th most recent failure; if it is at most window_s old the breaker opens.
** That is an exact sliding window with O(1) work and no per-call
** allocation. Successes do not touch the ring (the rule is N failures per
** window, not N in a row); entering CLOSED empties it.
**
** HALF_OPEN admits calls while fewer than half_open_max_calls admitted ones
** are outstanding; an outcome gives a slot back (never below zero, so an
** outcome without an allow is harmless). M successes close; one failure
** reopens. OPEN ignores outcomes: they come from calls made before it
** opened and say nothing about the dependency now.
**
** METRICS. The five families are rows of am__defs_breaker (catalog.h) and
** registered with am__defs_register(), which finds them when another
** breaker got there first. The breaker resolves its eleven children once,
** at creation -- the state gauge, the stateset, the four possible
** transition edges, three time_in_state and two calls series -- so a call
** never hashes a label. The gauge and the stateset are written under the
** mutex, so concurrent transitions cannot leave them showing a stale state;
** counters are commutative and are written wherever convenient. A breaker
** name is unique per registry while it lives (a global list, consulted only
** by new and free): two live breakers writing one gauge would make it lie.
** After free the series stay, so a new breaker of that name continues them.
**
** CALLBACKS run outside the mutex so that they may call the breaker. To keep
** them ordered and never overlapping, a transition is queued (a fixed ring
** of 64, no allocation) under the mutex, and the thread that finds nobody
** delivering becomes the deliverer: it pops one, drops the mutex, calls,
** retakes it, until the queue is empty. A callback that causes a transition
** queues it and returns; the loop around it delivers it next. If the ring
** is full the transition is counted in n_dropped instead.
**
** THREADS. All state is under b->lock. The clock is called with the lock
** held (so readings are ordered like the steps they drive) and is clamped
** to never go backwards. The live-breaker list has its own lock, never held
** together with a breaker's.
**
** OWNERSHIP. The breaker owns its name copy and ring; the registry owns the
** families and children, which outlive the breaker.
*/
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "agentmon/breaker.h"
#include "agentmon/timer.h"
#include "../util/alloc.h"
#include "../util/error.h"
#include "../util/validate.h"
#include "breaker_defs.h"
#include "defs.h"

/* ------------------------------------------------------------------ */
/* Definitions                                                         */
/* ------------------------------------------------------------------ */

#define SRC "prometheus-integration-plan.md"

/* Indexes of the rows below, in order. */
enum { F_STATE, F_STATUS, F_TRANS, F_TIME, F_CALLS, F__N };

const am_metric_def am__defs_breaker[] = {
    {"breaker", AM_TYPE_GAUGE, "insa_circuit_breaker_state", NULL,
     "Circuit breaker state: 0 closed (calls go through), 1 open (calls are refused), "
     "2 half-open (a few trial calls go through).",
     NULL, AM_DEF_LABELS("agent_type"), NULL, 0, NULL, SRC},
    {"breaker", AM_TYPE_STATESET, "insa_circuit_breaker_status", NULL,
     "Circuit breaker state as a stateset: exactly one of closed, open, half_open is true.", NULL,
     AM_DEF_LABELS("agent_type"), NULL, 0,
     ((const char *const[]){"closed", "open", "half_open", NULL}), SRC},
    {"breaker", AM_TYPE_COUNTER, "insa_circuit_breaker_transitions_total", NULL,
     "Circuit breaker state changes, by the state left (from) and the state entered (to).", NULL,
     AM_DEF_LABELS("agent_type", "from", "to"), NULL, 0, NULL, SRC},
    {"breaker", AM_TYPE_COUNTER, "insa_circuit_breaker_time_in_state_seconds_total", NULL,
     "Time the circuit breaker has spent in each state; brought up to date at every call to "
     "the breaker and at every transition.",
     "seconds", AM_DEF_LABELS("agent_type", "state"), NULL, 0, NULL, SRC},
    {"breaker", AM_TYPE_COUNTER, "insa_circuit_breaker_calls_total", NULL,
     "Calls that asked the circuit breaker whether to go ahead, by its answer: allowed, or "
     "rejected (open, or every half-open trial slot taken).",
     NULL, AM_DEF_LABELS("agent_type", "result"), NULL, 0, NULL, SRC},
};

const size_t am__n_defs_breaker = sizeof am__defs_breaker / sizeof am__defs_breaker[0];
const am_def_table am__table_breaker = {am__defs_breaker, F__N};

_Static_assert(sizeof am__defs_breaker / sizeof am__defs_breaker[0] == F__N,
               "one row per F_ index");

/* The four edges the state machine can take, as transition series. */
enum { E_CLOSED_OPEN, E_OPEN_HALF, E_HALF_CLOSED, E_HALF_OPEN, E__N };

static const struct {
    am_breaker_state from, to;
} EDGES[E__N] = {
    {AM_BREAKER_CLOSED, AM_BREAKER_OPEN},
    {AM_BREAKER_OPEN, AM_BREAKER_HALF_OPEN},
    {AM_BREAKER_HALF_OPEN, AM_BREAKER_CLOSED},
    {AM_BREAKER_HALF_OPEN, AM_BREAKER_OPEN},
};

enum { R_ALLOWED, R_REJECTED, R__N };

#define N_STATES 3
#define PENDING_CAP 64

#define DEFAULT_FAILURES 5u
#define DEFAULT_WINDOW_S 60.0
#define DEFAULT_COOLDOWN_S 30.0
#define DEFAULT_SUCCESSES 2u

/* ------------------------------------------------------------------ */
/* The breaker                                                         */
/* ------------------------------------------------------------------ */

struct am_breaker {
    pthread_mutex_t lock;
    char *name;
    am_registry *reg; /* resolved: never NULL */

    /* options, defaults applied; constant after new */
    unsigned n_threshold; /* N */
    double window_s, cooldown_s;
    unsigned m_successes; /* M */
    unsigned max_calls;
    am_breaker_clock_fn clock;
    void *clock_ud;
    am_breaker_transition_fn on_transition;
    void *transition_ud;

    /* under lock */
    am_breaker_state state;
    double now;            /* latest clock reading, never decreasing */
    double since;          /* when the current state began */
    double counted_to;     /* time in state is counted up to here */
    double secs[N_STATES]; /* time counted per state */
    double *fails;         /* ring of the last n_threshold failure times */
    size_t n_fails, head;  /* entries used; index of the oldest */
    unsigned inflight;     /* HALF_OPEN: admitted calls outstanding */
    unsigned successes;    /* HALF_OPEN: successes so far */

    struct {
        unsigned char from, to;
    } pending[PENDING_CAP]; /* transitions not yet given to the callback */
    size_t pend_head, n_pending;
    bool delivering; /* a thread is running the callback loop */
    uint64_t n_dropped;

    /* series, owned by the registry */
    am_gauge *g_state;
    am_stateset *s_status;
    am_counter *c_edge[E__N];
    am_counter *c_time[N_STATES];
    am_counter *c_calls[R__N];

    am_breaker *next_live; /* under g_live_lock */
};

static pthread_mutex_t g_live_lock = PTHREAD_MUTEX_INITIALIZER;
static am_breaker *g_live;

static const char *const STATE_NAMES[N_STATES] = {"closed", "open", "half_open"};

const char *am_breaker_state_name(am_breaker_state s)
{
    return (unsigned)s < N_STATES ? STATE_NAMES[s] : "unknown";
}

static double default_clock(void *ud)
{
    (void)ud;
    return (double)am_now_ns() / 1e9;
}

/* ------------------------------------------------------------------ */
/* State machine (all under b->lock)                                   */
/* ------------------------------------------------------------------ */

/* Read the clock (clamped: never backwards, never NaN or infinite) and count
   the time since the last reading into the current state. */
static void account(am_breaker *b)
{
    double t = b->clock(b->clock_ud);
    if (isfinite(t) && t > b->now)
        b->now = t;
    double dt = b->now - b->counted_to;
    if (dt > 0) {
        b->secs[b->state] += dt;
        am_counter_add(b->c_time[b->state], dt);
        b->counted_to = b->now;
    }
}

/* Move to state `to` at b->now (time already counted). Returns true when a
   transition was queued for the callback. */
static bool transition(am_breaker *b, am_breaker_state to)
{
    am_breaker_state from = b->state;
    for (int e = 0; e < E__N; e++)
        if (EDGES[e].from == from && EDGES[e].to == to)
            am_counter_inc(b->c_edge[e]);
    b->state = to;
    b->since = b->now;
    b->inflight = 0;
    b->successes = 0;
    b->n_fails = 0;
    b->head = 0;
    am_gauge_set(b->g_state, (double)to);
    am_stateset_select(b->s_status, (size_t)to);
    if (!b->on_transition)
        return false;
    if (b->n_pending == PENDING_CAP) {
        b->n_dropped++;
        return false;
    }
    size_t i = (b->pend_head + b->n_pending++) % PENDING_CAP;
    b->pending[i].from = (unsigned char)from;
    b->pending[i].to = (unsigned char)to;
    return true;
}

/* Lock b and bring it up to date. Returns whether a transition was queued. */
static bool enter(am_breaker *b)
{
    pthread_mutex_lock(&b->lock);
    account(b);
    if (b->state == AM_BREAKER_OPEN && b->now - b->since >= b->cooldown_s)
        return transition(b, AM_BREAKER_HALF_OPEN);
    return false;
}

/* After unlocking: if this call queued a transition, deliver what is queued
   unless another thread is already doing it (it will see ours). */
static void deliver(am_breaker *b, bool queued)
{
    if (!queued)
        return;
    pthread_mutex_lock(&b->lock);
    if (b->delivering) {
        pthread_mutex_unlock(&b->lock);
        return;
    }
    b->delivering = true;
    while (b->n_pending) {
        am_breaker_state from = (am_breaker_state)b->pending[b->pend_head].from;
        am_breaker_state to = (am_breaker_state)b->pending[b->pend_head].to;
        b->pend_head = (b->pend_head + 1) % PENDING_CAP;
        b->n_pending--;
        pthread_mutex_unlock(&b->lock);
        b->on_transition(b->name, from, to, b->transition_ud);
        pthread_mutex_lock(&b->lock);
    }
    b->delivering = false;
    pthread_mutex_unlock(&b->lock);
}

/* ------------------------------------------------------------------ */
/* Calls                                                               */
/* ------------------------------------------------------------------ */

bool am_breaker_allow(am_breaker *b)
{
    if (!b)
        return false;
    bool queued = enter(b);
    bool ok;
    switch (b->state) {
    case AM_BREAKER_CLOSED:
        ok = true;
        break;
    case AM_BREAKER_HALF_OPEN:
        ok = b->inflight < b->max_calls;
        if (ok)
            b->inflight++;
        break;
    default:
        ok = false;
        break;
    }
    pthread_mutex_unlock(&b->lock);
    am_counter_inc(b->c_calls[ok ? R_ALLOWED : R_REJECTED]);
    deliver(b, queued);
    return ok;
}

void am_breaker_success(am_breaker *b)
{
    if (!b)
        return;
    bool queued = enter(b);
    if (b->state == AM_BREAKER_HALF_OPEN) {
        if (b->inflight)
            b->inflight--;
        if (++b->successes >= b->m_successes)
            queued |= transition(b, AM_BREAKER_CLOSED);
    }
    pthread_mutex_unlock(&b->lock);
    deliver(b, queued);
}

void am_breaker_failure(am_breaker *b)
{
    if (!b)
        return;
    bool queued = enter(b);
    if (b->state == AM_BREAKER_CLOSED) {
        size_t n = b->n_threshold;
        if (b->n_fails < n) {
            b->fails[(b->head + b->n_fails++) % n] = b->now;
        } else {
            b->fails[b->head] = b->now;
            b->head = (b->head + 1) % n;
        }
        /* fails[head] is now the N-th most recent failure, once there are N */
        if (b->n_fails == n && b->now - b->fails[b->head] <= b->window_s)
            queued |= transition(b, AM_BREAKER_OPEN);
    } else if (b->state == AM_BREAKER_HALF_OPEN) {
        queued |= transition(b, AM_BREAKER_OPEN);
    }
    pthread_mutex_unlock(&b->lock);
    deliver(b, queued);
}

am_breaker_state am_breaker_get_state(am_breaker *b)
{
    if (!b)
        return AM_BREAKER_CLOSED;
    bool queued = enter(b);
    am_breaker_state s = b->state;
    pthread_mutex_unlock(&b->lock);
    deliver(b, queued);
    return s;
}

double am_breaker_seconds_in(am_breaker *b, am_breaker_state s)
{
    if (!b)
        return 0;
    bool queued = enter(b);
    double v = (unsigned)s < N_STATES ? b->secs[s] : 0;
    pthread_mutex_unlock(&b->lock);
    deliver(b, queued);
    return v;
}

uint64_t am__breaker_n_dropped(am_breaker *b)
{
    pthread_mutex_lock(&b->lock);
    uint64_t n = b->n_dropped;
    pthread_mutex_unlock(&b->lock);
    return n;
}

/* ------------------------------------------------------------------ */
/* Creation                                                            */
/* ------------------------------------------------------------------ */

static am_err check_count(unsigned v, const char *what)
{
    if (v > AM_BREAKER_MAX_COUNT)
        return am__err(AM_EINVAL, "breaker option %s is %u, above the limit of %d", what, v,
                       AM_BREAKER_MAX_COUNT);
    return AM_OK;
}

static am_err check_seconds(double v, const char *what)
{
    if (!isfinite(v) || v < 0)
        return am__err(AM_EINVAL, "breaker option %s is %g: it must be finite and >= 0", what, v);
    return AM_OK;
}

static am_err check_opts(const am_breaker_opts *o)
{
    am_err rc;
    if (!o->name)
        return am__err(AM_EINVAL, "breaker name is NULL");
    if (!o->name[0])
        return am__err(AM_EINVAL, "breaker name is empty");
    if ((rc = am__check_text(o->name, AM_BREAKER_MAX_NAME, "breaker name")) ||
        (rc = check_count(o->failure_threshold, "failure_threshold")) ||
        (rc = check_count(o->half_open_successes, "half_open_successes")) ||
        (rc = check_count(o->half_open_max_calls, "half_open_max_calls")) ||
        (rc = check_seconds(o->window_s, "window_s")) ||
        (rc = check_seconds(o->cooldown_s, "cooldown_s")))
        return rc;
    for (size_t i = 0; i < sizeof o->reserved / sizeof o->reserved[0]; i++)
        if (o->reserved[i])
            return am__err(AM_EINVAL, "breaker option reserved[%zu] is not NULL", i);
    return AM_OK;
}

/* A label lookup's result as am_breaker_new() reports it: the overflow
   series is no place for a breaker, so AM_ELIMIT is an error here. */
static am_err child_rc(am_err rc, const am_breaker *b, int family)
{
    if (rc == AM_ELIMIT)
        return am__err(AM_ELIMIT, "breaker \"%s\": %s is at its limit of series", b->name,
                       am__defs_breaker[family].name);
    return rc;
}

static am_err resolve(am_breaker *b)
{
    void *fam[F__N];
    am_err rc = am__defs_register(b->reg, am__defs_breaker, am__n_defs_breaker, fam);
    if (rc)
        return rc;
    const char *name = b->name;
    if ((rc = child_rc(am_gauge_with(fam[F_STATE], AM_LABELS(name), &b->g_state), b, F_STATE)) ||
        (rc =
             child_rc(am_stateset_with(fam[F_STATUS], AM_LABELS(name), &b->s_status), b, F_STATUS)))
        return rc;
    for (int e = 0; e < E__N; e++) {
        const char *from = STATE_NAMES[EDGES[e].from], *to = STATE_NAMES[EDGES[e].to];
        rc = am_counter_with(fam[F_TRANS], AM_LABELS(name, from, to), &b->c_edge[e]);
        if ((rc = child_rc(rc, b, F_TRANS)))
            return rc;
    }
    for (int s = 0; s < N_STATES; s++) {
        rc = am_counter_with(fam[F_TIME], AM_LABELS(name, STATE_NAMES[s]), &b->c_time[s]);
        if ((rc = child_rc(rc, b, F_TIME)))
            return rc;
    }
    static const char *const results[R__N] = {"allowed", "rejected"};
    for (int r = 0; r < R__N; r++) {
        rc = am_counter_with(fam[F_CALLS], AM_LABELS(name, results[r]), &b->c_calls[r]);
        if ((rc = child_rc(rc, b, F_CALLS)))
            return rc;
    }
    return AM_OK;
}

/* Put b on the live list unless its name is taken in its registry. */
static am_err go_live(am_breaker *b)
{
    am_err rc = AM_OK;
    pthread_mutex_lock(&g_live_lock);
    for (am_breaker *x = g_live; x; x = x->next_live) {
        if (x->reg == b->reg && strcmp(x->name, b->name) == 0) {
            rc = am__err(AM_EEXIST, "a breaker named \"%s\" already exists in this registry",
                         b->name);
            break;
        }
    }
    if (!rc) {
        b->next_live = g_live;
        g_live = b;
    }
    pthread_mutex_unlock(&g_live_lock);
    return rc;
}

static void leave_live(am_breaker *b)
{
    pthread_mutex_lock(&g_live_lock);
    for (am_breaker **pp = &g_live; *pp; pp = &(*pp)->next_live) {
        if (*pp == b) {
            *pp = b->next_live;
            break;
        }
    }
    pthread_mutex_unlock(&g_live_lock);
}

/* Free what new allocated (b is not live; its lock is destroyed or was never made). */
static void discard(am_breaker *b)
{
    am__free(b->fails);
    am__free(b->name);
    am__free(b);
}

am_err am_breaker_new(const am_breaker_opts *o, am_breaker **out)
{
    if (!o || !out)
        return am__err(AM_EINVAL, "breaker options or out pointer is NULL");
    am_err rc = check_opts(o);
    if (rc)
        return rc;
    am_registry *reg = o->registry ? o->registry : am_registry_default();
    if (!reg)
        return am__err(AM_ENOMEM, "out of memory creating the default registry");

    am_breaker *b = am__calloc(1, sizeof *b);
    if (!b)
        return am__err(AM_ENOMEM, "out of memory creating breaker \"%s\"", o->name);
    b->reg = reg;
    b->n_threshold = o->failure_threshold ? o->failure_threshold : DEFAULT_FAILURES;
    b->window_s = o->window_s > 0 ? o->window_s : DEFAULT_WINDOW_S;
    b->cooldown_s = o->cooldown_s > 0 ? o->cooldown_s : DEFAULT_COOLDOWN_S;
    b->m_successes = o->half_open_successes ? o->half_open_successes : DEFAULT_SUCCESSES;
    b->max_calls = o->half_open_max_calls ? o->half_open_max_calls : b->m_successes;
    b->clock = o->clock ? o->clock : default_clock;
    b->clock_ud = o->clock_userdata;
    b->on_transition = o->on_transition;
    b->transition_ud = o->transition_userdata;
    b->name = am__strdup(o->name);
    b->fails = am__calloc(b->n_threshold, sizeof *b->fails);
    if (!b->name || !b->fails) {
        discard(b);
        return am__err(AM_ENOMEM, "out of memory creating breaker \"%s\"", o->name);
    }
    if (pthread_mutex_init(&b->lock, NULL) != 0) {
        discard(b);
        return am__err(AM_ENOMEM, "breaker \"%s\": could not create its mutex", o->name);
    }
    if ((rc = resolve(b)) || (rc = go_live(b))) {
        pthread_mutex_destroy(&b->lock);
        discard(b);
        return rc;
    }

    /* Live and unique: now its series may be written. */
    double t = b->clock(b->clock_ud);
    b->now = isfinite(t) ? t : 0;
    b->since = b->counted_to = b->now;
    b->state = AM_BREAKER_CLOSED;
    am_gauge_set(b->g_state, AM_BREAKER_CLOSED);
    am_stateset_select(b->s_status, AM_BREAKER_CLOSED);
    *out = b;
    return AM_OK;
}

void am_breaker_free(am_breaker *b)
{
    if (!b)
        return;
    leave_live(b);
    pthread_mutex_lock(&b->lock);
    account(b); /* no state change here: that would call back from free */
    pthread_mutex_unlock(&b->lock);
    pthread_mutex_destroy(&b->lock);
    discard(b);
}
