/*
** process.c: the standard process_* metrics, read from /proc when scraped.
**
** Names and meanings follow the Prometheus client libraries, so existing
** dashboards work: CPU seconds (user + system), resident and virtual
** memory, open and maximum file descriptors, start time, threads. Each is a
** callback family; a value that cannot be read is left out of that scrape
** rather than reported as 0.
*/
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "agentmon/timer.h"
#include "../util/catalog.h"
#include "typed.h"

typedef enum { P_CPU, P_RSS, P_VSIZE, P_FDS, P_MAXFDS, P_START, P_THREADS } pkind;

typedef struct pstat {
    double utime_s, stime_s, start_s;
    double vsize, rss_pages;
    long threads;
} pstat;

/* Fields of /proc/self/stat after the command name: state is field 3. */
static bool read_stat(pstat *p)
{
    char buf[2048];
    FILE *fp = fopen("/proc/self/stat", "r");
    if (!fp)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    char *s = strrchr(buf, ')'); /* the command name may contain spaces */
    if (!s)
        return false;
    s += 2;
    double f[64] = {0};
    int k = 3;
    for (char *end; *s && k < 64; k++) {
        f[k] = strtod(s, &end);
        if (end == s) { /* state letter */
            while (*s && *s != ' ')
                s++;
        } else {
            s = end;
        }
        while (*s == ' ')
            s++;
    }
    if (k < 25)
        return false;
    double hz = (double)sysconf(_SC_CLK_TCK);
    p->utime_s = f[14] / hz;
    p->stime_s = f[15] / hz;
    p->threads = (long)f[20];
    p->vsize = f[23];
    p->rss_pages = f[24];
    /* starttime is in ticks since boot; add the boot time. */
    double btime = 0;
    fp = fopen("/proc/stat", "r");
    if (fp) {
        char line[256];
        while (fgets(line, sizeof line, fp))
            if (strncmp(line, "btime ", 6) == 0)
                btime = strtod(line + 6, NULL);
        fclose(fp);
    }
    p->start_s = btime + f[22] / hz;
    return btime > 0;
}

static long count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the descriptor opendir holds */
}

static void collect(am_sink *s, void *ud)
{
    pkind k = (pkind)(uintptr_t)ud;
    pstat p;
    struct rlimit rl;
    long fds;
    switch (k) {
    case P_FDS:
        if ((fds = count_fds()) >= 0)
            am_sink_put(s, NULL, 0, (double)fds);
        return;
    case P_MAXFDS:
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
            am_sink_put(s, NULL, 0, (double)rl.rlim_cur);
        return;
    default:
        break;
    }
    if (!read_stat(&p))
        return;
    switch (k) {
    case P_CPU:
        am_sink_put(s, NULL, 0, p.utime_s + p.stime_s);
        break;
    case P_RSS:
        am_sink_put(s, NULL, 0, p.rss_pages * (double)sysconf(_SC_PAGESIZE));
        break;
    case P_VSIZE:
        am_sink_put(s, NULL, 0, p.vsize);
        break;
    case P_START:
        am_sink_put(s, NULL, 0, p.start_s);
        break;
    case P_THREADS:
        am_sink_put(s, NULL, 0, (double)p.threads);
        break;
    default:
        break;
    }
}

/* In pkind order: what each callback reports. */
#define SRC "Prometheus client conventions"
const am_metric_def am__defs_process[] = {
    [P_CPU] = {"process", AM_TYPE_COUNTER, "process_cpu_seconds_total", NULL,
               "Total user and system CPU time spent in seconds.", "seconds", NULL, NULL, 0, NULL,
               SRC},
    [P_RSS] = {"process", AM_TYPE_GAUGE, "process_resident_memory_bytes", NULL,
               "Resident memory size in bytes.", "bytes", NULL, NULL, 0, NULL, SRC},
    [P_VSIZE] = {"process", AM_TYPE_GAUGE, "process_virtual_memory_bytes", NULL,
                 "Virtual memory size in bytes.", "bytes", NULL, NULL, 0, NULL, SRC},
    [P_FDS] = {"process", AM_TYPE_GAUGE, "process_open_fds", NULL,
               "Number of open file descriptors.", NULL, NULL, NULL, 0, NULL, SRC},
    [P_MAXFDS] = {"process", AM_TYPE_GAUGE, "process_max_fds", NULL,
                  "Maximum number of open file descriptors.", NULL, NULL, NULL, 0, NULL, SRC},
    [P_START] = {"process", AM_TYPE_GAUGE, "process_start_time_seconds", NULL,
                 "Start time of the process since unix epoch in seconds.", "seconds", NULL, NULL, 0,
                 NULL, SRC},
    [P_THREADS] = {"process", AM_TYPE_GAUGE, "process_threads", NULL,
                   "Number of OS threads in the process.", NULL, NULL, NULL, 0, NULL, SRC},
};
const am_def_table am__table_process = {am__defs_process, P_THREADS + 1};

am_err am_registry_enable_process_metrics(am_registry *r)
{
    for (size_t k = 0; k < am__table_process.n; k++) {
        am_metric_opts o = am__def_opts(&am__defs_process[k]);
        am_callback *cb;
        am_err rc =
            am_callback_new(r, am__defs_process[k].type, &o, collect, (void *)(uintptr_t)k, &cb);
        if (rc)
            return rc;
    }
    return AM_OK;
}
