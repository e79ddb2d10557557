/*
** exemplars.h: the exemplars a collector's registries hold, filtered by a
** PromQL expression's selectors, as Prometheus' /api/v1/query_exemplars
** answers them (exemplars.c).
*/
#ifndef AM_SERVE_EXEMPLARS_H
#define AM_SERVE_EXEMPLARS_H

#include "agentmon/metrics.h"
#include "../../alert/alert.h"
#include "../../util/buf.h"

/*
** Append to out the JSON array of "data": one object per series with an
** exemplar whose series matches a vector selector of q and whose time is
** in [start_s, end_s]. regs borrowed (n_regs may be 0: "[]"). AM_OK, or
** AM_ENOMEM (out then holds part of an answer: discard it).
*/
am_err am__exemplars_find(am_registry *const *regs, size_t n_regs, const am_promql *q,
                          double start_s, double end_s, am_buf *out);

#endif
