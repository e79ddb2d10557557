/*
** pg_copy.h: records as PostgreSQL's COPY ... FROM STDIN (FORMAT binary)
** stream (pg_copy.c). The writer of store_pg.c sends it; the benchmark's
** limit figure sends the same bytes.
*/
#ifndef AM_SERVE_STORE_PG_COPY_H
#define AM_SERVE_STORE_PG_COPY_H

#include <stdbool.h>
#include <stddef.h>

#include "../../util/buf.h"
#include "schema.h"

/*
** Append to o the COPY (FORMAT binary) stream of the n records recs, all
** of table t, with their first n_cols values: the header, per row the
** field count, (has_ord) its index in recs as an int8 column first, then
** the values -- NULL as length -1, text as its bytes, INT as int8, REAL as
** float8, both in network order -- and the trailer. The columns of the
** COPY must have exactly these types (BIGINT, DOUBLE PRECISION, TEXT: the
** dialect's). recs borrowed; out of memory is o's sticky error.
*/
void am__pg_copy_data(am_buf *o, const am_table *t, size_t n_cols, const am_record *recs, size_t n,
                      bool has_ord);

#endif
