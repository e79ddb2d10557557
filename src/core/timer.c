/*
** timer.c: clocks, timers and the timed scope (RequestTimer).
**
** Monotonic time for durations (immune to clock steps), realtime for
** timestamps shown to people and Prometheus. Both are vDSO reads on Linux,
** not system calls. The scope resolves its child only when it ends, so a
** success never creates an error series and vice versa.
*/
#include <string.h>
#include <time.h>

#include "agentmon/timer.h"
#include "hooks.h"
#include "typed.h"

uint64_t am_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

double (*am__time_hook)(void);

double am_unix_time(void)
{
    if (AM_UNLIKELY(am__time_hook != NULL))
        return am__time_hook();
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

am_timer am_timer_start(void)
{
    am_timer t = {am_now_ns()};
    return t;
}

double am_timer_seconds(const am_timer *t)
{
    return (double)(am_now_ns() - t->start_ns) / 1e9;
}

/* Position of the "status" label in f, or -1. */
static int status_index(const am_family *f)
{
    for (size_t i = 0; i < f->n_labels; i++)
        if (strcmp(f->label_names[i], "status") == 0)
            return (int)i;
    return -1;
}

am_err am_timer_scope_begin(am_timer_scope *s, am_histogram *h, const char *const *values, size_t n)
{
    memset(s, 0, sizeof *s);
    s->ended = true; /* inert until checked */
    am_family *f;
    am_err rc = am__family_of(h, AM_TYPE_HISTOGRAM, &f);
    if (rc)
        return rc;
    if (status_index(f) < 0)
        return am__err(AM_EINVAL, "histogram \"%s\" has no \"status\" label", f->name);
    if (n + 1 != f->n_labels || (n && !values))
        return am__err(AM_EINVAL, "histogram \"%s\" needs %zu values besides status, got %zu",
                       f->name, f->n_labels - 1, n);
    s->family = h;
    if (n)
        memcpy(s->values, values, n * sizeof *values);
    s->n = n;
    s->ended = false;
    s->timer = am_timer_start();
    return AM_OK;
}

void am_timer_scope_fail(am_timer_scope *s)
{
    s->failed = true;
}

am_err am_timer_scope_end(am_timer_scope *s)
{
    if (s->ended)
        return AM_OK;
    s->ended = true;
    double secs = am_timer_seconds(&s->timer);
    am_family *f = AM_CHILD(s->family)->fam;
    const char *vals[AM_MAX_LABELS];
    size_t si = (size_t)status_index(f);
    for (size_t i = 0, k = 0; i < f->n_labels; i++)
        vals[i] = i == si ? (s->failed ? "error" : "success") : s->values[k++];
    am_histogram *child;
    am_err rc = am_histogram_with(s->family, vals, f->n_labels, &child);
    if (rc == AM_OK || rc == AM_ELIMIT)
        am_histogram_observe(child, secs);
    return rc;
}

void am__timer_scope_cleanup(am_timer_scope *s)
{
    am_timer_scope_end(s);
}
