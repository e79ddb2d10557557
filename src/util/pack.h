/*
** pack.h: a table of metric definitions registered as one unit, and its
** record helpers -- what every instrument pack, and each of the
** collector's metric tables, shares.
**
** A pack is its table of metric definitions (catalog.h) and the family
** handles registered from it, h[i] for defs[i]; the library's public pack
** types are this struct under another name. The record helpers resolve
** label values and update in one step, with the rules every pack follows:
** durations and sizes must be finite and >= 0, a full family records into
** its overflow series and says AM_ELIMIT, and a sampled trace becomes the
** exemplar. A NULL pack records nothing (instrumentation off).
*/
#ifndef AM_UTIL_PACK_H
#define AM_UTIL_PACK_H

#include "catalog.h"

typedef struct am__pack {
    const am_metric_def *defs;
    size_t n;
    void *h[];
} am__pack;

#define AM__PACK(x) ((am__pack *)(x))

am_err am__pack_new(am_registry *r, const am_metric_def *defs, size_t n, am__pack **out);
void am__pack_free(am__pack *p);

/* AM_OK, or AM_EINVAL naming what when v is negative, NaN or infinite. */
am_err am__pack_check(double v, const char *what);

/*
** The series h[i]{values} of a row of this type (counter, gauge or
** histogram: am_<type>_with) into *child: AM_OK, or AM_ELIMIT with the
** overflow series; on another error, or p NULL (AM_OK: instrumentation
** off), *child is NULL. The record helpers below are this plus one update.
*/
am_err am__pack_with(am__pack *p, size_t i, am_metric_type type, const char *const *values,
                     size_t n, void **child);

/*
** One step of preparing a handle (am_task_agent, am_worker_agent, ...):
** the series h[i]{values} of its row's type, or NULL. *rc carries the code
** of the steps so far: already an error other than AM_ELIMIT, the step is
** skipped; else it becomes the worse of itself and this step's. So a
** handle resolves its children in a row and checks *rc once.
*/
void *am__pack_resolve(am__pack *p, size_t i, const char *const *values, size_t n, am_err *rc);
/* The start of preparing a handle for a pack (any public pack pointer):
   a zeroed block of size bytes; NULL with *rc AM_OK for a NULL pack (the
   NULL handle records nothing: instrumentation off), or AM_ENOMEM. */
void *am__pack_alloc(const void *pack, size_t size, am_err *rc);
/* The end of preparing handle h (a block of am__malloc) whose children
   came with code rc: h when rc is AM_OK or AM_ELIMIT (overflow series),
   else NULL, h freed. The caller stores it in its *out and returns rc. */
void *am__pack_keep(void *h, am_err rc);
/* counter h[i]{values} += v */
am_err am__pack_count(am__pack *p, size_t i, const char *const *values, size_t n, double v);
/* gauge h[i]{values} = v (add: += v) */
am_err am__pack_set(am__pack *p, size_t i, const char *const *values, size_t n, double v);
am_err am__pack_add(am__pack *p, size_t i, const char *const *values, size_t n, double v);

/* The worse of two codes: an error beats AM_ELIMIT beats AM_OK. */
static inline am_err am__pack_worst(am_err a, am_err b)
{
    if (a && a != AM_ELIMIT)
        return a;
    if (b && b != AM_ELIMIT)
        return b;
    return a ? a : b;
}

/* histogram h[i]{values} observes v, with the calling thread's current
   trace as exemplar when it is sampled (am_histogram_observe_traced) */
am_err am__pack_observe_current(am__pack *p, size_t i, const char *const *values, size_t n,
                                double v);

#endif
