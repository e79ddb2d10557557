/* coord.c: (filled in by a later layer) */
#include "ext.h"

int ext_coord_init(PyObject *m)
{
    (void)m;
    return 0;
}
