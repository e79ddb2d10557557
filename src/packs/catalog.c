/*
** catalog.c: the catalogue -- every metric definition table of the library,
** in the order `agentmon metrics list` and docs/METRICS.md show them.
**
** It lives at the top of the library because the tables belong to the
** parts that record them (core, http, coord, the packs). A part that adds
** a table adds it here; tests/integration/metrics_doc.sh fails until
** docs/METRICS.md is regenerated from it (make metrics-doc).
** am_catalog_count()/am_catalog_get() hand the rows to bindings (the
** Python packs register their names from them).
*/
#include <agentmon/features.h>

#include "agentmon/packs.h"
#include "../util/error.h"
#include "defs.h"
#if AM_HAVE_REMOTE_WRITE
#include "../rw/rw.h"
#endif

static const am_def_table *const TABLES[] = {
    &am__table_task,         &am__table_a2a,     &am__table_cache,   &am__table_rate,
    &am__table_ccr,          &am__table_genai,   &am__table_service, &am__table_worker,
    &am__table_breaker,      &am__table_coord,
#if AM_HAVE_HTTP
    &am__table_http,
#endif
#if AM_HAVE_REMOTE_WRITE
    &am__table_remote_write,
#endif
    &am__table_core,         &am__table_process,
};

const am_def_table *const *am__catalog(size_t *n_tables)
{
    *n_tables = sizeof TABLES / sizeof TABLES[0];
    return TABLES;
}

size_t am_catalog_count(void)
{
    size_t n = 0;
    for (size_t k = 0; k < sizeof TABLES / sizeof TABLES[0]; k++)
        n += TABLES[k]->n;
    return n;
}

am_err am_catalog_get(size_t i, am_metric_def_info *out)
{
    if (!out)
        return am__err(AM_EINVAL, "out pointer is NULL");
    for (size_t k = 0; k < sizeof TABLES / sizeof TABLES[0]; k++) {
        if (i >= TABLES[k]->n) {
            i -= TABLES[k]->n;
            continue;
        }
        am__def_info(&TABLES[k]->defs[i], out);
        return AM_OK;
    }
    return am__err(AM_EINVAL, "catalogue index out of range");
}
