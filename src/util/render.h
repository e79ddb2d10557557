/*
** render.h: escaping text for the exposition formats.
**
** Prometheus text and OpenMetrics escape label values the same way
** (backslash, double quote, line feed), so children render their label text
** once, at creation, and every scrape copies it. HELP text differs: 0.0.4
** escapes backslash and line feed only; OpenMetrics also escapes quotes.
*/
#ifndef AM_CORE_RENDER_H
#define AM_CORE_RENDER_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Write s[0..n) escaped as a label value into dst (if not NULL); returns the
   escaped length. */
size_t am__escape_label(char *dst, const char *s, size_t n);

/*
** Render n label pairs as name="escaped value",... into dst (if not NULL);
** returns the length. Pair i is names[i * stride], values[i * stride].
*/
size_t am__render_pairs(char *dst, const char *const *names, const char *const *values, size_t n,
                        size_t stride);

/*
** Unescape the label value at s (just past its opening quote) up to the
** first unescaped '"' into dst: the inverse of am__escape_label, whose
** \\, \" and \n are the only escapes. dst may be s (unescaping never
** lengthens), else it has room for the escaped text and a NUL. Returns
** AM_OK with the value at dst, NUL-terminated, *len bytes, and *end the
** index in s of the closing quote (which the NUL overwrites in place when
** nothing was escaped); or AM_EPROTO, *len unset and *end the index in s
** of a backslash whose escape is none of those (s[*end + 1] the byte after
** it, maybe the NUL) or of the NUL where no quote came. The one unescaper
** of label values: the exposition parser's, the exemplar readers' and
** match[]'s (serve/api/params.c).
*/
am_err am__unescape_label(char *dst, const char *s, size_t *len, size_t *end);

/* Append s escaped as a label value. */
void am__buf_label_value(am_buf *b, const char *s, size_t n);

/* Append s escaped as HELP text; quotes too when om. */
void am__buf_help(am_buf *b, const char *s, bool om);

/* Append the JSON escape of c: a quote, a backslash or a control byte. */
void am__buf_json_escape(am_buf *b, unsigned char c);

/* Append s as a JSON string, quotes included (s is valid UTF-8). */
void am__buf_json_string(am_buf *b, const char *s, size_t n);

#endif
