/*
** feed.c: every sample of some registries into the window (am_alert_feed).
**
** DESIGN
** The registry walk (src/encode/walk.c) already visits every family and
** series with the right locks held and values summed; this file is one
** more encoder for it, whose hooks append to the window instead of writing
** text. Samples are named as the Prometheus text exposition names them, so
** a rule written against a scrape of /metrics reads the same series here:
** counters <name>_total, histograms <name>_bucket{le} (le as exposed,
** "+Inf" last), <name>_sum and <name>_count, info <name>_info, statesets
** one series per state labelled <name>=<state> with value 0 or 1, gauges
** and untyped as they are.
**
** The walk hands an encoder only its am_enc, whose one pointer of ours is
** the output buffer; the feed's context therefore starts with an am_buf
** and is recovered from e->b. Setting that buffer's error stops the walk
** (out of memory); a refused sample does not.
**
** THREADING: runs on the window's appending thread, inside one batch.
*/
#include <string.h>

#include "../core/error.h"
#include "../encode/encoder.h"
#include "tsdb.h"

typedef struct feed {
    am_buf buf; /* first: the walk's e->b points here */
    am_tsdb *db;
    am_tsdb_src *src;
    int64_t t;
    am_err first_err;
    char name[AM_MAX_NAME + 16];
    am_label pairs[AM_MAX_LABELS + 2];
} feed;

static void nop_begin(am_enc *e)
{
    (void)e;
}

static void nop_family(am_enc *e, const am_family *f)
{
    (void)e;
    (void)f;
}

static void put(feed *fd, const am_family *f, const char *suffix, size_t n, const char *extra_name,
                const char *extra_value, double v)
{
    size_t nl = f->name_len, sl = strlen(suffix);
    memcpy(fd->name, f->name, nl);
    memcpy(fd->name + nl, suffix, sl + 1);
    am_label *p = fd->pairs;
    p[n].name = "__name__";
    p[n].value = fd->name;
    size_t k = n + 1;
    if (extra_name) {
        p[k].name = extra_name;
        p[k].value = extra_value;
        k++;
    }
    /* the walk's pairs are reordered by the append: refill them per call */
    am_label tmp[AM_MAX_LABELS + 2];
    memcpy(tmp, p, k * sizeof *p);
    am_err rc = am_tsdb_append(fd->db, fd->src, tmp, k, fd->t, v);
    if (rc == AM_ENOMEM)
        fd->buf.err = AM_ENOMEM;
    if (rc && !fd->first_err)
        fd->first_err = rc;
}

static void series(am_enc *e, const am_family *f, const am_series *s)
{
    feed *fd = (feed *)e->b;
    size_t n = 0;
    const char *v = s->values;
    if (f->type == AM_TYPE_INFO) {
        for (size_t i = 0; i + 1 < s->n_values && n < AM_MAX_LABELS; i += 2) {
            fd->pairs[n].name = v;
            v += strlen(v) + 1;
            fd->pairs[n].value = v;
            v += strlen(v) + 1;
            n++;
        }
    } else {
        for (size_t i = 0; i < s->n_values && i < f->n_labels && n < AM_MAX_LABELS; i++) {
            fd->pairs[n].name = f->label_names[i];
            fd->pairs[n].value = v;
            v += strlen(v) + 1;
            n++;
        }
    }
    switch (f->type) {
    case AM_TYPE_COUNTER:
        put(fd, f, "_total", n, NULL, NULL, s->value);
        break;
    case AM_TYPE_INFO:
        put(fd, f, "_info", n, NULL, NULL, 1);
        break;
    case AM_TYPE_HISTOGRAM:
        for (size_t i = 0; i <= f->n_bounds; i++)
            put(fd, f, "_bucket", n, "le", i < f->n_bounds ? f->le[i] : "+Inf", s->buckets[i]);
        put(fd, f, "_sum", n, NULL, NULL, s->sum);
        put(fd, f, "_count", n, NULL, NULL, s->buckets[f->n_bounds]);
        break;
    case AM_TYPE_STATESET:
        for (size_t i = 0; i < f->n_states; i++)
            put(fd, f, "", n, f->name, f->states[i], (double)((s->bits >> i) & 1));
        break;
    default:
        put(fd, f, "", n, NULL, NULL, s->value);
        break;
    }
}

static const am_encoder feed_encoder = {1, nop_begin, nop_family, series, nop_family, nop_begin};

am_err am_alert_feed(am_tsdb *db, am_tsdb_src *src, am_registry *const *regs, size_t n,
                     int64_t t_ms)
{
    if (!db || !src || (n && !regs))
        return am__err(AM_EINVAL, "am_alert_feed: no window, source or registries");
    feed fd;
    memset(&fd, 0, sizeof fd);
    am_buf_init(&fd.buf, 0);
    fd.db = db;
    fd.src = src;
    fd.t = t_ms;
    am_tsdb_begin(db, src);
    am_err rc = n ? am__encode(regs, n, &feed_encoder, &fd.buf) : AM_OK;
    am_tsdb_commit(db, src, t_ms);
    am_buf_free(&fd.buf);
    if (rc)
        return am__err(rc, "feeding the window: out of memory");
    if (fd.first_err)
        return am__err(fd.first_err, "feeding the window: some samples were refused");
    return AM_OK;
}
