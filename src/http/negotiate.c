/*
** negotiate.c: Accept and Accept-Encoding, with their q-values.
**
** Prometheus asks for
**   application/openmetrics-text;version=1.0.0,...;q=0.75,text/plain;version=0.0.4;q=0.5,*\/
**;q=0.1
** so the rule is: the best q among the ranges that match OpenMetrics
** against the best among those that match text/plain (including "text/ *"
** and "*\/ *"); OpenMetrics wins ties only if it was named. Malformed
** pieces are skipped rather than failing the request: a scrape should get
** the default format, not an error. A q-value that does not parse counts as
** 1, as RFC 9110 recommends leniency here.
*/
#include <stdlib.h>
#include <string.h>

#include "negotiate.h"

/* Parse the q parameter in [p, end); 1 when absent. */
static double qvalue(const char *p, const char *end)
{
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        if (!semi)
            break;
        p = semi + 1;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (end - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
            char tmp[8];
            size_t n = 0;
            for (const char *c = p + 2; c < end && n < sizeof tmp - 1 && *c != ';' && *c != ' ';
                 c++)
                tmp[n++] = *c;
            tmp[n] = '\0';
            char *stop;
            double q = strtod(tmp, &stop);
            if (stop == tmp || q < 0 || q > 1)
                return 1;
            return q;
        }
    }
    return 1;
}

/* Whether the media range at [p, end) (before any ';') equals t, ignoring
   case and surrounding spaces. */
static bool range_is(const char *p, const char *end, const char *t)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p >= end)
        return false;
    const char *semi = memchr(p, ';', (size_t)(end - p));
    const char *stop = semi ? semi : end;
    while (stop > p && (stop[-1] == ' ' || stop[-1] == '\t'))
        stop--;
    size_t n = strlen(t);
    return (size_t)(stop - p) == n && strncasecmp(p, t, n) == 0;
}

am_format am__negotiate_format(const char *accept)
{
    if (!accept)
        return AM_FORMAT_PROMETHEUS;
    double q_om = -1, q_text = -1;
    for (const char *p = accept; *p;) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        double q = qvalue(p, end);
        if (range_is(p, end, "application/openmetrics-text")) {
            if (q > q_om)
                q_om = q;
        } else if (range_is(p, end, "text/plain") || range_is(p, end, "text/*") ||
                   range_is(p, end, "*/*")) {
            if (q > q_text)
                q_text = q;
        }
        p = comma ? comma + 1 : end;
    }
    return q_om > 0 && q_om >= q_text ? AM_FORMAT_OPENMETRICS : AM_FORMAT_PROMETHEUS;
}

bool am__accepts_gzip(const char *ae)
{
    if (!ae)
        return false;
    double q_gzip = -1, q_any = -1;
    for (const char *p = ae; *p;) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        double q = qvalue(p, end);
        if (range_is(p, end, "gzip") || range_is(p, end, "x-gzip"))
            q_gzip = q > q_gzip ? q : q_gzip;
        else if (range_is(p, end, "*"))
            q_any = q;
        p = comma ? comma + 1 : end;
    }
    return q_gzip >= 0 ? q_gzip > 0 : q_any > 0;
}
