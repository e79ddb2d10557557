/*
** timer.h: monotonic timing, and a scope that observes how long a block of
** work took into a histogram with status="success" or status="error" --
** the RequestTimer of metrics-exposure-story.md.
**
**     am_timer_scope s;
**     am_timer_scope_begin(&s, a2a_duration, AM_LABELS("navi", "query"));
**     if (do_query() != 0)
**         am_timer_scope_fail(&s);
**     am_timer_scope_end(&s);
**
** With GCC or Clang, AM_TIMED_SCOPE(s, hist, AM_LABELS(...)) declares s and
** ends it automatically when s goes out of scope.
** am__timer_scope_cleanup is that macro's helper, not for direct use.
*/
#ifndef AGENTMON_TIMER_H
#define AGENTMON_TIMER_H

#include <stdbool.h>
#include <stdint.h>

#include "metrics.h"

#ifdef __cplusplus
extern "C" {
#endif

/* am_now_ns: CLOCK_MONOTONIC in nanoseconds (vDSO, no system call). Since: 0.1 */
AM_EXTERN uint64_t am_now_ns(void);

/* am_unix_time: CLOCK_REALTIME in seconds with fraction. Since: 0.1 */
AM_EXTERN double am_unix_time(void);

typedef struct am_timer {
    uint64_t start_ns;
} am_timer;

/* am_timer_start: a timer started now. am_timer_seconds: seconds since. Since: 0.1 */
AM_EXTERN am_timer am_timer_start(void);
AM_EXTERN double am_timer_seconds(const am_timer *t);

typedef struct am_timer_scope {
    am_histogram *family;
    const char *values[AM_MAX_LABELS];
    size_t n;
    am_timer timer;
    bool failed;
    bool ended;
    void *reserved[2];
} am_timer_scope;

/*
** am_timer_scope_begin: start timing. h is a histogram family root that has
** a label named "status"; values are the values of its other labels, in
** order. The array is copied (so AM_LABELS(...) is fine); the strings are
** borrowed and must stay valid until the scope ends.
** Returns AM_OK, or AM_EINVAL (no status label, wrong count), in which case
** the scope is inert and _end observes nothing. Since: 0.1
*/
AM_EXTERN am_err am_timer_scope_begin(am_timer_scope *s, am_histogram *h, const char *const *values,
                                      size_t n);

/* am_timer_scope_fail: the scope will observe with status="error". Since: 0.1 */
AM_EXTERN void am_timer_scope_fail(am_timer_scope *s);

/*
** am_timer_scope_end: observe the elapsed seconds into the child with the
** scope's labels and status; a second call does nothing. Returns what
** am_histogram_with() returned (AM_ELIMIT still observes, into overflow).
** Since: 0.1
*/
AM_EXTERN am_err am_timer_scope_end(am_timer_scope *s);

/* AM_TIMER_SCOPE's cleanup helper, not for direct use. Since: 0.1 */
AM_EXTERN void am__timer_scope_cleanup(am_timer_scope *s);

#if defined(__GNUC__)
/* AM_TIMED_SCOPE(s, hist, values, n) or AM_TIMED_SCOPE(s, hist, AM_LABELS(...)) */
#define AM_TIMED_SCOPE(var, hist, ...)                                                             \
    am_timer_scope var __attribute__((cleanup(am__timer_scope_cleanup)));                          \
    am_timer_scope_begin(&var, (hist), __VA_ARGS__)
#endif

#ifdef __cplusplus
}
#endif
#endif
