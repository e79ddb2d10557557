/*
** record.c: a sample as bytes in the sender's log, and back (see rw.h for
** the layout).
**
** DESIGN
** Writing checks what a receiver would refuse -- a missing or invalid
** __name__, bad or duplicate label names, invalid UTF-8 -- so that a
** sample that cannot be sent never takes a place in the log (a 400 from
** the receiver would drop the whole batch it rode in). Reading trusts
** nothing: a segment may come back from disk torn or overwritten, so every
** length is checked against the bytes there and every string must end in
** its NUL; the first bad record ends the segment.
**
** THREADING: pure functions.
*/
#include <stdlib.h>
#include <string.h>

#include "../util/error.h"
#include "../util/validate.h"
#include "rw.h"

static void put_u16(char *p, size_t v)
{
    p[0] = (char)(v & 0xff);
    p[1] = (char)(v >> 8);
}

static size_t get_u16(const char *p)
{
    return (size_t)(unsigned char)p[0] | (size_t)(unsigned char)p[1] << 8;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const am__pair *)a)->name, ((const am__pair *)b)->name);
}

am_err am__rw_record_put(am_buf *b, am__pair *pairs, size_t n, int64_t t_ms, double v)
{
    if (n == 0 || n > AM_RW_MAX_PAIRS)
        return am__err(AM_EINVAL, "remote_write: a sample has %zu labels (1 to %d)", n,
                       AM_RW_MAX_PAIRS);
    qsort(pairs, n, sizeof *pairs, by_name);
    size_t body = 8 + 8 + 1;
    bool has_name = false;
    for (size_t i = 0; i < n; i++) {
        const char *k = pairs[i].name, *val = pairs[i].value;
        if (!k || !val)
            return am__err(AM_EINVAL, "remote_write: a NULL label name or value");
        if (i && strcmp(k, pairs[i - 1].name) == 0)
            return am__err(AM_EINVAL, "remote_write: label \"%.64s\" is given twice", k);
        if (strcmp(k, "__name__") == 0) {
            has_name = true;
            /* colons allowed; "__" prefixes too (a receiver takes them) */
            size_t m = strlen(val);
            bool ok = m > 0 && m <= AM_MAX_NAME;
            for (size_t j = 0; ok && j < m; j++) {
                char c = val[j];
                ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
                     (j && c >= '0' && c <= '9');
            }
            if (!ok)
                return am__err(AM_EINVAL, "remote_write: \"%.64s\" is not a metric name", val);
        } else {
            size_t m = strlen(k);
            bool ok = m > 0 && m <= AM_MAX_NAME;
            for (size_t j = 0; ok && j < m; j++) {
                char c = k[j];
                ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                     (j && c >= '0' && c <= '9');
            }
            if (!ok)
                return am__err(AM_EINVAL, "remote_write: \"%.64s\" is not a label name", k);
        }
        size_t vl = strlen(val);
        if (vl > AM_MAX_LABEL_VALUE || !am__utf8_valid(val, vl, NULL))
            return am__err(AM_EINVAL,
                           "remote_write: the value of %.64s is over %d bytes or "
                           "not UTF-8",
                           k, AM_MAX_LABEL_VALUE);
        body += 2 + strlen(k) + 1 + 2 + vl + 1;
    }
    if (!has_name)
        return am__err(AM_EINVAL, "remote_write: a sample without __name__");
    char *p = am_buf_reserve(b, 4 + body);
    if (!p)
        return am__err(AM_ENOMEM, "remote_write: out of memory");
    uint32_t len = (uint32_t)body;
    memcpy(p, &len, 4);
    memcpy(p + 4, &t_ms, 8);
    memcpy(p + 12, &v, 8);
    p[20] = (char)n;
    char *w = p + 21;
    for (size_t i = 0; i < n; i++) {
        size_t kl = strlen(pairs[i].name), vl = strlen(pairs[i].value);
        put_u16(w, kl);
        memcpy(w + 2, pairs[i].name, kl + 1);
        w += 2 + kl + 1;
        put_u16(w, vl);
        memcpy(w + 2, pairs[i].value, vl + 1);
        w += 2 + vl + 1;
    }
    b->len += 4 + body;
    return AM_OK;
}

int am__rw_record_next(const char *p, size_t len, size_t *off, am__rw_rec *out)
{
    size_t o = *off;
    if (o == len)
        return 0;
    if (o > len || len - o < 4)
        return -1;
    uint32_t rl;
    memcpy(&rl, p + o, 4);
    if (rl < 17 || rl > len - o - 4)
        return -1;
    const char *r = p + o + 4, *end = r + rl;
    memcpy(&out->t_ms, r, 8);
    memcpy(&out->v, r + 8, 8);
    out->n = (unsigned char)r[16];
    if (out->n == 0 || out->n > AM_RW_MAX_PAIRS)
        return -1;
    const char *w = r + 17;
    for (size_t i = 0; i < out->n; i++) {
        for (int s = 0; s < 2; s++) {
            if (end - w < 3)
                return -1;
            size_t sl = get_u16(w);
            if ((size_t)(end - w) < 2 + sl + 1 || w[2 + sl] != '\0' || memchr(w + 2, '\0', sl))
                return -1;
            if (s == 0)
                out->l[i].name = w + 2;
            else
                out->l[i].value = w + 2;
            w += 2 + sl + 1;
        }
    }
    if (w != end)
        return -1;
    out->size = 4 + (size_t)rl;
    *off = o + out->size;
    return 1;
}
