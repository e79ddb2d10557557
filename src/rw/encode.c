/*
** encode.c: a batch of records as a remote_write 1.0 request body -- a
** prometheus.WriteRequest (src/rw/proto/remote.proto, packed by
** libprotobuf-c) compressed with snappy's block format (snappy-c.h), as
** Prometheus sends it.
**
** DESIGN
** One TimeSeries per sample, as Prometheus' own shards send them: the
** receiver groups by labels itself. The protobuf structs are built on the
** stack of the call (arrays sized to the batch, from am__malloc) and point
** into the records' bytes, whose strings end in NUL (see rw.h), so nothing
** is copied before packing; packing writes into one buffer of the exact
** size get_packed_size() reports.
**
** THREADING: reentrant; each shard encodes its own batches.
*/
#include <snappy-c.h>
#include <string.h>

#include "../util/alloc.h"
#include "../util/error.h"
#include "proto/remote.pb-c.h"
#include "rw.h"

am_err am__rw_encode(const am__rw_rec *const *recs, size_t n, am_buf *out, size_t *raw_len)
{
    out->len = 0;
    size_t n_labels = 0;
    for (size_t i = 0; i < n; i++)
        n_labels += recs[i]->n;
    Prometheus__TimeSeries *ts = am__calloc(n ? n : 1, sizeof *ts);
    Prometheus__TimeSeries **tsp = am__calloc(n ? n : 1, sizeof *tsp);
    Prometheus__Sample *sm = am__calloc(n ? n : 1, sizeof *sm);
    Prometheus__Sample **smp = am__calloc(n ? n : 1, sizeof *smp);
    Prometheus__Label *lb = am__calloc(n_labels ? n_labels : 1, sizeof *lb);
    Prometheus__Label **lbp = am__calloc(n_labels ? n_labels : 1, sizeof *lbp);
    uint8_t *pb = NULL;
    am_err rc = AM_OK;
    if (!ts || !tsp || !sm || !smp || !lb || !lbp) {
        rc = am__err(AM_ENOMEM, "remote_write: out of memory");
        goto done;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const am__rw_rec *r = recs[i];
        prometheus__time_series__init(&ts[i]);
        prometheus__sample__init(&sm[i]);
        sm[i].value = r->v;
        sm[i].timestamp = r->t_ms;
        smp[i] = &sm[i];
        ts[i].n_samples = 1;
        ts[i].samples = &smp[i];
        ts[i].n_labels = r->n;
        ts[i].labels = &lbp[k];
        for (size_t j = 0; j < r->n; j++, k++) {
            prometheus__label__init(&lb[k]);
            lb[k].name = (char *)r->l[j].name;
            lb[k].value = (char *)r->l[j].value;
            lbp[k] = &lb[k];
        }
        tsp[i] = &ts[i];
    }
    Prometheus__WriteRequest wr;
    prometheus__write_request__init(&wr);
    wr.n_timeseries = n;
    wr.timeseries = tsp;
    size_t plen = prometheus__write_request__get_packed_size(&wr);
    pb = am__malloc(plen ? plen : 1);
    if (!pb) {
        rc = am__err(AM_ENOMEM, "remote_write: out of memory");
        goto done;
    }
    prometheus__write_request__pack(&wr, pb);
    size_t clen = snappy_max_compressed_length(plen);
    char *c = am_buf_reserve(out, clen);
    if (!c) {
        rc = am__err(AM_ENOMEM, "remote_write: out of memory");
        goto done;
    }
    if (snappy_compress((const char *)pb, plen, c, &clen) != SNAPPY_OK) {
        rc = am__err(AM_ENOMEM, "remote_write: snappy could not compress");
        goto done;
    }
    out->len = clen;
    if (raw_len)
        *raw_len = plen;
done:
    am__free(ts);
    am__free(tsp);
    am__free(sm);
    am__free(smp);
    am__free(lb);
    am__free(lbp);
    am__free(pb);
    return rc;
}
