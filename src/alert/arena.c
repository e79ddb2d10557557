/*
** arena.c: bump allocation for work that is freed all at once (arena.h).
**
** Blocks come from am__malloc in sizes that double from 4 KiB up to 1 MiB
** (and larger when one request is larger); allocations are 16-byte
** aligned. Nothing is freed before am__arena_free(). Not thread-safe: one
** arena belongs to one evaluation on one thread.
*/
#include <stdint.h>
#include <string.h>

#include "../util/alloc.h"
#include "arena.h"

struct am_arena_blk {
    am_arena_blk *next;
    size_t cap;
    size_t used;
    size_t pad;
    unsigned char data[];
};

void am__arena_init(am_arena *a, jmp_buf *oom)
{
    a->head = NULL;
    a->oom = oom;
    a->total = 0;
    a->max = 0;
}

void am__arena_free(am_arena *a)
{
    am_arena_blk *b = a->head;
    while (b) {
        am_arena_blk *next = b->next;
        am__free(b);
        b = next;
    }
    a->head = NULL;
    a->total = 0;
}

static void *out_of_memory(am_arena *a)
{
    if (a->oom)
        longjmp(*a->oom, 1);
    return NULL;
}

void *am__arena_alloc(am_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0)
        n = 16;
    am_arena_blk *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = b ? b->cap * 2 : 4096;
        if (cap > (1u << 20))
            cap = 1u << 20;
        if (cap < n)
            cap = n;
        if (cap > SIZE_MAX - sizeof *b || (a->max && a->total + cap > a->max))
            return out_of_memory(a);
        am_arena_blk *nb = am__malloc(sizeof *nb + cap);
        if (!nb)
            return out_of_memory(a);
        nb->cap = cap;
        nb->used = 0;
        a->total += cap;
        /* a big one-off block goes behind the current one, which keeps
           serving small requests */
        if (b && cap == n && b->cap - b->used >= 256) {
            nb->next = b->next;
            b->next = nb;
            nb->used = n;
            return nb->data;
        }
        nb->next = b;
        a->head = b = nb;
    }
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

void *am__arena_zalloc(am_arena *a, size_t n)
{
    void *p = am__arena_alloc(a, n);
    if (p)
        memset(p, 0, n);
    return p;
}

char *am__arena_strndup(am_arena *a, const char *s, size_t n)
{
    char *p = am__arena_alloc(a, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

char *am__arena_strdup(am_arena *a, const char *s)
{
    return am__arena_strndup(a, s, strlen(s));
}

void *am__arena_grow(am_arena *a, void *v, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return v;
    size_t n = *cap ? *cap : 8;
    while (n < need) {
        if (n > SIZE_MAX / 4)
            return out_of_memory(a);
        n *= 2;
    }
    if (n > SIZE_MAX / elem)
        return out_of_memory(a);
    void *p = am__arena_alloc(a, n * elem);
    if (!p)
        return NULL;
    if (v && *cap)
        memcpy(p, v, *cap * elem);
    *cap = n;
    return p;
}
