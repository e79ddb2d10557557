/*
** stateset.c: statesets -- up to 64 boolean states in one atomic word.
**
** OpenMetrics exposes a stateset as one sample per state, labelled with the
** family's own name; Prometheus text shows the same samples as a gauge.
** A circuit breaker's closed/open/half_open is the typical use, written
** with am_stateset_select() so exactly one state is true.
*/
#include "typed.h"

AM__FAMILY_NEW(stateset, AM_TYPE_STATESET)
AM__FAMILY_CHILDREN(stateset, AM_TYPE_STATESET)

static am_err check_idx(am_child *c, size_t idx)
{
    if (idx >= c->fam->n_states)
        return am__err(AM_EINVAL, "stateset \"%s\" has %zu states, index %zu is out of range",
                       c->fam->name, c->fam->n_states, idx);
    return AM_OK;
}

am_err am_stateset_set(am_stateset *s, size_t idx, bool on)
{
    am_child *c = AM_CHILD(s);
    am_err rc = check_idx(c, idx);
    if (rc)
        return rc;
    if (on)
        atomic_fetch_or_explicit(&c->v.bits, 1ULL << idx, am_relaxed);
    else
        atomic_fetch_and_explicit(&c->v.bits, ~(1ULL << idx), am_relaxed);
    return AM_OK;
}

am_err am_stateset_select(am_stateset *s, size_t idx)
{
    am_child *c = AM_CHILD(s);
    am_err rc = check_idx(c, idx);
    if (rc)
        return rc;
    atomic_store_explicit(&c->v.bits, 1ULL << idx, am_relaxed);
    return AM_OK;
}

bool am_stateset_get(am_stateset *s, size_t idx)
{
    am_child *c = AM_CHILD(s);
    if (idx >= c->fam->n_states)
        return false;
    return (atomic_load_explicit(&c->v.bits, am_relaxed) >> idx) & 1;
}
