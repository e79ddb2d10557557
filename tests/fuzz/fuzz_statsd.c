/*
** fuzz_statsd.c: what a StatsD datagram reaches -- the splitter, the line
** parser, the name mapping and the aggregator writing into a registry --
** and the samples a flush makes of it.
**
** Input: one datagram. Invariants checked (a violation traps):
**   - lines come out in order, inside the datagram, non-empty, without
**     '\n' or a trailing '\r';
**   - a parsed line's slices lie inside the line; it has 1..max values,
**     finite for numeric types, a sample rate in (0, 1], at most the
**     maximum of tags, and its name and every tag key map to a valid,
**     non-reserved Prometheus name; a refused line is AM_EINVAL or
**     AM_EPROTO with a message;
**   - the aggregator returns only its documented codes, and its counts
**     match the lines; every flushed sample has a valid name, a type and
**     canonical label text; the registry still encodes.
** The aggregator and its registry live across inputs (with small limits),
** so sequences of datagrams meet existing families.
*/
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agentmon/agentmon.h"
#include "util/validate.h"
#include "serve/ingest/statsd_agg.h"

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

static am_registry *g_r;
static am_statsd_agg *g_a;
static unsigned g_runs;

static int in(const char *p, size_t n, const char *lo, size_t len)
{
    return p >= lo && p + n <= lo + len;
}

static void check_mapped(const char *s, size_t n, int is_metric)
{
    char out[AM_STATSD_MAX_TAG + 2];
    size_t m = am__statsd_map_name(s, n, out, sizeof out);
    CHECK(m < sizeof out && m == strlen(out));
    CHECK((is_metric ? am__check_metric_name(out, "x") : am__check_label_name(out, "x")) == AM_OK);
}

static int sink(void *ud, const am_sample *s)
{
    (void)ud;
    CHECK(am__check_metric_name(s->name, "sample") == AM_OK);
    CHECK(s->type && s->type[0]);
    CHECK(s->labels[0] == '\0' || (s->labels[0] == '{' && s->labels[strlen(s->labels) - 1] == '}'));
    CHECK(strcmp(s->source, "statsd") == 0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_r) {
        am_statsd_agg_opts o = AM_STATSD_AGG_OPTS_INIT;
        o.max_families = 64;
        o.max_children = 16;
        o.max_cache = 256;
        if (am_registry_new(&g_r) || am__statsd_agg_new(g_r, &o, &g_a))
            __builtin_trap();
    }
    const char *buf = (const char *)data;
    size_t pos = 0, n_lines = 0;
    const char *prev_end = buf;
    am_statsd_str line;
    while (am__statsd_next_line(buf, size, &pos, &line)) {
        n_lines++;
        CHECK(line.len > 0 && in(line.p, line.len, buf, size) && line.p >= prev_end);
        CHECK(!memchr(line.p, '\n', line.len) && line.p[line.len - 1] != '\r');
        prev_end = line.p + line.len;
        am_statsd_line l;
        am_err rc = am__statsd_parse(line.p, line.len, &l);
        if (rc) {
            CHECK((rc == AM_EINVAL || rc == AM_EPROTO) && am_errmsg()[0]);
            continue;
        }
        CHECK(l.name.len > 0 && l.name.len <= AM_STATSD_MAX_NAME &&
              in(l.name.p, l.name.len, line.p, line.len));
        check_mapped(l.name.p, l.name.len, 1);
        CHECK(l.type >= AM_STATSD_COUNTER && l.type <= AM_STATSD_SET);
        CHECK(l.n_values >= 1 && l.n_values <= AM_STATSD_MAX_VALUES);
        for (size_t i = 0; i < l.n_values; i++) {
            CHECK(l.raw[i].len > 0 && in(l.raw[i].p, l.raw[i].len, line.p, line.len));
            if (l.type != AM_STATSD_SET)
                CHECK(isfinite(l.values[i]));
            if (l.type == AM_STATSD_COUNTER)
                CHECK(l.values[i] >= 0);
        }
        CHECK(l.sample_rate > 0 && l.sample_rate <= 1);
        CHECK(l.n_tags <= AM_STATSD_MAX_TAGS);
        for (size_t i = 0; i < l.n_tags; i++) {
            CHECK(l.tag_keys[i].len > 0 &&
                  in(l.tag_keys[i].p, l.tag_keys[i].len, line.p, line.len));
            CHECK(in(l.tag_values[i].p, l.tag_values[i].len, line.p, line.len));
            CHECK(am__utf8_valid(l.tag_values[i].p, l.tag_values[i].len, NULL));
            check_mapped(l.tag_keys[i].p, l.tag_keys[i].len, 0);
        }
        rc = am__statsd_agg_line(g_a, &l);
        CHECK(rc == AM_OK || rc == AM_EINVAL || rc == AM_EEXIST || rc == AM_ELIMIT);
        if (rc)
            CHECK(am_errmsg()[0]);
    }
    CHECK(pos == size);

    am_statsd_counts counts = {0};
    am__statsd_agg_datagram(g_a, buf, size, &counts, NULL, NULL);
    CHECK(counts.n_lines == n_lines && counts.n_invalid <= n_lines);
    CHECK(am__statsd_agg_n_families(g_a) <= 64);
    /* flushing and encoding walk every series: not on every input */
    if (++g_runs % 4 == 0)
        CHECK(am__statsd_agg_flush(g_a, sink, NULL) == AM_OK);
    if (g_runs % 64 == 0) {
        char *text = NULL;
        size_t len = 0;
        CHECK(am_registry_encode(g_r, AM_FORMAT_OPENMETRICS, &text, &len) == AM_OK);
        CHECK(text && strlen(text) == len);
        am_free(text);
    }
    return 0;
}
