/*
** breaker.h: a circuit breaker that stops calling a failing dependency for
** a while, and reports what it does (the insa_circuit_breaker_* metrics of
** prometheus-integration-plan.md).
**
**     am_breaker_opts o = AM_BREAKER_OPTS_INIT;
**     o.name = "llm:openai";                  the agent_type label
**     am_breaker *b;
**     am_breaker_new(&o, &b);
**
**     if (!am_breaker_allow(b))
**         return fallback();                  open: do not even try
**     if (call_openai() == 0)
**         am_breaker_success(b);
**     else
**         am_breaker_failure(b);
**
** STATES. CLOSED (0): calls go through; failures are remembered. When
** failure_threshold (N) failures have been reported within window_s
** seconds, the breaker OPENS (1): am_breaker_allow() says no, for
** cooldown_s seconds. Then it is HALF_OPEN (2): up to half_open_max_calls
** trial calls may be in flight at once; half_open_successes (M) successes
** close it, and one failure opens it again for a fresh cool-down.
**
**     CLOSED --N failures in window--> OPEN --cool-down over--> HALF_OPEN
**        ^                              ^                          |
**        |                              +--------any failure-------+
**        +-----------------------M successes-----------------------+
**
** The numbers are the values of the state gauge: the plan's alert
** CircuitBreakerOpen fires on insa_circuit_breaker_state == 1.
**
** OUTCOMES. am_breaker_success()/am_breaker_failure() report how a call
** went. In CLOSED a failure is kept as a time in a ring of the N most
** recent; the breaker opens when the oldest of those N is at most window_s
** old. A success does NOT clear the failures: the rule is "N failures
** within the window", not "N in a row", so a dependency failing every
** other call under load still trips it. An outcome may be reported without
** a matching allow() (a call made anyway, or one allowed before the breaker
** opened that finishes later): in CLOSED and HALF_OPEN it counts like any
** other (a success towards M, a failure towards N or straight back to
** OPEN, and it frees a half-open slot if one is taken); in OPEN it is
** ignored (it cannot extend or cut short the cool-down).
**
** TIME. The breaker's clock is CLOCK_MONOTONIC unless opts.clock gives
** another (tests pass a fake). Nothing runs in the background: the move
** from OPEN to HALF_OPEN happens when the breaker is next called after the
** cool-down (any of allow, success, failure, get_state, seconds_in), and
** insa_circuit_breaker_time_in_state_seconds_total is brought up to date
** at each of those calls and at each transition, so between calls it lags
** by the time since the last one. A clock that goes backwards (or returns
** NaN) is treated as standing still.
**
** METRICS, in opts.registry, all with agent_type = the breaker's name:
**   insa_circuit_breaker_state{agent_type}              gauge: 0, 1 or 2
**   insa_circuit_breaker_status{agent_type,insa_circuit_breaker_status}
**                      stateset: closed, open, half_open -- one is true
**   insa_circuit_breaker_transitions_total{agent_type,from,to}
**                      from/to are closed, open, half_open; the four
**                      possible edges are exposed from 0
**   insa_circuit_breaker_time_in_state_seconds_total{agent_type,state}
**   insa_circuit_breaker_calls_total{agent_type,result}
**                      result = allowed | rejected (am_breaker_allow()'s
**                      answers), so one can see what the breaker stopped
** The series outlive the breaker: am_breaker_free() leaves them with their
** last values, and a new breaker of the same name continues its counters.
**
** THREADS. Every function is thread-safe; each breaker has its own mutex,
** held for a few arithmetic steps (not the nanosecond hot path of the
** metric handles, but never a system call except the default clock's vDSO
** read).
*/
#ifndef AGENTMON_BREAKER_H
#define AGENTMON_BREAKER_H

#include <stdbool.h>
#include <stddef.h>

#include "common.h"
#include "metrics.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct am_breaker am_breaker;

/* The values are those of insa_circuit_breaker_state: never renumbered. */
typedef enum am_breaker_state {
    AM_BREAKER_CLOSED = 0,
    AM_BREAKER_OPEN = 1,
    AM_BREAKER_HALF_OPEN = 2
} am_breaker_state;

#define AM_BREAKER_MAX_NAME 128     /* bytes of a breaker's name */
#define AM_BREAKER_MAX_COUNT 100000 /* upper bound of the three counts in the options */

/*
** A monotonic clock in seconds (any origin). Called with the breaker's lock
** held, so it must be thread-safe, quick, and must not call the breaker.
*/
typedef double (*am_breaker_clock_fn)(void *userdata);

/*
** Called after each transition, outside the breaker's lock, so it may call
** any am_breaker_* function on b (including ones that cause a transition;
** that one is reported after this call returns). Calls for one breaker
** never overlap and come in the order the transitions happened: a thread
** that causes a transition while another thread is in the callback leaves
** it to that thread to report. name is the breaker's name, valid while the
** breaker lives. If more than 64 transitions are waiting behind a callback
** that has not returned, later ones are not reported (the metrics count
** them all).
*/
typedef void (*am_breaker_transition_fn)(const char *name, am_breaker_state from,
                                         am_breaker_state to, void *userdata);

typedef struct am_breaker_opts {
    const char *name;             /* required, copied; the agent_type label value: UTF-8, */
                                  /* 1..AM_BREAKER_MAX_NAME bytes, e.g. "llm:openai" */
    am_registry *registry;        /* borrowed, must outlive the breaker; NULL = default */
    unsigned failure_threshold;   /* N: failures within window_s that open it; 0 = 5 */
    double window_s;              /* 0 = 60; finite, >= 0 */
    double cooldown_s;            /* time OPEN before HALF_OPEN; 0 = 30; finite, >= 0 */
    unsigned half_open_successes; /* M: successes in HALF_OPEN that close it; 0 = 2 */
    unsigned half_open_max_calls; /* calls in flight at once in HALF_OPEN; 0 = M */
    am_breaker_clock_fn clock;    /* optional; NULL = CLOCK_MONOTONIC */
    void *clock_userdata;         /* borrowed; passed to clock */
    am_breaker_transition_fn on_transition; /* optional */
    void *transition_userdata;              /* borrowed; passed to on_transition */
    void *reserved[4];                      /* must be NULL */
} am_breaker_opts;

#define AM_BREAKER_OPTS_INIT                                                                       \
    {                                                                                              \
        0                                                                                          \
    }

/*
** am_breaker_new: create a breaker, CLOSED, and register its metrics (or
** find them, when another breaker registered them before).
** METHOD: am_breaker   THREAD-SAFE: yes   Since: 0.1
**
** o        borrowed; read during the call (name copied). Required.
** out      owned result, free with am_breaker_free(); set only on AM_OK.
** Returns AM_OK; AM_EINVAL (NULL o or out, a bad name, a count above
** AM_BREAKER_MAX_COUNT, a negative, NaN or infinite window_s/cooldown_s,
** non-NULL reserved; am_errmsg() says which); AM_EEXIST (a live breaker
** already has this name in this registry, or one of the
** insa_circuit_breaker_* names is taken there by a different definition);
** AM_ELIMIT (a family is at its child limit); AM_ENOMEM. A failure after
** the metrics were registered may leave the name's series at zero.
*/
AM_EXTERN am_err am_breaker_new(const am_breaker_opts *o, am_breaker **out);

/*
** am_breaker_free: free a breaker. Its time in the current state is counted
** up to now; its series stay in the registry with their last values.
** METHOD: am_breaker   Since: 0.1
**
** b        takes; NULL is a no-op. No other thread may be using b, and no
**          transition callback of b may be running.
*/
AM_EXTERN void am_breaker_free(am_breaker *b);

/*
** am_breaker_allow: whether a call may go ahead now. CLOSED: yes. OPEN: no
** until cooldown_s has passed since it opened; then it becomes HALF_OPEN
** and this call is judged as in HALF_OPEN. HALF_OPEN: yes while fewer than
** half_open_max_calls admitted calls are outstanding (each yes takes a
** slot; the call's success or failure gives it back).
** Every answer is counted in insa_circuit_breaker_calls_total.
** METHOD: am_breaker   THREAD-SAFE: yes (takes b's mutex)   Since: 0.1
**
** b        borrowed; NULL gives false.
** A call that was allowed must be followed by am_breaker_success() or
** am_breaker_failure(), or a half-open slot stays taken until the breaker
** next leaves HALF_OPEN -- which it then cannot do by itself.
*/
AM_EXTERN bool am_breaker_allow(am_breaker *b);

/*
** am_breaker_success: report that a call succeeded. HALF_OPEN: the M-th
** success closes the breaker (with no failure remembered). CLOSED: nothing
** changes (see OUTCOMES at the top). OPEN: ignored.
** METHOD: am_breaker   THREAD-SAFE: yes   Since: 0.1
**
** b        borrowed; NULL is a no-op.
*/
AM_EXTERN void am_breaker_success(am_breaker *b);

/*
** am_breaker_failure: report that a call failed. CLOSED: opens the breaker
** when it is the N-th failure within window_s. HALF_OPEN: opens it again,
** and the cool-down starts over. OPEN: ignored.
** METHOD: am_breaker   THREAD-SAFE: yes   Since: 0.1
**
** b        borrowed; NULL is a no-op.
*/
AM_EXTERN void am_breaker_failure(am_breaker *b);

/*
** am_breaker_get_state: the state now (an OPEN breaker whose cool-down is
** over becomes HALF_OPEN here, as in am_breaker_allow()).
** METHOD: am_breaker   THREAD-SAFE: yes   Since: 0.1
**
** b        borrowed; NULL gives AM_BREAKER_CLOSED.
*/
AM_EXTERN am_breaker_state am_breaker_get_state(am_breaker *b);

/*
** am_breaker_state_name: "closed", "open" or "half_open" (the label values
** the metrics use); "unknown" for any other value. A constant string.
** THREAD-SAFE: yes   Since: 0.1
*/
AM_EXTERN const char *am_breaker_state_name(am_breaker_state s);

/*
** am_breaker_seconds_in: the total time b has spent in state s since it was
** created, including the current stint up to now.
** METHOD: am_breaker   THREAD-SAFE: yes   Since: 0.1
**
** b        borrowed; NULL gives 0.
** Returns seconds by b's clock; 0 for an unknown s.
*/
AM_EXTERN double am_breaker_seconds_in(am_breaker *b, am_breaker_state s);

#ifdef __cplusplus
}
#endif
#endif
