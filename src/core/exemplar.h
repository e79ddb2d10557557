/*
** exemplar.h: the last exemplar per histogram bucket or counter series.
**
** Storage is allocated on a series' first exemplar and holds one slot per
** bucket (one for a counter). A slot is a seqlock over fixed-size words:
** a writer that finds it busy drops its exemplar rather than wait (the next
** one replaces it anyway), and readers retry, so neither side ever blocks.
*/
#ifndef AM_CORE_EXEMPLAR_H
#define AM_CORE_EXEMPLAR_H

#include <stdbool.h>

#include "family.h"

#define AM_EXEMPLAR_TEXT AM_EXEMPLAR_MAX_BYTES /* bytes of rendered labels a slot holds */

typedef struct am_exview {
    bool set;
    double value;
    double ts;
    size_t len;
    char labels[AM_EXEMPLAR_TEXT + 1]; /* name="value",... */
} am_exview;

/* Validate and render ex into out[0..AM_EXEMPLAR_TEXT]; AM_EINVAL/AM_ELIMIT. */
am_err am__exemplar_render(const am_labels *ex, char *out, size_t *len);

/* Record a rendered exemplar in slot idx of c's n_slots. AM_ENOMEM possible. */
am_err am__exemplar_store(am_child *c, uint32_t n_slots, uint32_t idx, const char *text, size_t len,
                          double value);

/*
** Observe v into histogram child c and record the already rendered exemplar
** text[0..len) (name="value",..., at most AM_EXEMPLAR_TEXT bytes, trusted:
** no validation) in v's bucket. For callers that render an exemplar once
** and use it many times, such as a trace context's ids.
*/
void am__histogram_observe_text(am_child *c, double v, const char *text, size_t len);

/* Add v (finite, >= 0: the caller checked) to counter child c with the
   rendered exemplar text, as above. */
void am__counter_add_text(am_child *c, double v, const char *text, size_t len);

/* Read slot idx of c (set=false when none). */
void am__exemplar_read(const am_child *c, uint32_t idx, am_exview *out);

#endif
