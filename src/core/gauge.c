/*
** gauge.c: gauges -- one shared value per series.
**
** A gauge is set more than it is added to, and a set must win over every
** earlier add from every thread; per-thread cells cannot give that without
** a lock, so a gauge is a single atomic double in its child: set is a
** store, add a compare-and-swap.
*/
#include "agentmon/timer.h"
#include "typed.h"

AM__FAMILY_API(gauge, AM_TYPE_GAUGE)

void am_gauge_set(am_gauge *g, double v)
{
    atomic_store_explicit(&AM_CHILD(g)->v.g, v, am_relaxed);
}

void am_gauge_add(am_gauge *g, double v)
{
    am_atomic_add_double(&AM_CHILD(g)->v.g, v);
}

void am_gauge_inc(am_gauge *g)
{
    am_atomic_add_double(&AM_CHILD(g)->v.g, 1.0);
}

void am_gauge_dec(am_gauge *g)
{
    am_atomic_add_double(&AM_CHILD(g)->v.g, -1.0);
}

void am_gauge_set_to_now(am_gauge *g)
{
    am_gauge_set(g, am_unix_time());
}

double am_gauge_value(am_gauge *g)
{
    return atomic_load_explicit(&AM_CHILD(g)->v.g, am_relaxed);
}
