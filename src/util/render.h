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

/* Append s escaped as a label value. */
void am__buf_label_value(am_buf *b, const char *s, size_t n);

/* Append s escaped as HELP text; quotes too when om. */
void am__buf_help(am_buf *b, const char *s, bool om);

/* Append the JSON escape of c: a quote, a backslash or a control byte. */
void am__buf_json_escape(am_buf *b, unsigned char c);

/* Append s as a JSON string, quotes included (s is valid UTF-8). */
void am__buf_json_string(am_buf *b, const char *s, size_t n);

#endif
