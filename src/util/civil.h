/*
** civil.h: UTC calendar time as text, both ways, without gmtime_r or
** timegm (glibc takes its timezone lock in both; log lines and the
** collector's query API convert on hot paths).
**
** Times are unix seconds. The range is that of RFC 3339 with four-digit
** years: 1970-01-01T00:00:00Z .. 9999-12-31T23:59:59.999Z.
*/
#ifndef AM_CORE_CIVIL_H
#define AM_CORE_CIVIL_H

#include <stddef.h>
#include <stdint.h>

#include "agentmon/common.h"

#define AM_CIVIL_MAX_SEC 253402300799LL /* 9999-12-31T23:59:59Z */

/* "YYYY-MM-DDTHH:MM:SS" (19 bytes, no NUL) of sec in [0, AM_CIVIL_MAX_SEC]. */
void am__civil_format(int64_t sec, char out[19]);

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" and a NUL (25 bytes) of t, clamped to the
   range; NaN gives the epoch. */
void am__rfc3339_ms(double t, char out[25]);

/*
** Parse s[0..n) as a time: RFC 3339 ("2026-11-24T21:00:00Z", fraction and
** a +hh:mm / -hh:mm offset allowed, 't'/'z' and a space for 'T' too) or
** unix seconds ("1700000000", "1700000000.25"). AM_EINVAL with a message
** that names `what` (a parameter or field name) when it is neither or is
** outside the range.
*/
am_err am__time_parse(const char *s, size_t n, const char *what, double *out);

/*
** Parse s[0..n) as a duration in seconds: a number of seconds ("90",
** "0.5") or Prometheus' units, largest first ("15d", "1h30m", "500ms";
** units ms s m h d w y, y = 365 d). AM_EINVAL naming `what` when it is
** neither, or is zero or negative.
*/
am_err am__duration_parse(const char *s, size_t n, const char *what, double *out);

#endif
