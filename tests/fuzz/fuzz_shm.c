/*
** fuzz_shm.c: attaching to and reading a damaged shared-memory segment.
**
** A valid small segment (families of every type, labelled series, a
** per-process gauge, exemplars, a claimed slot) is made once; each input is
** a list of patches -- a 16-bit offset, a length byte, that many bytes --
** applied to a copy of it (anywhere in its first 64 KiB: header, slots,
** families, series, index, arena, rows), and the segment is opened,
** encoded in the three formats, written to, reclaimed and closed. The segment's robust mutex is
** kept intact: it is trusted state (a garbage owner would block every
** process of the service, which no check can prevent), everything else
** must be refused at open or skipped when read, never read out of bounds
** or looped on.
*/
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentmon/agentmon.h"
#include "shm/shm.h"

static char g_path[64];
static unsigned char *g_valid;
static size_t g_size;

static char g_dir[] = "/tmp/am-fuzz-shm-XXXXXX";

static void cleanup(void)
{
    unlink(g_path);
    rmdir(g_dir);
}

static void make_valid(void)
{
    if (!mkdtemp(g_dir))
        abort();
    snprintf(g_path, sizeof g_path, "%s/seg", g_dir);
    atexit(cleanup);
    am_shm_opts o = AM_SHM_OPTS_INIT;
    o.max_procs = 2;
    o.max_families = 8;
    o.max_series = 16;
    o.max_cells = AM__SHM_DISCARD + 64;
    o.max_exemplars = 8;
    o.arena_bytes = 4096;
    am_shm *s;
    if (am_shm_open(g_path, &o, &s) != AM_OK)
        abort();
    const char *l[] = {"agent"};
    const double b[] = {0.5, 1};
    am_metric_opts oc = {.name = "calls_total", .help = "C.", .label_names = l, .n_labels = 1};
    am_metric_opts og = {.name = "depth", .help = "G."};
    am_metric_opts oh = {.name = "lat_seconds", .help = "H.", .buckets = b, .n_buckets = 2};
    am_metric_opts os = {.name = "size_bytes", .help = "S.", .unit = "bytes"};
    am_shm_counter *c, *c1;
    am_shm_gauge *g;
    am_shm_histogram *h;
    am_shm_summary *sm;
    const char *n[] = {"trace_id"}, *v[] = {"abc"};
    am_labels ex = {n, v, 1};
    if (am_shm_counter_new(s, &oc, &c) || am_shm_counter_with(c, AM_LABELS("p:1"), &c1) ||
        am_shm_gauge_new(s, &og, AM_SHM_GAUGE_ALL, &g) || am_shm_histogram_new(s, &oh, &h) ||
        am_shm_summary_new(s, &os, &sm))
        abort();
    am_shm_counter_add_exemplar(c1, 2, &ex);
    am_shm_gauge_set(g, 3);
    am_shm_histogram_observe_exemplar(h, 0.7, &ex);
    am_shm_summary_observe(sm, 512);
    am_shm_close(s);
    int fd = open(g_path, O_RDONLY);
    g_size = (size_t)lseek(fd, 0, SEEK_END);
    g_valid = malloc(g_size);
    if (!g_valid || pread(fd, g_valid, g_size, 0) != (ssize_t)g_size)
        abort();
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_valid)
        make_valid();
    unsigned char *copy = malloc(g_size);
    memcpy(copy, g_valid, g_size);
    for (size_t i = 0; i + 3 <= size;) {
        size_t off = (size_t)data[i] | (size_t)data[i + 1] << 8, len = data[i + 2];
        i += 3;
        if (len > size - i)
            len = size - i;
        if (off < g_size) {
            size_t n = len < g_size - off ? len : g_size - off;
            memcpy(copy + off, data + i, n);
        }
        i += len;
    }
    /* The mutex stays as it was (see the top). */
    memcpy(copy + offsetof(shm_hdr, lock), g_valid + offsetof(shm_hdr, lock),
           sizeof(pthread_mutex_t));
    int fd = open(g_path, O_RDWR | O_TRUNC);
    if (fd < 0 || write(fd, copy, g_size) != (ssize_t)g_size)
        abort();
    close(fd);
    free(copy);
    am_shm *s;
    if (am_shm_open(g_path, NULL, &s) != AM_OK)
        return 0;
    for (int f = AM_FORMAT_PROMETHEUS; f <= AM_FORMAT_JSON; f++) {
        char *text = NULL;
        if (am_shm_encode(s, NULL, 0, (am_format)f, &text, NULL) == AM_OK)
            am_free(text);
    }
    am_metric_opts oc = {.name = "fuzz_total", .help = "F."};
    am_shm_counter *c;
    if (am_shm_counter_new(s, &oc, &c) == AM_OK) {
        am_shm_counter_inc(c);
        (void)am_shm_counter_value(c);
    }
    am_shm_stats st;
    am_shm_stats_get(s, &st);
    am_shm_reclaim(s, NULL);
    am_shm_close(s);
    return 0;
}
