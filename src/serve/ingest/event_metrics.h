/*
** event_metrics.h: what a record moves in the collector's own registry,
** so that /metrics of `agentmon serve` carries the names the packs use
** whichever way an agent reported: a task event moves agent_task_*, an
** llm event ccr_* and gen_ai_*, a communication event
** insa_agent_messages_total, a system record the agentmon_system_* gauges,
** a metric event (counter, gauge, histogram) the series of its name, as
** the StatsD line it amounts to would;
** and the collector's counts of what it took in (agentmon_ingest_*).
** Agent records are stored only: their counts are the agent's own running
** totals, which no counter of ours can add up.
*/
#ifndef AM_SERVE_EVENT_METRICS_H
#define AM_SERVE_EVENT_METRICS_H

#include <stddef.h>

#include "agentmon/metrics.h"
#include "../../util/catalog.h"
#include "../store/schema.h"

typedef struct am_event_metrics am_event_metrics;

extern const am_def_table am__table_events;
extern const am_def_table am__table_system;

/* Register the packs and the tables above in r; metric events may make at
   most max_series series (0: AM_STATSD_DEFAULT_SERIES). out: owned,
   _free(). AM_EINVAL/AM_ENOMEM as am_counter_new(). */
am_err am__event_metrics_new(am_registry *r, size_t max_series, am_event_metrics **out);

/* Whether record r would move the collector's series: AM_OK (also for
   records that move none, and for one that would land in an overflow
   series), or AM_EINVAL saying why a metric event cannot be applied (a
   negative counter increment, a type or labels that clash with the
   name's, a reserved name or label). Changes nothing. Thread-safe. */
am_err am__event_metrics_check(am_event_metrics *m, const am_record *r);

/* The series metric events have made (their budget's use). */
size_t am__event_metrics_n_series(am_event_metrics *m);
void am__event_metrics_free(am_event_metrics *m);

/* Move the series of one committed record. Thread-safe. AM_ELIMIT when a
   family is full (recorded into its overflow series). */
am_err am__event_metrics_apply(am_event_metrics *m, const am_record *rec);

/* n events received, invalid of them refused: agentmon_ingest_lines_total
   and agentmon_ingest_invalid_total{protocol} (the StatsD listener's
   families, statsd.h). */
void am__event_metrics_received(am_event_metrics *m, const char *protocol, size_t n,
                                size_t invalid);
/* One record of table t stored: agentmon_ingest_events_total{protocol,type}. */
void am__event_metrics_stored(am_event_metrics *m, const char *protocol, am_table_id t);

/* Count a stored event of table t that moved no series (its apply failed:
   it clashed with an earlier event of the same request). */
void am__event_metrics_unapplied(am_event_metrics *m, const char *protocol, am_table_id t);

#endif
