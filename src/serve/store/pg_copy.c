/*
** pg_copy.c: records as the binary COPY stream PostgreSQL reads (see
** pg_copy.h and "Binary Format" of the COPY reference). store_pg.c's
** writer COPYs every chunk of a batch this way, straight into the table
** or into its staging table (has_ord); the values go as they are, so
** nothing is formatted here or parsed by the server, and a text value
** needs no escaping.
**
** No libpq here: the bytes only, into an am_buf (whose first failure to
** grow is sticky: the caller checks am_buf_err once, at the end).
*/
#include <string.h>

#include "pg_copy.h"

/* v as its last `bytes` bytes (2, 4 or 8), big-endian */
static void put_be(am_buf *o, uint64_t v, int bytes)
{
    char *p = am_buf_reserve(o, (size_t)bytes);
    if (!p)
        return;
    for (int i = 0; i < bytes; i++)
        p[i] = (char)(v >> (8 * (bytes - 1 - i)));
    o->len += (size_t)bytes;
}

void am__pg_copy_data(am_buf *o, const am_table *t, size_t n_cols, const am_record *recs, size_t n,
                      bool has_ord)
{
    am_buf_append(o, "PGCOPY\n\377\r\n\0", 11);
    put_be(o, 0, 4); /* flags */
    put_be(o, 0, 4); /* header extension */
    for (size_t k = 0; k < n; k++) {
        put_be(o, n_cols + has_ord, 2);
        if (has_ord) {
            put_be(o, 8, 4);
            put_be(o, (uint64_t)k, 8);
        }
        for (size_t i = 0; i < n_cols; i++) {
            const am_value *v = &recs[k].vals[i];
            am_col_type ty = t->cols[i].type;
            if (v->is_null || (ty == AM_COL_TEXT && !v->v.s)) {
                put_be(o, UINT32_MAX, 4); /* -1 */
            } else if (ty == AM_COL_TEXT) {
                size_t len = strlen(v->v.s);
                put_be(o, len, 4);
                am_buf_append(o, v->v.s, len);
            } else if (ty == AM_COL_INT) {
                put_be(o, 8, 4);
                put_be(o, (uint64_t)v->v.i, 8);
            } else {
                uint64_t bits;
                memcpy(&bits, &v->v.d, sizeof bits);
                put_be(o, 8, 4);
                put_be(o, bits, 8);
            }
        }
    }
    put_be(o, UINT16_MAX, 2); /* -1: the end */
}
