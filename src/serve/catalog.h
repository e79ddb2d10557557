/*
** catalog.h: the collector's own metric definition tables, for the
** catalogue (`agentmon metrics list`, docs/METRICS.md) after libagentmon's
** (am__catalog in src/packs/defs.h): libagentmon cannot list them, as
** they live in the collector, which agents do not link.
*/
#ifndef AM_SERVE_CATALOG_H
#define AM_SERVE_CATALOG_H

#include "../util/catalog.h"

const am_def_table *const *am__serve_catalog(size_t *n_tables);

#endif
