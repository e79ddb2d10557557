/*
** pack.h: what the library's instrument packs add to util/pack.h -- an
** observation whose exemplar is an explicit trace's, rendered with the
** trace internals (the program records through util/pack.h alone).
*/
#ifndef AM_PACKS_PACK_H
#define AM_PACKS_PACK_H

#include "agentmon/packs.h"

#include "../util/pack.h"

/* histogram h[i]{values} observes v, with the trace as exemplar */
am_err am__pack_observe(am__pack *p, size_t i, const char *const *values, size_t n, double v,
                        const am_trace_ctx *trace);
/* Observe into a resolved histogram child, with the trace as exemplar. */
void am__observe_traced(am_histogram *child, double v, const am_trace_ctx *trace);

/* The same with an exemplar rendered already (len 0: none), for a call that
   attaches one trace to several series. */
void am__observe_ex(am_histogram *child, double v, const char *ex, size_t len);

#endif
