/*
** catalog.c: the catalogue -- every metric definition table of the library,
** in the order `agentmon metrics list` and docs/METRICS.md show them.
**
** It lives at the top of the library because the tables belong to the
** parts that record them (core, http, coord, the packs). A part that adds
** a table adds it here; tests/integration/metrics_doc.sh fails until
** docs/METRICS.md is regenerated from it (make metrics-doc).
*/
#include <agentmon/features.h>

#include "defs.h"

static const am_def_table *const TABLES[] = {
    &am__table_task,  &am__table_a2a,     &am__table_cache,  &am__table_rate,
    &am__table_ccr,   &am__table_genai,   &am__table_service, &am__table_worker,
    &am__table_breaker, &am__table_coord,
#if AM_HAVE_HTTP
    &am__table_http,
#endif
    &am__table_core,  &am__table_process,
};

const am_def_table *const *am__catalog(size_t *n_tables)
{
    *n_tables = sizeof TABLES / sizeof TABLES[0];
    return TABLES;
}
