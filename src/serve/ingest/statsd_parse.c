/*
** statsd_parse.c: StatsD / DogStatsD lines (see statsd_parse.h).
**
** The parser is a single left-to-right pass over the caller's bytes that
** records slices: it never allocates and never copies more than one
** number's text, so the aggregator can hash the raw name and tag section
** of a line it has seen before without any further work.
**
** Strictness follows what a Prometheus user needs downstream: every
** accepted line can become a sample. So numbers are finite decimals (no
** NaN, Inf or hex, which strtod would take), a counter cannot go down,
** names and tag keys must map to valid, non-reserved Prometheus names, tags
** are UTF-8 and unique, and everything else is refused with a sentence
** that names the part at fault. DogStatsD's metric extension fields
** (container id, timestamp, external data, cardinality) are accepted and
** ignored; any other field is an error rather than silently dropped, so a
** typo such as "|@0.5|#a:b|x" is noticed.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../util/error.h"
#include "../../util/validate.h"
#include "statsd_parse.h"

/* At most this much of a bad piece is quoted back in a message. */
#define QUOTE_MAX 64
#define QUOTE(p, n) (int)((n) < QUOTE_MAX ? (n) : QUOTE_MAX), (p)

static const char *const type_names[] = {"", "c", "g", "ms", "h", "d", "s"};

const char *am__statsd_type_name(am_statsd_type t)
{
    return t >= AM_STATSD_COUNTER && t <= AM_STATSD_SET ? type_names[t] : "?";
}

static int is_word(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

size_t am__statsd_map_name(const char *s, size_t len, char *out, size_t cap)
{
    size_t o = 0;
#define PUT(ch)                                                                                    \
    do {                                                                                           \
        if (o + 1 < cap)                                                                           \
            out[o] = (ch);                                                                         \
        o++;                                                                                       \
    } while (0)
    if (len && s[0] >= '0' && s[0] <= '9')
        PUT('_');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_word(c))
            PUT((char)c);
        else if ((c & 0xC0) != 0x80) /* one '_' per character, not per byte */
            PUT('_');
    }
#undef PUT
    if (cap)
        out[o < cap ? o : cap - 1] = '\0';
    return o;
}

/* Whether the mapped form of s starts with "__" (reserved in Prometheus). */
static int is_reserved(const char *s, size_t len)
{
    char head[3];
    am__statsd_map_name(s, len, head, sizeof head);
    return head[0] == '_' && head[1] == '_';
}

/*
** A finite decimal number: [+-]digits[.digits][e[+-]digits]. Plain
** integers (nearly every counter) are read from their digits; the rest go
** through strtod once the characters have been checked, so strtod's
** extensions (nan, inf, hex, leading space) never get through.
*/
static int parse_number(const char *s, size_t len, double *out)
{
    if (!len || len >= 64)
        return -1;
    size_t i = (s[0] == '+' || s[0] == '-') ? 1 : 0;
    if (i == len)
        return -1;
    if (len - i <= 15) {
        uint64_t v = 0;
        size_t j = i;
        while (j < len && s[j] >= '0' && s[j] <= '9')
            v = v * 10 + (uint64_t)(s[j++] - '0');
        if (j == len) {
            *out = s[0] == '-' ? -(double)v : (double)v;
            return 0;
        }
    }
    for (size_t j = i; j < len; j++) {
        char c = s[j];
        if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-'))
            return -1;
    }
    char tmp[64];
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    char *end;
    double v = strtod(tmp, &end);
    if (end != tmp + len || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

static am_err parse_tags(const char *s, size_t len, am_statsd_line *out)
{
    out->tags.p = s;
    out->tags.len = len;
    size_t i = 0;
    for (;;) {
        const char *comma = memchr(s + i, ',', len - i);
        size_t end = comma ? (size_t)(comma - s) : len;
        const char *t = s + i;
        size_t tl = end - i;
        if (!tl)
            return am__err(AM_EINVAL, "statsd: empty tag in \"#%.*s\"", QUOTE(s, len));
        if (tl > AM_STATSD_MAX_TAG)
            return am__err(AM_EINVAL, "statsd: tag longer than %d bytes", AM_STATSD_MAX_TAG);
        if (out->n_tags == AM_STATSD_MAX_TAGS)
            return am__err(AM_EINVAL, "statsd: too many tags (more than %d)", AM_STATSD_MAX_TAGS);
        const char *colon = memchr(t, ':', tl);
        size_t kl = colon ? (size_t)(colon - t) : tl;
        if (!kl)
            return am__err(AM_EINVAL, "statsd: empty tag key in \"%.*s\"", QUOTE(t, tl));
        if (is_reserved(t, kl))
            return am__err(AM_EINVAL, "statsd: tag key \"%.*s\" is reserved (maps to \"__...\")",
                           QUOTE(t, kl));
        for (size_t k = 0; k < out->n_tags; k++)
            if (out->tag_keys[k].len == kl && !memcmp(out->tag_keys[k].p, t, kl))
                return am__err(AM_EINVAL, "statsd: duplicate tag key \"%.*s\"", QUOTE(t, kl));
        out->tag_keys[out->n_tags].p = t;
        out->tag_keys[out->n_tags].len = kl;
        out->tag_values[out->n_tags].p = colon ? colon + 1 : t + tl;
        out->tag_values[out->n_tags].len = colon ? tl - kl - 1 : 0;
        out->n_tags++;
        if (!comma)
            return AM_OK;
        i = end + 1;
    }
}

static am_err parse_type(const char *f, size_t n, am_statsd_line *out)
{
    static const struct {
        const char *s;
        size_t n;
        am_statsd_type t;
    } types[] = {{"c", 1, AM_STATSD_COUNTER},      {"g", 1, AM_STATSD_GAUGE},
                 {"ms", 2, AM_STATSD_TIMER},       {"h", 1, AM_STATSD_HISTOGRAM},
                 {"d", 1, AM_STATSD_DISTRIBUTION}, {"s", 1, AM_STATSD_SET}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (n == types[i].n && !memcmp(f, types[i].s, n)) {
            out->type = types[i].t;
            return AM_OK;
        }
    if (!n)
        return am__err(AM_EINVAL, "statsd: missing metric type after '|'");
    return am__err(AM_EINVAL, "statsd: unknown metric type \"%.*s\" (c, g, ms, h, d or s)",
                   QUOTE(f, n));
}

/* DogStatsD's extension fields that carry nothing a sample needs. */
static int is_ignored_field(const char *f, size_t n)
{
    if (n >= 2 && (!memcmp(f, "c:", 2) || !memcmp(f, "e:", 2)))
        return 1;
    if (n >= 5 && !memcmp(f, "card:", 5))
        return 1;
    if (n >= 2 && f[0] == 'T') {
        for (size_t i = 1; i < n; i++)
            if (f[i] < '0' || f[i] > '9')
                return 0;
        return 1;
    }
    return 0;
}

static am_err parse_fields(const char *s, size_t len, am_statsd_line *out)
{
    /* s starts just after the '|' that ends the values */
    size_t i = 0;
    int have_rate = 0, have_tags = 0, first = 1;
    for (;;) {
        const char *bar = memchr(s + i, '|', len - i);
        size_t end = bar ? (size_t)(bar - s) : len;
        const char *f = s + i;
        size_t n = end - i;
        am_err rc = AM_OK;
        if (first) {
            rc = parse_type(f, n, out);
            first = 0;
        } else if (!n) {
            rc = am__err(AM_EINVAL, "statsd: empty field (\"||\" or a trailing '|')");
        } else if (f[0] == '@') {
            if (have_rate++)
                return am__err(AM_EINVAL, "statsd: sample rate given twice");
            double r;
            if (parse_number(f + 1, n - 1, &r) || !(r > 0 && r <= 1))
                rc = am__err(AM_EINVAL, "statsd: bad sample rate \"%.*s\" (want 0 < rate <= 1)",
                             QUOTE(f + 1, n - 1));
            else
                out->sample_rate = r;
        } else if (f[0] == '#') {
            if (have_tags++)
                return am__err(AM_EINVAL, "statsd: tags given twice");
            rc = parse_tags(f + 1, n - 1, out);
        } else if (!is_ignored_field(f, n)) {
            rc = am__err(AM_EINVAL, "statsd: unknown field \"|%.*s\"", QUOTE(f, n));
        }
        if (rc)
            return rc;
        if (!bar)
            return AM_OK;
        i = end + 1;
    }
}

static am_err parse_values(const char *s, size_t len, am_statsd_line *out)
{
    size_t i = 0;
    for (;;) {
        const char *colon = memchr(s + i, ':', len - i);
        size_t end = colon ? (size_t)(colon - s) : len;
        const char *v = s + i;
        size_t n = end - i;
        if (!n)
            return am__err(AM_EINVAL, "statsd: empty value for \"%.*s\"",
                           QUOTE(out->name.p, out->name.len));
        if (out->n_values == AM_STATSD_MAX_VALUES)
            return am__err(AM_EINVAL, "statsd: too many values (more than %d)",
                           AM_STATSD_MAX_VALUES);
        size_t k = out->n_values++;
        out->raw[k].p = v;
        out->raw[k].len = n;
        if (out->type != AM_STATSD_SET) {
            if (parse_number(v, n, &out->values[k]))
                return am__err(AM_EINVAL, "statsd: bad value \"%.*s\" (want a finite number)",
                               QUOTE(v, n));
            if (out->type == AM_STATSD_GAUGE && (v[0] == '+' || v[0] == '-'))
                out->delta_mask |= UINT64_C(1) << k;
            if (out->type == AM_STATSD_COUNTER && out->values[k] < 0)
                return am__err(AM_EINVAL, "statsd: negative counter value \"%.*s\"", QUOTE(v, n));
        }
        if (!colon)
            return AM_OK;
        i = end + 1;
    }
}

am_err am__statsd_parse(const char *s, size_t len, am_statsd_line *out)
{
    out->n_values = 0;
    out->n_tags = 0;
    out->delta_mask = 0;
    out->sample_rate = 1;
    out->tags.p = s + len;
    out->tags.len = 0;
    if (!len)
        return am__err(AM_EINVAL, "statsd: empty line");
    if (len > AM_STATSD_MAX_LINE)
        return am__err(AM_EINVAL, "statsd: line longer than %d bytes", AM_STATSD_MAX_LINE);
    if (len >= 3 && !memcmp(s, "_e{", 3))
        return am__err(AM_EPROTO, "statsd: not a metric (a DogStatsD event)");
    if (len >= 4 && !memcmp(s, "_sc|", 4))
        return am__err(AM_EPROTO, "statsd: not a metric (a DogStatsD service check)");
    if (memchr(s, '\0', len))
        return am__err(AM_EINVAL, "statsd: NUL byte in line");
    if (!am__utf8_valid(s, len, NULL))
        return am__err(AM_EINVAL, "statsd: line is not valid UTF-8");

    const char *bar = memchr(s, '|', len);
    size_t head = bar ? (size_t)(bar - s) : len;
    const char *colon = memchr(s, ':', head);
    if (!colon)
        return am__err(AM_EINVAL, "statsd: no ':' between name and value in \"%.*s\"",
                       QUOTE(s, head));
    out->name.p = s;
    out->name.len = (size_t)(colon - s);
    if (!out->name.len)
        return am__err(AM_EINVAL, "statsd: empty metric name");
    if (out->name.len > AM_STATSD_MAX_NAME)
        return am__err(AM_EINVAL, "statsd: metric name longer than %d bytes", AM_STATSD_MAX_NAME);
    for (size_t i = 0; i < out->name.len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return am__err(AM_EINVAL, "statsd: control character in metric name");
    if (is_reserved(s, out->name.len))
        return am__err(AM_EINVAL, "statsd: metric name \"%.*s\" is reserved (maps to \"__...\")",
                       QUOTE(s, out->name.len));
    if (!bar)
        return am__err(AM_EINVAL, "statsd: missing '|type' after the value of \"%.*s\"",
                       QUOTE(s, out->name.len));
    /* the type decides how values read, so fields come first */
    am_err rc = parse_fields(bar + 1, len - head - 1, out);
    if (rc)
        return rc;
    return parse_values(colon + 1, head - out->name.len - 1, out);
}

bool am__statsd_next_line(const char *buf, size_t len, size_t *pos, am_statsd_str *line)
{
    size_t i = *pos;
    while (i < len) {
        const char *nl = memchr(buf + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - buf) : len;
        size_t n = end - i;
        while (n && buf[i + n - 1] == '\r')
            n--;
        size_t start = i;
        i = nl ? end + 1 : len;
        if (n) {
            line->p = buf + start;
            line->len = n;
            *pos = i;
            return true;
        }
    }
    *pos = len;
    return false;
}
