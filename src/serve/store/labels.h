/*
** labels.h: the canonical text of a label set, as the collector stores it
** (metric_samples.labels) and matches it: {a="1",b="2"}, pairs sorted by
** name (byte order), values escaped as in the exposition formats, "" for
** no labels. One spelling per label set, so equal sets are equal strings
** and a matcher name="value" is a substring test.
*/
#ifndef AM_SERVE_LABELS_H
#define AM_SERVE_LABELS_H

#include <stddef.h>

#include "../../util/buf.h"

#define AM_LABELS_MAX 64 /* pairs in one set; producers refuse more */

/* Append the canonical text of n pairs (any order; names must differ).
   More than AM_LABELS_MAX pairs sets the buffer's error to AM_ELIMIT. */
void am__labels_canonical(am_buf *b, const char *const *names, const char *const *values, size_t n);

/* Append the text a canonical label set contains for the pair name=value:
   name="escaped value" -- found in the set iff preceded by '{' or ','. */
void am__labels_pair(am_buf *b, const char *name, const char *value);

/*
** Split canonical text back into pairs: names and values unescaped into
** scratch (cap bytes; strlen(text) + 1 always suffices), NUL-terminated,
** pointed at by names[i] and values[i], *n of them (at most max). "" is
** the empty set. AM_EINVAL when text is not canonical text (am_errmsg()
** says where), AM_ELIMIT beyond max pairs or cap bytes.
*/
am_err am__labels_split(const char *text, char *scratch, size_t cap, const char **names,
                        const char **values, size_t max, size_t *n);

#endif
