/*
** alloc.c: the allocator hook and the wrappers every other file uses.
**
** This is the one file allowed to name malloc/realloc/free (the banned-
** function check enforces it). The hook is a plain struct read without
** locking: am_set_allocator() is documented as "before anything else".
** The hook is one per copy of util: am_set_allocator() (core/common.c) sets
** the library's; see there why the program's copy stays on malloc.
** Aligned blocks over-allocate and keep the original pointer just below the
** returned address, so they work with any user allocator.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "agentmon/common.h"
#include "alloc.h"

static am_allocator g_alloc = {malloc, realloc, free};

am_err am__alloc_set(const am_allocator *a)
{
    if (!a) {
        g_alloc.malloc_fn = malloc;
        g_alloc.realloc_fn = realloc;
        g_alloc.free_fn = free;
        return AM_OK;
    }
    if (!a->malloc_fn || !a->realloc_fn || !a->free_fn)
        return AM_EINVAL;
    g_alloc = *a;
    return AM_OK;
}

void *am__malloc(size_t n)
{
    return g_alloc.malloc_fn(n ? n : 1);
}

void *am__calloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return NULL;
    size_t n = count * size;
    void *p = am__malloc(n);
    if (p)
        memset(p, 0, n ? n : 1);
    return p;
}

void *am__realloc(void *p, size_t n)
{
    return g_alloc.realloc_fn(p, n ? n : 1);
}

void am__free(void *p)
{
    if (p)
        g_alloc.free_fn(p);
}

void am__advise_huge(void *p, size_t n)
{
#ifdef MADV_HUGEPAGE
    /* every page the block touches, not only its whole 2 MiB pages: a
       range that split the block's mapping in parts would make the next
       realloc move the block by copying it (mremap refuses a range over
       several mappings) */
    const uintptr_t page = 4096;
    uintptr_t a = (uintptr_t)p & ~(page - 1), b = ((uintptr_t)p + n + page - 1) & ~(page - 1);
    (void)madvise((void *)a, b - a, MADV_HUGEPAGE); /* advice: a refusal changes nothing */
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25 /* Linux 6.1 */
#endif
    /* A block that starts in the first small page of a 2 MiB page (what
       am__huge_size() gets from glibc: its chunk header, written before
       this advice, faulted that small page in, so the rest of that 2 MiB
       would come in 511 faults more): make that 2 MiB one huge page now,
       the small page's bytes copied in. One allocation against 511 traps. */
    const uintptr_t huge = (uintptr_t)2 << 20;
    uintptr_t h = (uintptr_t)p & ~(huge - 1);
    if ((uintptr_t)p - h < page && (uintptr_t)p + n >= h + huge)
        (void)madvise((void *)h, huge, MADV_COLLAPSE); /* advice too */
#else
    (void)p;
    (void)n;
#endif
}

size_t am__huge_size(size_t n)
{
    const size_t huge = (size_t)2 << 20, slack = 32;
    if (n > (size_t)-1 - huge - slack)
        return n;
    return (n + slack + huge - 1) / huge * huge - slack;
}

char *am__strndup(const char *s, size_t n)
{
    char *d = am__malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *am__strdup(const char *s)
{
    return am__strndup(s, strlen(s));
}

void *am__grow(void *v, size_t *cap, size_t need, size_t elem, size_t first)
{
    if (need <= *cap)
        return v;
    size_t n = *cap ? *cap : first;
    while (n < need) {
        if (n > SIZE_MAX / 2)
            return NULL;
        n *= 2;
    }
    if (n > SIZE_MAX / elem)
        return NULL;
    void *p = am__realloc(v, n * elem);
    if (p)
        *cap = n;
    return p;
}
