/*
** heap.c: the indexed binary min-heap (see heap.h).
**
** Every move updates the item's pos, so removal of any item is O(log n):
** sift the last item into its place, up or down as its key requires.
*/
#include "../util/alloc.h"
#include "heap.h"

static void put(am_heap *h, size_t i, am_heap_node *x)
{
    h->v[i] = x;
    x->pos = i;
}

static void up(am_heap *h, size_t i)
{
    am_heap_node *x = h->v[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!(x->key < h->v[p]->key))
            break;
        put(h, i, h->v[p]);
        i = p;
    }
    put(h, i, x);
}

static void down(am_heap *h, size_t i)
{
    am_heap_node *x = h->v[i];
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        double key = x->key;
        if (l < h->n && h->v[l]->key < key) {
            m = l;
            key = h->v[l]->key;
        }
        if (l + 1 < h->n && h->v[l + 1]->key < key)
            m = l + 1;
        if (m == i)
            break;
        put(h, i, h->v[m]);
        i = m;
    }
    put(h, i, x);
}

bool am__heap_reserve(am_heap *h, size_t n)
{
    am_heap_node **v = am__grow(h->v, &h->cap, h->n + n, sizeof *v, 16);
    if (!v)
        return false;
    h->v = v;
    return true;
}

bool am__heap_push(am_heap *h, am_heap_node *x)
{
    if (!am__heap_reserve(h, 1))
        return false;
    put(h, h->n++, x);
    up(h, x->pos);
    return true;
}

am_heap_node *am__heap_top(const am_heap *h)
{
    return h->n ? h->v[0] : NULL;
}

void am__heap_remove(am_heap *h, am_heap_node *x)
{
    size_t i = x->pos;
    x->pos = (size_t)-1;
    am_heap_node *last = h->v[--h->n];
    if (i == h->n)
        return;
    put(h, i, last);
    if (i > 0 && last->key < h->v[(i - 1) / 2]->key)
        up(h, i);
    else
        down(h, i);
}

am_heap_node *am__heap_pop(am_heap *h)
{
    am_heap_node *x = am__heap_top(h);
    if (x)
        am__heap_remove(h, x);
    return x;
}

void am__heap_free(am_heap *h)
{
    am__free(h->v);
    h->v = NULL;
    h->n = h->cap = 0;
}
