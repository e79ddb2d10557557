/*
** store_prune.c: deleting old rows of the state tables (alert_state,
** silences), which retention leaves alone (is_kept): their owner decides
** what is old -- the alerting persister prunes alert rows nobody has
** rewritten for longer than they can be restored, and silences that
** expired long ago (docs/ALERTING.md says when).
**
** The deletes run on the writer connection between the writer's batches
** (conn_mu), as retention's do, at most retention_batch rows per
** statement, each statement its own short transaction.
*/
#include "store_internal.h"

am_err am_store_prune(am_store *s, am_table_id t, double before, uint64_t *n_deleted)
{
    if (n_deleted)
        *n_deleted = 0;
    const am_table *tb = am_table_get(t);
    if (!tb || !tb->is_kept)
        return am__err(AM_EINVAL, "am_store_prune: only the state tables are pruned so");
    if (!s->n_cols[t])
        return AM_OK; /* not in a database of this version */
    am_value p[2] = {{.v.d = before}, {.v.i = (int64_t)s->o.retention_batch}};
    am_col_type pt[2] = {AM_COL_REAL, AM_COL_INT};
    am_store_stmt st = {
        .sql = s->delete_sql[t], .params = p, .param_types = pt, .n_params = 2, .is_cached = true};
    for (;;) {
        int64_t changes = 0;
        pthread_mutex_lock(&s->conn_mu);
        am_err rc = s->ops->run(s->be, true, &st, &changes);
        pthread_mutex_unlock(&s->conn_mu);
        if (rc)
            return rc;
        if (n_deleted)
            *n_deleted += (uint64_t)changes;
        if (changes < (int64_t)s->o.retention_batch)
            return AM_OK;
    }
}
