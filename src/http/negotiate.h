/*
** negotiate.h: choosing the exposition format and the encoding from a
** request's Accept and Accept-Encoding headers (RFC 9110 section 12).
*/
#ifndef AM_HTTP_NEGOTIATE_H
#define AM_HTTP_NEGOTIATE_H

#include <stdbool.h>

#include "agentmon/expose.h"

/* OpenMetrics when the client prefers application/openmetrics-text at
   least as much as text/plain; else Prometheus text. NULL: Prometheus. */
am_format am__negotiate_format(const char *accept);

/* Whether Accept-Encoding allows gzip (explicitly, or through "*"). */
bool am__accepts_gzip(const char *accept_encoding);

#endif
