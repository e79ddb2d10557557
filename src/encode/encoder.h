/*
** encoder.h: the contract between the registry walk and an encoder.
**
** walk.c visits every family and series once, with locks held and values
** summed, and calls an encoder's hooks in order: begin, then per family
** family() / series()... / family_end(), then end. An encoder only writes
** bytes; it never touches locks, cells or allocation beyond its buffer.
** Each format is one file implementing these hooks (after cmetrics).
*/
#ifndef AM_ENCODE_ENCODER_H
#define AM_ENCODE_ENCODER_H

#include "agentmon/expose.h"
#include "../util/buf.h"
#include "../core/exemplar.h"
#include "../core/family.h"

typedef struct am_series {
    const char *values; /* n_values NUL-terminated strings (info: name, value pairs) */
    size_t n_values;
    const char *labels; /* rendered name="value",...; "" when none */
    size_t labels_len;
    double created;        /* unix seconds */
    double value;          /* counter, gauge, unknown */
    const double *buckets; /* histogram: cumulative counts, n_bounds + 1 */
    double sum;
    uint64_t bits;       /* stateset */
    const am_exview *ex; /* NULL, or one per bucket (histogram) / one (counter) */
} am_series;

typedef struct am_enc am_enc;

typedef struct am_encoder {
    unsigned version;
    void (*begin)(am_enc *e);
    void (*family)(am_enc *e, const am_family *f);
    void (*series)(am_enc *e, const am_family *f, const am_series *s);
    void (*family_end)(am_enc *e, const am_family *f);
    void (*end)(am_enc *e);
} am_encoder;

struct am_enc {
    am_buf *b;
    const am_encoder *ops;
    size_t n_families; /* families begun so far */
    size_t n_series;   /* series of the current family so far */
};

extern const am_encoder am__enc_prometheus;
extern const am_encoder am__enc_openmetrics;
extern const am_encoder am__enc_json;

/* Encode regs[0..n) with ops into b; returns am_buf_err(b) or AM_ENOMEM. */
am_err am__encode(am_registry *const *regs, size_t n, const am_encoder *ops, am_buf *b);

/*
** A source of families besides registries (the shared-memory segment,
** src/shm): peek names its next family (base name, NULL at the end), emit
** writes that family through e -- ops->family, a series() per series,
** family_end -- and moves past it. Its families are merged into the sorted
** output; a registry family of the same name is left out (the source wins).
*/
typedef struct am__enc_source {
    const char *(*peek)(void *ud);
    bool (*emit)(void *ud, am_enc *e);
    void *ud;
} am__enc_source;

/* am__encode() with a source; src may be NULL, regs may be none (n 0). */
am_err am__encode_with(am_registry *const *regs, size_t n, const am__enc_source *src,
                       const am_encoder *ops, am_buf *b);

/* The encoder of a public format, or NULL. */
const am_encoder *am__encoder_of(am_format f);

/* Append {labels[,extra]} -- or nothing when both are empty. extra is a
   rendered pair such as le="0.5" (may be NULL). */
void am__enc_labels(am_buf *b, const char *labels, size_t len, const char *extra, size_t elen);

/*
** Append one sample without its line feed: <name><suffix>{labels[,extra]} v.
** Both text formats write every sample through this, with one reservation
** and plain copies; the caller adds an exemplar (OpenMetrics) and '\n'.
*/
void am__enc_sample(am_buf *b, const am_family *f, const char *suffix, size_t slen,
                    const am_series *s, const char *extra, size_t elen, double v);

/* Room for a synthetic pair: a name (AM_MAX_NAME) = a value of at most
   AM_MAX_LABEL_VALUE bytes, every byte possibly escaped to two. */
#define AM_EXTRA_PAIR_MAX (AM_MAX_NAME + 2 * AM_MAX_LABEL_VALUE + 8)

/* Render the synthetic pair name="value" (le, a stateset's state) into out;
   returns its length, 0 if it does not fit in cap. */
size_t am__enc_pair(char *out, size_t cap, const char *name, const char *value);
/* The pair le="<bound i>" ("+Inf" for i == n_bounds) of histogram f into
   out (AM_EXTRA_PAIR_MAX bytes); returns its length. A bound's text is a
   number, so it needs no escaping: a copy, per bucket of every series. */
size_t am__enc_le(char *out, const am_family *f, size_t i);

/* The pairs and callback of the public am_encode_samples() (expose.h),
   under the names the library's own readers use. */
typedef am_label_pair am__pair;
typedef am_sample_fn am__sample_fn;

#endif
