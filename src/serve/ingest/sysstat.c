/*
** sysstat.c: /proc -> a system_metrics record (see sysstat.h). Read the
** way node_exporter reads the same files: /proc/stat's first line for
** CPU, /proc/meminfo, /proc/net/dev, /proc/loadavg, statvfs for disk.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "../../util/error.h"
#include "../../util/random.h"
#include "sysstat.h"

void am__sysstat_init(am_sysstat *s)
{
    memset(s, 0, sizeof *s);
    if (gethostname(s->host, sizeof s->host - 1) != 0)
        snprintf(s->host, sizeof s->host, "localhost");
}

static bool cpu(am_sysstat *s, double *pct)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return false;
    unsigned long long v[10] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                   &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
    fclose(f);
    if (n < 4)
        return false;
    /* guest time is counted in user time already */
    uint64_t total = 0;
    for (int i = 0; i < 8; i++)
        total += v[i];
    uint64_t idle = v[3] + v[4]; /* idle + iowait */
    uint64_t busy = total - idle;
    bool have = s->cpu_total && total > s->cpu_total;
    if (have)
        *pct = 100.0 * (double)(busy - s->cpu_busy) / (double)(total - s->cpu_total);
    s->cpu_busy = busy;
    s->cpu_total = total;
    return have;
}

/* "Key:   123 kB": the number after key, when line starts with it. */
static bool field(const char *line, const char *key, unsigned long long *out)
{
    size_t n = strlen(key);
    if (strncmp(line, key, n) != 0)
        return false;
    char *end;
    *out = strtoull(line + n, &end, 10);
    return end != line + n;
}

static bool meminfo(double *used_mb)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return false;
    char line[256];
    unsigned long long total = 0, avail = 0, kb;
    while (fgets(line, sizeof line, f)) {
        if (field(line, "MemTotal:", &kb))
            total = kb;
        else if (field(line, "MemAvailable:", &kb))
            avail = kb;
    }
    fclose(f);
    if (!total || avail > total)
        return false;
    *used_mb = (double)(total - avail) / 1024.0;
    return true;
}

static bool netdev(uint64_t *rx, uint64_t *tx)
{
    FILE *f = fopen("/proc/net/dev", "r");
    if (!f)
        return false;
    char line[512];
    *rx = *tx = 0;
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue; /* the two header lines */
        *colon = '\0';
        const char *name = line + strspn(line, " ");
        /* receive: bytes packets errs drop fifo frame compressed multicast,
           then transmit: bytes ... -- the 1st and 9th numbers */
        unsigned long long v[9];
        const char *p = colon + 1;
        int k = 0;
        for (char *end; k < 9; k++, p = end) {
            v[k] = strtoull(p, &end, 10);
            if (end == p)
                break;
        }
        if (k < 9)
            continue;
        unsigned long long r = v[0], t = v[8];
        if (strcmp(name, "lo") == 0)
            continue;
        *rx += r;
        *tx += t;
    }
    fclose(f);
    return true;
}

am_err am__sysstat_sample(am_sysstat *s, const char *disk_path, double now, am_record *rec)
{
    const am_table *t = am_table_get(AM_T_SYSTEM);
    am_value *v = s->vals;
    for (size_t i = 0; i < t->n_cols; i++)
        v[i] = (am_value){.is_null = true};
    char h[33];
    am__id_hex(h);
    snprintf(s->id, sizeof s->id, "sys-%s", h);
    v[AM_SYS_ID] = (am_value){.v.s = s->id};
    v[AM_SYS_TIMESTAMP] = (am_value){.v.d = now};
    v[AM_SYS_HOST] = (am_value){.v.s = s->host};

    double d;
    bool any = false;
    if (cpu(s, &d))
        v[AM_SYS_CPU_USAGE] = (am_value){.v.d = d};
    if (meminfo(&d)) {
        v[AM_SYS_MEMORY_USAGE] = (am_value){.v.d = d};
        any = true;
    }
    struct statvfs fs;
    if (statvfs(disk_path ? disk_path : ".", &fs) == 0)
        v[AM_SYS_DISK_USAGE] = (am_value){.v.d = (double)(fs.f_blocks - fs.f_bfree) *
                                                 (double)fs.f_frsize / (1024.0 * 1024.0)};
    uint64_t rx, tx;
    if (netdev(&rx, &tx)) {
        v[AM_SYS_NETWORK_RX_BYTES] = (am_value){.v.i = (int64_t)rx};
        v[AM_SYS_NETWORK_TX_BYTES] = (am_value){.v.i = (int64_t)tx};
    }
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &d) == 1)
            v[AM_SYS_LOAD_1M] = (am_value){.v.d = d};
        fclose(f);
    }
    if (!any)
        return am__err(AM_EIO, "cannot read /proc/meminfo: is /proc mounted?");
    *rec = (am_record){AM_T_SYSTEM, v};
    return AM_OK;
}
