/*
** buf.c: growth and the sticky error of am_buf (see buf.h).
**
** Growth doubles the capacity, so encoding N series costs O(log N)
** allocations in total and none per series. A buffer of megabytes (an
** exposition of 100,000 series) asks for transparent huge pages as it
** grows: what a fresh process's first scrape spent was mostly page
** faults, one per 4 KiB it wrote (issue 14). Such a block is a whole
** number of 2 MiB pages (am__huge_size), so malloc maps it aligned and
** every page of it can be huge.
*/
#include <stdarg.h>
#include <stdio.h>

#include "alloc.h"
#include "buf.h"

void am_buf_init(am_buf *b, size_t max)
{
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
    b->err = AM_OK;
}

void am_buf_free(am_buf *b)
{
    am__free(b->p);
    am_buf_init(b, b->max);
}

void am_buf_adopt(am_buf *b, char *p, size_t cap)
{
    am__free(b->p);
    b->p = p;
    b->len = 0;
    b->cap = cap;
    b->p[0] = '\0';
}

char *am_buf_reserve_slow(am_buf *b, size_t n)
{
    if (b->err)
        return NULL;
    if (b->len + n < b->cap)
        return b->p + b->len;
    if (b->max && b->len + n + 1 > b->max) {
        b->err = AM_ELIMIT;
        return NULL;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap <= b->len + n) {
        if (cap > ((size_t)-1) / 2) {
            b->err = AM_ENOMEM;
            return NULL;
        }
        cap *= 2;
    }
    if (cap > AM_HUGE_BLOCK_MIN / 4 && cap < AM_HUGE_BLOCK_MIN)
        cap = AM_HUGE_BLOCK_MIN; /* past 1 MiB, straight to huge pages: untouched room is free */
    if (cap >= AM_HUGE_BLOCK_MIN)
        cap = am__huge_size(cap); /* whole 2 MiB pages, aligned (alloc.h) */
    if (b->max && cap > b->max)
        cap = b->max;
    char *p;
    if (cap < AM_HUGE_BLOCK_MIN / 2) {
        p = am__realloc(b->p, cap);
    } else if ((p = am__malloc(cap))) {
        /* advised before a byte of it is written (a block grown in place
           would have faulted its pages one by one already) */
        am__advise_huge(p, cap);
        if (b->len)
            memcpy(p, b->p, b->len);
        am__free(b->p);
    }
    if (!p) {
        b->err = AM_ENOMEM;
        return NULL;
    }
    b->p = p;
    b->cap = cap;
    b->p[b->len] = '\0';
    return b->p + b->len;
}

void am_buf_append_slow(am_buf *b, const void *s, size_t n)
{
    char *w = am_buf_reserve(b, n);
    if (!w)
        return;
    memcpy(w, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void am_buf_printf(am_buf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) {
        if (!b->err)
            b->err = AM_EINVAL;
        return;
    }
    if ((size_t)n < sizeof tmp) {
        am_buf_append(b, tmp, (size_t)n);
        return;
    }
    char *w = am_buf_reserve(b, (size_t)n + 1);
    if (!w)
        return;
    va_start(ap, fmt);
    vsnprintf(w, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *am_buf_take(am_buf *b, size_t *len)
{
    if (!b->p && !b->err)
        am_buf_reserve(b, 1);
    if (b->err) {
        am_buf_free(b);
        return NULL;
    }
    char *p = b->p;
    if (len)
        *len = b->len;
    am_buf_init(b, b->max);
    return p;
}
