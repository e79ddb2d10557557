/*
** catalog.c: the collector's tables of metric definitions, in the order
** the catalogue shows them (see catalog.h). A part of the collector that
** adds a table adds it here.
*/
#include "../alert/notify/notify.h"
#include "../alert/service.h"
#include "catalog.h"
#include "ingest/event_metrics.h"
#include "ingest/scrape.h"
#include "ingest/statsd.h"
#include "serve.h"

static const am_def_table *const TABLES[] = {
    &am__table_ingest, &am__table_events, &am__table_store,  &am__table_scrape,
    &am__table_system, &am__table_notify, &am__table_window,
};

const am_def_table *const *am__serve_catalog(size_t *n_tables)
{
    *n_tables = sizeof TABLES / sizeof TABLES[0];
    return TABLES;
}
