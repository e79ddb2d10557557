/*
** typed.h: the family plumbing every metric type shares, generated once.
**
** AM__FAMILY_API(counter, AM_TYPE_COUNTER) defines am_counter_new, _with,
** _remove, _clear and _find as thin, type-checked calls into family.c and
** registry.c, so the rules live in one place for all types.
*/
#ifndef AM_CORE_TYPED_H
#define AM_CORE_TYPED_H

#include "../util/error.h"
#include "family.h"
#include "registry.h"

#define AM__FAMILY_NEW(T, TYPE)                                                                    \
    am_err am_##T##_new(am_registry *r, const am_metric_opts *o, am_##T **out)                     \
    {                                                                                              \
        am_family *f;                                                                              \
        if (!out)                                                                                  \
            return am__err(AM_EINVAL, "out pointer is NULL");                                      \
        am_err rc = am__register(r, TYPE, o, NULL, NULL, &f);                                      \
        if (rc == AM_OK)                                                                           \
            *out = (am_##T *)atomic_load_explicit(&f->root, am_relaxed);                           \
        return rc;                                                                                 \
    }

#define AM__FAMILY_CHILDREN(T, TYPE)                                                               \
    am_err am_##T##_with(am_##T *h, const char *const *values, size_t n, am_##T **out)             \
    {                                                                                              \
        am_family *f;                                                                              \
        am_err rc = am__family_of(h, TYPE, &f);                                                    \
        if (rc)                                                                                    \
            return rc;                                                                             \
        if (!out)                                                                                  \
            return am__err(AM_EINVAL, "out pointer is NULL");                                      \
        am_child *c;                                                                               \
        rc = am__family_with(f, values, n, &c);                                                    \
        if (rc == AM_OK || rc == AM_ELIMIT)                                                        \
            *out = (am_##T *)c;                                                                    \
        return rc;                                                                                 \
    }                                                                                              \
    am_err am_##T##_remove(am_##T *h, const char *const *values, size_t n)                         \
    {                                                                                              \
        am_family *f;                                                                              \
        am_err rc = am__family_of(h, TYPE, &f);                                                    \
        return rc ? rc : am__family_remove(f, values, n);                                          \
    }                                                                                              \
    void am_##T##_clear(am_##T *h)                                                                 \
    {                                                                                              \
        am_family *f;                                                                              \
        if (am__family_of(h, TYPE, &f) == AM_OK)                                                   \
            am__family_clear(f);                                                                   \
    }

#define AM__FAMILY_FIND(T, TYPE)                                                                   \
    am_err am_##T##_find(am_registry *r, const char *name, am_##T **out)                           \
    {                                                                                              \
        am_family *f;                                                                              \
        am_err rc = am__registry_find(r, name, TYPE, &f);                                          \
        if (rc == AM_OK)                                                                           \
            *out = (am_##T *)atomic_load_explicit(&f->root, am_relaxed);                           \
        return rc;                                                                                 \
    }

#define AM__FAMILY_API(T, TYPE)                                                                    \
    AM__FAMILY_NEW(T, TYPE)                                                                        \
    AM__FAMILY_CHILDREN(T, TYPE)                                                                   \
    AM__FAMILY_FIND(T, TYPE)

#endif
