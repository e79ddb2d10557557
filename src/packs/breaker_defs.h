/*
** breaker_defs.h: the circuit breaker's metric definitions, for the
** catalogue (src/packs/catalog.c), and a counter the breaker's tests read.
*/
#ifndef AM_PACKS_BREAKER_DEFS_H
#define AM_PACKS_BREAKER_DEFS_H

#include <stddef.h>
#include <stdint.h>

#include "agentmon/breaker.h"
#include "../util/catalog.h"

/* The insa_circuit_breaker_* rows (group "breaker"), registered by
   am_breaker_new(). */
extern const am_metric_def am__defs_breaker[];
extern const size_t am__n_defs_breaker;

/* Transitions b could not report to its callback because 64 were already
   waiting (see am_breaker_transition_fn). For tests. Thread-safe. */
uint64_t am__breaker_n_dropped(am_breaker *b);

#endif
