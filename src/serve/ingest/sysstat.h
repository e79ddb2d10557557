/*
** sysstat.h: the machine's health from /proc, as a system_metrics record
** (monitoring-analytics-slice.md's record_system_metric, without psutil):
** CPU busy percent since the previous sample, memory in use (MemTotal -
** MemAvailable) and disk in use on the store's file system in MB, bytes
** received and sent by every interface but loopback, the 1-minute load.
*/
#ifndef AM_SERVE_SYSSTAT_H
#define AM_SERVE_SYSSTAT_H

#include <stdint.h>

#include "agentmon/common.h"
#include "../store/schema.h"

typedef struct am_sysstat {
    uint64_t cpu_busy, cpu_total; /* jiffies at the previous sample */
    char host[256];
    char id[48];
    am_value vals[32];
} am_sysstat;

/* Start sampling: the host name, no CPU reading yet. */
void am__sysstat_init(am_sysstat *s);

/* Sample now into s->vals as a system record (disk_path: a path on the
   file system whose use is measured; "." when NULL) (rec->vals points there);
   columns /proc cannot give are NULL. The first sample's CPU is NULL (no
   interval yet). AM_EIO when /proc cannot be read. Not thread-safe. */
am_err am__sysstat_sample(am_sysstat *s, const char *disk_path, double now, am_record *rec);

#endif
