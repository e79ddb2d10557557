/*
** alloc.h: the library's only way to get memory (STYLE rule 13).
**
** Every allocation goes through the allocator set with am_set_allocator(),
** so a test can fail the k-th one and check that the caller unwinds cleanly.
** None of these abort: NULL means AM_ENOMEM to the caller.
*/
#ifndef AM_CORE_ALLOC_H
#define AM_CORE_ALLOC_H

#include <stddef.h>

#include "agentmon/common.h"

/* Set this copy's hook (am_set_allocator's work); see am_set_allocator. */
am_err am__alloc_set(const am_allocator *a);

void *am__malloc(size_t n);
void *am__calloc(size_t count, size_t size);
void *am__realloc(void *p, size_t n);
void am__free(void *p);
char *am__strdup(const char *s);
char *am__strndup(const char *s, size_t n);
/*
** Room for need elements of elem bytes in the array v of *cap: v itself
** when it has it, else v moved to a block twice as large (first at the
** least; then *cap is updated). NULL when memory runs out (v and *cap
** untouched) or the size would overflow. The one way arrays grow here.
*/
void *am__grow(void *v, size_t *cap, size_t need, size_t elem, size_t first);

/* Blocks of at least this many bytes are worth am__advise_huge(). */
#define AM_HUGE_BLOCK_MIN ((size_t)4 << 20)

/*
** Ask the kernel to back the whole 2 MiB pages inside [p, p + n) with
** transparent huge pages (madvise MADV_HUGEPAGE; nothing where the
** system does not have them). A large buffer written once -- a 6 MB
** exposition -- then takes a few page faults instead of one per 4 KiB,
** which on a virtual machine costs tens of microseconds each. Advice
** only: the memory stays the allocator's.
*/
void am__advise_huge(void *p, size_t n);

/*
** The size to ask am__malloc() for, at least n, when a block of n bytes
** (n >= AM_HUGE_BLOCK_MIN / 2) should lie in whole 2 MiB pages: a
** multiple of 2 MiB less 32 bytes. glibc's malloc serves such a request
** with an mmap() of exactly that multiple (its 16-byte chunk header and
** 8 bytes of rounding), and Linux (6.7 on) places an anonymous mapping
** whose length is a multiple of 2 MiB on a 2 MiB boundary: every page of
** the block can then be a huge page, where an unaligned one keeps up to
** 2 x 511 small pages at its ends, one fault each (issue 14). Only a
** size: with another allocator, or a block malloc takes from its heap,
** nothing is lost but the rounding.
*/
size_t am__huge_size(size_t n);

#endif
