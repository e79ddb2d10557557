/*
** feed.c: every sample of some registries into the window (am_alert_feed).
**
** DESIGN
** The registries are read as samples through am_encode_samples
** (public, expose.h; shared with the remote_write sampler), which
** names them as the Prometheus text exposition does, so
** a rule written against a scrape of /metrics reads the same series here:
** counters <name>_total, histograms <name>_bucket{le} (le as exposed,
** "+Inf" last), <name>_sum and <name>_count, info <name>_info, statesets
** one series per state labelled <name>=<state> with value 0 or 1, gauges
** and untyped as they are.
**
** Running out of memory stops the walk; a refused sample does not.
**
** THREADING: runs on the window's appending thread, inside one batch.
*/
#include <string.h>

#include "../util/error.h"
#include "agentmon/expose.h"
#include "tsdb.h"

typedef struct feed {
    am_tsdb *db;
    am_tsdb_src *src;
    int64_t t;
    am_err first_err;
} feed;

static int put(void *ud, am_label_pair *pairs, size_t n, double v)
{
    feed *fd = ud;
    am_label tmp[AM_MAX_LABELS + 2];
    for (size_t i = 0; i < n && i < AM_MAX_LABELS + 2; i++)
        tmp[i] = (am_label){pairs[i].name, pairs[i].value};
    am_err rc = am_tsdb_append(fd->db, fd->src, tmp, n, fd->t, v);
    if (rc && !fd->first_err)
        fd->first_err = rc;
    return rc == AM_ENOMEM;
}

am_err am_alert_feed(am_tsdb *db, am_tsdb_src *src, am_registry *const *regs, size_t n,
                     int64_t t_ms)
{
    if (!db || !src || (n && !regs))
        return am__err(AM_EINVAL, "am_alert_feed: no window, source or registries");
    feed fd = {db, src, t_ms, AM_OK};
    am_tsdb_begin(db, src);
    am_err rc = am_encode_samples(regs, n, put, &fd);
    am_tsdb_commit(db, src, t_ms);
    if (rc)
        return am__err(rc, "feeding the window: out of memory");
    if (fd.first_err)
        return am__err(fd.first_err, "feeding the window: some samples were refused");
    return AM_OK;
}
