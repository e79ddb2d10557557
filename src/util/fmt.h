/*
** fmt.h: numbers as text, the way Prometheus' own Go code writes them.
**
** strconv.FormatFloat(v, 'g', -1, 64): the shortest digits that read back
** as the same double, in %e form when the exponent is < -4 or >= 6 (1e+06,
** 2.5e-05), else plainly (0.005, 123456); NaN, +Inf and -Inf. Using Go's
** form everywhere keeps le="..." identical to what Go exporters expose, so
** histograms from agentmon and from Go services aggregate together.
*/
#ifndef AM_CORE_FMT_H
#define AM_CORE_FMT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define AM_FMT_MAX 32

/* Write v into out (room for AM_FMT_MAX); returns the length, NUL added. */
size_t am__fmt_double(char *out, double v);

/*
** The forms of a double's text. Both write the same shortest round-trip
** digits (so the value reads back exactly); they differ where the reader
** differs:
**   AM_FMT_GO   Go's and Prometheus' form, above: 1e+06, NaN, +Inf, -Inf.
**               Exposition, JSON, StatsD, logs: am__fmt_double.
**   AM_FMT_SQL  for text a database or a filter parses back as a number:
**               positional while the exponent is below 17, as %.17g is
**               (1700000000.5, 12345678901234567: a whole number stays
**               one an integer column takes), else 1e+20; NaN, Infinity,
**               -Infinity (PostgreSQL's spellings). PostgreSQL parameters
**               and the query API's normalised filter values.
*/
typedef enum am_fmt_form { AM_FMT_GO, AM_FMT_SQL } am_fmt_form;

/* Write v in form into out (room for AM_FMT_MAX); the length, NUL added. */
size_t am__fmt_real(char *out, double v, am_fmt_form form);

/* The shortest round-trip digits of v (finite, > 0) into d (room for 24),
   without trailing zeros; returns their count, *dp the decimal point's
   place (v = 0.d * 10^dp). The one digit generator: every form uses it. */
size_t am__fmt_digits(double v, char *d, int *dp);

/* The same digits by snprintf and strtod: the path am__fmt_digits takes
   outside [1e-15, 2^53), and the reference its tests compare with. */
size_t am__fmt_digits_printf(double v, char *d, int *dp);

/* Those digits written positionally, never with an exponent ("0.00125",
   "12500"): out needs nd + |dp| + 3 bytes. Returns the length, NUL added. */
size_t am__fmt_place(char *out, const char *d, size_t nd, int dp);

/*
** Write a timestamp (finite, >= 0) with exactly three decimals, as %.3f
** would ("1700000000.500") but without printf. Returns the length.
*/
size_t am__fmt_millis(char *out, double v);

/*
** The value am__fmt_millis(v)'s text reads back as -- v rounded to whole
** milliseconds, as an exemplar's timestamp is in OpenMetrics -- without
** writing the text: the same double, bit for bit. Any v: outside the
** contract of am__fmt_millis (negative, NaN, huge) as that text reads.
*/
double am__millis_value(double v);

/* Write v in decimal, as %lld would but without printf (hot paths that
   write many integers). Returns the length; NUL added. */
size_t am__fmt_int(char *out, int64_t v);

static inline void am__buf_int(am_buf *b, int64_t v)
{
    char tmp[AM_FMT_MAX];
    am_buf_append(b, tmp, am__fmt_int(tmp, v));
}

static inline void am__buf_millis(am_buf *b, double v)
{
    char tmp[AM_FMT_MAX];
    am_buf_append(b, tmp, am__fmt_millis(tmp, v));
}

static inline void am__buf_double(am_buf *b, double v)
{
    char tmp[AM_FMT_MAX];
    am_buf_append(b, tmp, am__fmt_double(tmp, v));
}

#endif
