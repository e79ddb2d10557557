/*
** sink.h: what a callback family's collect function writes into.
**
** The encoder runs collect() once per exposition with a fresh sink, then
** reads the series back from it: raw values (for JSON) and rendered labels
** (for text) live in one buffer, each series an item pointing into it.
*/
#ifndef AM_CORE_SINK_H
#define AM_CORE_SINK_H

#include "../util/buf.h"
#include "../util/hash.h"
#include "family.h"

typedef struct am_sink_item {
    size_t values_off; /* n_labels NUL-terminated strings */
    size_t labels_off; /* rendered labels */
    size_t labels_len;
    uint32_t hash;
    double v;
} am_sink_item;

struct am_sink {
    am_family *f;
    am_buf strs;
    am_sink_item *items;
    size_t n, cap;
    am__map set; /* item index + 1 by its hash (hash-keyed), to refuse duplicates */
    am_err err;  /* first allocation failure */
};

void am__sink_init(am_sink *s, am_family *f);
/* Run the family's collect function into s. */
void am__sink_collect(am_sink *s);
void am__sink_free(am_sink *s);

#endif
