/*
** defs.h: every definition table of the library, for the catalogue.
*/
#ifndef AM_PACKS_DEFS_H
#define AM_PACKS_DEFS_H

#include "../util/catalog.h"

#define AM__DEFS(x)                                                                                \
    extern const am_metric_def am__defs_##x[];                                                     \
    extern const am_def_table am__table_##x;

AM__DEFS(core)
AM__DEFS(process)
AM__DEFS(http)
AM__DEFS(coord)
AM__DEFS(task)
AM__DEFS(a2a)
AM__DEFS(cache)
AM__DEFS(rate)
AM__DEFS(ccr)
AM__DEFS(genai)
AM__DEFS(service)
AM__DEFS(worker)
AM__DEFS(breaker)

#undef AM__DEFS

/* Every table of definitions in the library, in catalogue order. */
const am_def_table *const *am__catalog(size_t *n_tables);

#endif
