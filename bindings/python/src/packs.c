/* packs.c: (filled in by a later layer) */
#include "ext.h"

int ext_packs_init(PyObject *m)
{
    (void)m;
    return 0;
}
