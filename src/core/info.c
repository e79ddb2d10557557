/*
** info.c: info metrics -- constant facts about a service, value 1.
**
** The handle is the family root and never changes; the exposed series is
** the family's one listed child, whose labels are the info's key/value
** pairs. am_info_set() builds a new child and swaps it in under the family
** lock, so a scrape sees the old pairs or the new ones, never a mix.
*/
#include <string.h>

#include "fork.h"
#include "typed.h"
#include "../util/validate.h"

AM__FAMILY_NEW(info, AM_TYPE_INFO)

am_err am_info_set(am_info *i, const am_labels *pairs)
{
    am_family *f;
    am_err rc = am__family_of(i, AM_TYPE_INFO, &f);
    if (rc)
        return rc;
    if (!pairs || (pairs->n && (!pairs->names || !pairs->values)))
        return am__err(AM_EINVAL, "info \"%s\": pairs are NULL", f->name);
    if (pairs->n > AM_MAX_LABELS)
        return am__err(AM_EINVAL, "info \"%s\": more than %d pairs", f->name, AM_MAX_LABELS);
    const char *strings[2 * AM_MAX_LABELS];
    for (size_t k = 0; k < pairs->n; k++) {
        if ((rc = am__check_label_name(pairs->names[k], "info key")) ||
            (rc = am__check_text(pairs->values[k], AM_MAX_LABEL_VALUE, "info value")))
            return rc;
        for (size_t j = 0; j < k; j++)
            if (strcmp(pairs->names[k], pairs->names[j]) == 0)
                return am__err(AM_EINVAL, "info \"%s\": key \"%s\" appears twice", f->name,
                               pairs->names[k]);
        strings[2 * k] = pairs->names[k];
        strings[2 * k + 1] = pairs->values[k];
    }
    am_child *c = am__child_build(f, NULL, strings, 2 * pairs->n, true);
    if (!c)
        return am__err(AM_ENOMEM, "out of memory setting info \"%s\"", f->name);
    am__lock(&f->lock);
    am_child *old = f->head;
    f->head = f->tail = c;
    am__unlock(&f->lock);
    am__child_free(old); /* scrapes read head under the lock we just left */
    return AM_OK;
}
