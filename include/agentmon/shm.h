/*
** shm.h: a registry in shared memory for the processes of one service --
** prefork servers, gunicorn/uvicorn workers, multiprocessing pools -- so
** that any one of them (or a sidecar) serves the merged /metrics.
**
**     am_shm *s;
**     am_shm_open("/dev/shm/myservice.agentmon", NULL, &s);   before forking
**     am_shm_counter *req, *r;
**     am_metric_opts o = AM_METRIC_OPTS_INIT;
**     o.name = "requests_total"; o.label_names = names; o.n_labels = 1;
**     am_shm_counter_new(s, &o, &req);
**     ... fork() workers; in each:
**     am_shm_counter_with(req, AM_LABELS("GET"), &r);   once
**     am_shm_counter_inc(r);                             hot path
**     ... in any process:
**     am_shm_encode(s, NULL, 0, AM_FORMAT_PROMETHEUS, &text, &len);
**
** ONE FILE, FIXED SIZE. The segment is one file (on tmpfs, /dev/shm, for
** speed), created at its full size by the first am_shm_open() and mapped
** by every process (MAP_SHARED); its sizes are set then (am_shm_opts) and
** never change, so it does not grow with processes or restarts. The file
** is sparse: pages are allocated when first written.
**
** A ROW PER PROCESS. Each process that writes takes a slot and writes its
** own row of cells with atomic adds (threads of one process share its row),
** so processes never write the same cache line. A slot is held with an
** open-file-description lock (F_OFD_SETLK) on one byte of the file, which
** the kernel drops when the process dies, however it dies: that is how any
** process tells live slots from dead ones, with no pid reuse or pid
** namespace in the way. A reader sums the accumulator row and every
** claimed slot's row.
**
** NO COUNT LOST. A counter, histogram or summary value is in shared memory
** as soon as the call returns: a worker killed with SIGKILL loses nothing it
** counted. Its row is kept (and counted) until a new process needs the slot;
** that process first folds the row into the accumulator row. The fold is
** crash-safe (journalled in the header; the next holder of the segment's
** robust mutex completes or redoes it) and invisible to readers (a
** sequence counter makes them retry).
**
** GAUGES have a mode, as prometheus_client's multi-process gauges do:
** ALL/LIVEALL (one series per process, with a "pid" label; LIVE: processes
** alive now), SUM/LIVESUM, MAX/LIVEMAX, MIN/LIVEMIN, MOSTRECENT/
** LIVEMOSTRECENT (the value set last). A LIVE mode drops a process's value
** when it dies; the others keep it (folded by the mode's rule) until the
** segment is removed. A process that never set a gauge takes no part.
**
** EXEMPLARS are shared: one per counter series and per histogram bucket,
** the last one recorded by any process.
**
** FORK. A child does not inherit its parent's slot: its first write takes
** a slot of its own (a pthread_atfork handler makes it forget the parent's),
** and what the parent counted stays the parent's. Handles stay valid in the
** child (the mapping is at the same address).
**
** LIMITS. Families, series, cells per row, exemplars, processes and string
** bytes are bounded by the options. A family's label sets past its
** max_children, or past the segment's series, record into its
** "__overflow__" series (AM_ELIMIT). More live processes than max_procs
** share one extra row, written atomically, which is never folded.
**
** THREADS. Every function is thread-safe. The hot path (inc, add, set,
** observe on a resolved handle) is a few atomic operations on this
** process's row: no lock, no allocation, no system call. It does not touch
** the per-thread cells of ordinary registries, whose speed it leaves alone.
*/
#ifndef AGENTMON_SHM_H
#define AGENTMON_SHM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "expose.h"
#include "metrics.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct am_shm am_shm;
typedef struct am_shm_counter am_shm_counter;
typedef struct am_shm_gauge am_shm_gauge;
typedef struct am_shm_histogram am_shm_histogram;
typedef struct am_shm_summary am_shm_summary;

/* Sizes of a new segment; 0 means the default. Ignored when attaching to an
   existing one (its own sizes apply). */
typedef struct am_shm_opts {
    size_t max_procs;     /* slots for live processes; 0 = 64 (1..4096) */
    size_t max_families;  /* 0 = 1024 */
    size_t max_series;    /* all families together; 0 = 65536 */
    size_t max_cells;     /* cells per row (2 per counter, gauge or summary
                             series, buckets + 2 per histogram series);
                             0 = 262144 */
    size_t max_exemplars; /* exemplar records; 0 = 8192 */
    size_t arena_bytes;   /* names, help, label values; 0 = 8 MiB */
    unsigned flags;       /* AM_SHM_* */
    void *reserved[4];
} am_shm_opts;

#define AM_SHM_OPTS_INIT                                                                           \
    {                                                                                              \
        0                                                                                          \
    }

/* Allocate the whole file when creating it (posix_fallocate), so a full
   tmpfs fails am_shm_open() with AM_ENOMEM instead of a SIGBUS when a page
   is first written later. */
#define AM_SHM_PREFAULT 0x1u

typedef enum am_shm_gauge_mode {
    AM_SHM_GAUGE_ALL = 0,
    AM_SHM_GAUGE_LIVEALL = 1,
    AM_SHM_GAUGE_SUM = 2,
    AM_SHM_GAUGE_LIVESUM = 3,
    AM_SHM_GAUGE_MAX = 4,
    AM_SHM_GAUGE_LIVEMAX = 5,
    AM_SHM_GAUGE_MIN = 6,
    AM_SHM_GAUGE_LIVEMIN = 7,
    AM_SHM_GAUGE_MOSTRECENT = 8,
    AM_SHM_GAUGE_LIVEMOSTRECENT = 9
} am_shm_gauge_mode;

/*
** am_shm_open: create the segment at path (mode 0600), or attach to it when
** it exists. o copied; NULL = defaults. out: owned result, close with
** am_shm_close(); a process may open one path once (a second open returns
** the same segment with its use count raised).
** Returns AM_OK; AM_EINVAL (bad path or sizes, or the file is not a segment
** of this version: am_errmsg() says what is wrong with it); AM_EIO (open,
** mmap, lock: the reason in am_errmsg()); AM_ENOMEM (the file cannot be
** allocated with AM_SHM_PREFAULT, or no memory). Since: 0.2
*/
AM_EXTERN am_err am_shm_open(const char *path, const am_shm_opts *o, am_shm **out);

/*
** am_shm_close: give up this process's slot (its values stay, to be folded
** when a new process needs the slot) and unmap. Every handle of s becomes
** invalid. NULL is a no-op. Since: 0.2
*/
AM_EXTERN void am_shm_close(am_shm *s);

/*
** Families: as am_counter_new() & co. (o copied, the same validation), in
** the segment: the first process to make a name defines it, later ones get
** the same family when their definition is the same (type, labels, unit,
** buckets, gauge mode), AM_EEXIST otherwise. out: a handle owned by s.
** Returns AM_OK, AM_EINVAL, AM_EEXIST, AM_ELIMIT (the segment's families or
** string space are used up) or AM_ENOMEM. Since: 0.2
*/
AM_EXTERN am_err am_shm_counter_new(am_shm *s, const am_metric_opts *o, am_shm_counter **out);
AM_EXTERN am_err am_shm_gauge_new(am_shm *s, const am_metric_opts *o, am_shm_gauge_mode mode,
                                  am_shm_gauge **out);
AM_EXTERN am_err am_shm_histogram_new(am_shm *s, const am_metric_opts *o, am_shm_histogram **out);
AM_EXTERN am_err am_shm_summary_new(am_shm *s, const am_metric_opts *o, am_shm_summary **out);

/*
** Series by label values (copied on creation), as am_counter_with(): the
** same values give the same handle in this process and the same series in
** every process. Lock-free once the series exists. AM_ELIMIT: *out is the
** family's overflow series. Also AM_EINVAL, AM_EMISUSE (not a family
** handle) or AM_ENOMEM. Since: 0.2
*/
AM_EXTERN am_err am_shm_counter_with(am_shm_counter *c, const char *const *values, size_t n,
                                     am_shm_counter **out);
AM_EXTERN am_err am_shm_gauge_with(am_shm_gauge *g, const char *const *values, size_t n,
                                   am_shm_gauge **out);
AM_EXTERN am_err am_shm_histogram_with(am_shm_histogram *h, const char *const *values, size_t n,
                                       am_shm_histogram **out);
AM_EXTERN am_err am_shm_summary_with(am_shm_summary *s, const char *const *values, size_t n,
                                     am_shm_summary **out);

/*
** Recording, on a series handle (a family without labels is its own
** series; on a labelled family's handle these record nothing). Lock-free,
** no allocation; the first write of a process takes its slot (a lock, once).
** As am_counter_add(): AM_EINVAL for a negative, NaN or infinite counter
** delta, nothing added. Exemplars as am_counter_add_exemplar(). Since: 0.2
*/
AM_EXTERN void am_shm_counter_inc(am_shm_counter *c);
AM_EXTERN am_err am_shm_counter_add(am_shm_counter *c, double v);
AM_EXTERN am_err am_shm_counter_add_exemplar(am_shm_counter *c, double v, const am_labels *ex);
AM_EXTERN void am_shm_gauge_set(am_shm_gauge *g, double v);
AM_EXTERN void am_shm_gauge_add(am_shm_gauge *g, double v);
AM_EXTERN void am_shm_histogram_observe(am_shm_histogram *h, double v);
AM_EXTERN am_err am_shm_histogram_observe_exemplar(am_shm_histogram *h, double v,
                                                   const am_labels *ex);
AM_EXTERN void am_shm_summary_observe(am_shm_summary *s, double v);

/*
** Reading the merged value of a series (all processes; a gauge by its
** mode -- for ALL/LIVEALL, this process's own value). buckets: NULL or room
** for the histogram's bounds + 1 (cumulative, +Inf last). Thread-safe;
** for tests and snapshots, not the hot path. Since: 0.2
*/
AM_EXTERN double am_shm_counter_value(am_shm_counter *c);
AM_EXTERN double am_shm_gauge_value(am_shm_gauge *g);
AM_EXTERN void am_shm_histogram_read(am_shm_histogram *h, uint64_t *count, double *sum,
                                     uint64_t *buckets);
AM_EXTERN void am_shm_summary_read(am_shm_summary *s, uint64_t *count, double *sum);

/* The number of finite bounds of a histogram and the bounds. Since: 0.2 */
AM_EXTERN size_t am_shm_histogram_n_buckets(am_shm_histogram *h);
AM_EXTERN const double *am_shm_histogram_bounds(am_shm_histogram *h);

/*
** am_shm_encode: the segment's families, merged over all processes, and
** the families of regs[0..n) (this process's own registries; may be none)
** in one exposition, sorted by name. A name in both: the segment's wins.
** out: owned result, free with am_free(). Returns AM_OK, AM_EINVAL or
** AM_ENOMEM. Thread-safe; runs concurrently with writers in every process.
** Since: 0.2
*/
AM_EXTERN am_err am_shm_encode(am_shm *s, am_registry *const *regs, size_t n, am_format f,
                               char **out, size_t *len);

/* What a segment holds now. */
typedef struct am_shm_stats {
    size_t procs_live; /* slots held by live processes */
    size_t procs_dead; /* slots of dead processes not folded yet */
    size_t max_procs;
    size_t families, max_families;
    size_t series, max_series;
    size_t cells, max_cells;
    size_t exemplars, max_exemplars;
    size_t arena_bytes, max_arena_bytes;
    uint64_t folds;    /* dead rows folded since creation */
    size_t file_bytes; /* the file's size: constant */
    void *reserved[4];
} am_shm_stats;

/*
** am_shm_stats_get: fill *out (borrowed) with what the segment holds now.
** Returns AM_OK or AM_EINVAL (a NULL argument). Thread-safe. Since: 0.2
*/
AM_EXTERN am_err am_shm_stats_get(am_shm *s, am_shm_stats *out);

/*
** am_shm_reclaim: fold every dead process's row now (otherwise done when a
** slot is needed), so its slot is free and its live-mode gauges gone from
** the bookkeeping. *n (may be NULL) counts the rows folded. For a sidecar
** or a supervisor after a worker exits (prometheus_client's
** mark_process_dead). Since: 0.2
*/
AM_EXTERN am_err am_shm_reclaim(am_shm *s, size_t *n);

#ifdef __cplusplus
}
#endif
#endif
