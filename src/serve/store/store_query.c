/*
** store_query.c: the store's reads -- cursors, the row select, summaries
** (rollups for whole minutes and hours, rows for the rest) and series.
**
** DESIGN
** Each read runs its SQL on a reading connection and collects the whole
** result first -- rows copied into one array and one string buffer,
** summary points into per-(group, bucket) histograms, series samples into
** one array -- and only then walks it, calling the caller's callbacks
** with values (store.h's contract: a failed read calls nothing back; a
** callback's non-zero return stops the walk and is returned). Nothing
** here knows JSON or HTTP; api/results_json.c renders what the walks give.
** Collecting costs one copy of each string, which the SQL read dwarfs.
**
** Summary groups are ordered by sorting pointers to them with a
** comparator that reads each group's own width, so sorting needs no
** shared state and summaries run in parallel without a lock.
*/
#include "store_internal.h"

/*
** Run the read whose SQL is in sql (freed here) on a reading connection:
** st carries the parameters and the result shape; sql.p is filled in.
*/
static am_err run_read(am_store *s, am_buf *sql, am_store_stmt st)
{
    am_err rc = am_buf_err(sql) ? am__err(AM_ENOMEM, "out of memory building a query") : AM_OK;
    if (!rc) {
        st.sql = sql->p;
        rc = s->ops->run(s->be, false, &st, NULL);
    }
    am_buf_free(sql);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Cursors                                                             */
/* ------------------------------------------------------------------ */

static uint64_t fnv_double(uint64_t h, double d)
{
    uint64_t bits;
    if (d != d)
        d = NAN; /* one spelling of "unbounded" */
    memcpy(&bits, &d, sizeof bits);
    return am__fnv1a64(h, &bits, sizeof bits);
}

uint64_t am__store_query_hash(const am_store_query *q)
{
    uint64_t h = am__fnv1a64(AM_FNV1A64_INIT, "am-cursor-1", 11);
    int t = (int)q->table;
    h = am__fnv1a64(h, &t, sizeof t);
    h = fnv_double(h, q->start);
    h = fnv_double(h, q->end);
    for (size_t i = 0; i < q->n_filters; i++) {
        int c = q->filters[i].col;
        h = am__fnv1a64(h, &c, sizeof c);
        if (q->filters[i].value)
            h = am__fnv1a64(h, q->filters[i].value, strlen(q->filters[i].value) + 1);
        else
            h = am__fnv1a64(h, "\xff", 1);
    }
    return h;
}

static uint64_t cursor_check(uint64_t qhash, uint64_t tbits, uint64_t seq)
{
    uint64_t h = am__fnv1a64(AM_FNV1A64_INIT, &qhash, sizeof qhash);
    h = am__fnv1a64(h, &tbits, sizeof tbits);
    return am__fnv1a64(h, &seq, sizeof seq);
}

static void put_hex(char *out, uint64_t v)
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 15; i >= 0; i--) {
        out[i] = digits[v & 15];
        v >>= 4;
    }
}

void am__store_cursor_encode(char out[49], uint64_t qhash, double ts, int64_t seq)
{
    uint64_t tbits;
    memcpy(&tbits, &ts, sizeof tbits);
    put_hex(out, tbits);
    put_hex(out + 16, (uint64_t)seq);
    put_hex(out + 32, cursor_check(qhash, tbits, (uint64_t)seq));
    out[48] = '\0';
}

static bool get_hex(const char *s, uint64_t *v)
{
    uint64_t x = 0;
    for (int i = 0; i < 16; i++) {
        char c = s[i];
        int d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else
            return false;
        x = x << 4 | (uint64_t)d;
    }
    *v = x;
    return true;
}

am_err am__store_cursor_decode(const char *text, uint64_t qhash, double *ts, int64_t *seq)
{
    size_t n = strnlen(text, 49);
    uint64_t tbits, sq, check;
    if (n != 48 || !get_hex(text, &tbits) || !get_hex(text + 16, &sq) ||
        !get_hex(text + 32, &check))
        return am__err(AM_EINVAL, "cursor: not a cursor this store made (48 hex digits)");
    if (check != cursor_check(qhash, tbits, sq))
        return am__err(AM_EINVAL, "cursor: altered, or made for another query (table, range "
                                  "and filters must stay the same while paging)");
    double t;
    memcpy(&t, &tbits, sizeof t);
    if (!(t >= 0 && t < MAX_TIME) || sq > (uint64_t)INT64_MAX)
        return am__err(AM_EINVAL, "cursor: holds no valid position");
    *ts = t;
    *seq = (int64_t)sq;
    return AM_OK;
}

/* ------------------------------------------------------------------ */
/* Query checks                                                        */
/* ------------------------------------------------------------------ */

static am_err parse_number(const char *s, am_col_type type, am_value *out)
{
    char *end;
    errno = 0;
    if (!*s || (*s == ' ' || *s == '\t' || *s == '\n'))
        return AM_EINVAL;
    if (type == AM_COL_INT) {
        long long v = strtoll(s, &end, 10);
        if (*end || errno)
            return AM_EINVAL;
        out->v.i = v;
        return AM_OK;
    }
    double d = strtod(s, &end);
    if (*end || isnan(d) || (errno && isfinite(d)))
        return AM_EINVAL;
    if (type == AM_COL_TIME && !isfinite(d))
        return AM_EINVAL;
    out->v.d = d;
    return AM_OK;
}

static am_err check_query(const am_store *s, const am_store_query *q, const am_table **tp,
                          am_value *vals)
{
    const am_table *t = am_table_get(q->table);
    if (!t)
        return am__err(AM_EINVAL, "unknown table %d", (int)q->table);
    if (!s->n_cols[t->id])
        return am__err(AM_EINVAL, "the database (schema version %d) has no table %s", s->version,
                       t->sql_name);
    if (isinf(q->start) || isinf(q->end))
        return am__err(AM_EINVAL, "start and end must be finite times (or unset)");
    if (q->end < q->start)
        return am__err(AM_EINVAL, "end is before start");
    if (q->n_filters > AM_STORE_MAX_FILTERS)
        return am__err(AM_EINVAL, "more than %d filters", AM_STORE_MAX_FILTERS);
    for (size_t i = 0; i < q->n_filters; i++) {
        int c = q->filters[i].col;
        if (c < 0 || (size_t)c >= s->n_cols[t->id])
            return am__err(AM_EINVAL, "filter %zu: %s has no column %d", i, t->api_name, c);
        const am_column *col = &t->cols[c];
        const char *v = q->filters[i].value;
        vals[i] = (am_value){0};
        if (!v) {
            vals[i].is_null = true;
            continue;
        }
        if (col->type == AM_COL_TEXT) {
            if (strlen(v) > AM_STORE_MAX_TEXT || !am__utf8_valid(v, strlen(v), NULL))
                return am__err(AM_EINVAL, "filter on %s: not UTF-8 text of at most %d bytes",
                               col->name, AM_STORE_MAX_TEXT);
            vals[i].v.s = v;
        } else if (parse_number(v, col->type, &vals[i])) {
            return am__err(AM_EINVAL, "filter on %s: \"%.64s\" is not %s", col->name, v,
                           col->type == AM_COL_INT    ? "an integer"
                           : col->type == AM_COL_TIME ? "a time (unix seconds)"
                                                      : "a number");
        }
    }
    *tp = t;
    return AM_OK;
}

/* ------------------------------------------------------------------ */
/* Rows, kept until the read is complete                              */
/* ------------------------------------------------------------------ */

/*
** A read fetches its whole result before the first callback (store.h's
** contract), so rows are copied as they come: their values into one
** array, their strings into one buffer. Until the result is complete a
** TEXT value holds its string's offset in that buffer (which moves as it
** grows); rowset_done() turns the offsets into pointers.
*/
typedef struct rowset {
    const am_table *t;
    size_t n_cols; /* values per row: the table's (those the database has
                      not are NULL) */
    size_t n_have; /* those the database has */
    am_value *vals;
    size_t n, cap;
    am_buf text;
} rowset;

static int rowset_add(rowset *rs, const am_value *cols)
{
    am_value *v = am__grow(rs->vals, &rs->cap, (rs->n + 1) * rs->n_cols, sizeof *v, 256);
    if (!v)
        return AM_ENOMEM;
    rs->vals = v;
    v += rs->n * rs->n_cols;
    for (size_t i = 0; i < rs->n_cols; i++) {
        v[i] = i < rs->n_have ? cols[i] : (am_value){.is_null = true};
        if (rs->t->cols[i].type == AM_COL_TEXT && !v[i].is_null && v[i].v.s) {
            size_t off = rs->text.len;
            am_buf_append(&rs->text, v[i].v.s, strlen(v[i].v.s) + 1);
            v[i].v.i = (int64_t)off;
        } else if (rs->t->cols[i].type == AM_COL_TEXT) {
            v[i] = (am_value){.is_null = true};
        }
    }
    rs->n++;
    return am_buf_err(&rs->text) ? AM_ENOMEM : 0;
}

static void rowset_done(rowset *rs)
{
    for (size_t k = 0; k < rs->n * rs->n_cols; k++)
        if (rs->t->cols[k % rs->n_cols].type == AM_COL_TEXT && !rs->vals[k].is_null)
            rs->vals[k].v.s = rs->text.p + rs->vals[k].v.i;
}

static void rowset_free(rowset *rs)
{
    am__free(rs->vals);
    am_buf_free(&rs->text);
}

/* ------------------------------------------------------------------ */
/* Select                                                              */
/* ------------------------------------------------------------------ */

typedef struct select_ctx {
    rowset rows;
    size_t limit;
    double last_ts;
    int64_t last_seq;
    bool has_more;
} select_ctx;

static int on_select_row(void *ud, const am_value *cols)
{
    select_ctx *c = ud;
    if (c->rows.n == c->limit) {
        c->has_more = true;
        return 0;
    }
    c->last_seq = cols[0].v.i;
    c->last_ts = cols[1 + AM_C_TIMESTAMP].v.d;
    return rowset_add(&c->rows, cols + 1);
}

static void result_types(const am_table *t, am_col_type *types)
{
    for (size_t i = 0; i < t->n_cols; i++)
        types[i] = t->cols[i].type == AM_COL_TIME ? AM_COL_REAL : t->cols[i].type;
}

am_err am_store_select(am_store *s, const am_store_query *q, am_store_on_row on_row, void *ud,
                       size_t *n_rows, char next_cursor[AM_STORE_CURSOR_MAX])
{
    const am_table *t;
    am_value fvals[AM_STORE_MAX_FILTERS];
    am_err rc = check_query(s, q, &t, fvals);
    if (rc)
        return rc;
    if (q->limit < 1 || q->limit > 10000)
        return am__err(AM_EINVAL, "limit must be 1..10000 (got %zu)", q->limit);
    uint64_t qhash = am__store_query_hash(q);
    double after_ts = 0;
    int64_t after_seq = 0;
    bool has_after = q->cursor && *q->cursor;
    if (has_after && (rc = am__store_cursor_decode(q->cursor, qhash, &after_ts, &after_seq)))
        return rc;

    size_t n_have = s->n_cols[t->id];
    am_buf sql;
    am_buf_init(&sql, 0);
    am_value params[AM_STORE_MAX_FILTERS + 6];
    am_col_type ptypes[AM_STORE_MAX_FILTERS + 6];
    size_t np = 0;
    am_buf_puts(&sql, "SELECT seq");
    for (size_t i = 0; i < n_have; i++)
        am_buf_printf(&sql, ", %s", t->cols[i].name);
    am_buf_printf(&sql, " FROM %s", t->sql_name);
    am__sql_where(&sql, s->ops->dialect, t, q, fvals, has_after, after_ts, after_seq, params,
                  ptypes, &np);
    am_buf_puts(&sql, " ORDER BY timestamp, seq LIMIT ");
    params[np] = (am_value){.v.i = (int64_t)q->limit + 1}; /* one more: is there a next page? */
    ptypes[np] = AM_COL_INT;
    am__sql_param(&sql, s->ops->dialect, &np);
    am_col_type ctypes[AM_TABLE_MAX_COLS + 1];
    ctypes[0] = AM_COL_INT;
    result_types(t, ctypes + 1);
    select_ctx c = {.rows = {.t = t, .n_cols = t->n_cols, .n_have = n_have}, .limit = q->limit};
    am_buf_init(&c.rows.text, 0);
    rc = run_read(s, &sql,
                  (am_store_stmt){.params = params,
                                  .param_types = ptypes,
                                  .n_params = np,
                                  .col_types = ctypes,
                                  .n_cols = n_have + 1,
                                  .on_row = on_select_row,
                                  .ud = &c});
    if (rc == AM_ENOMEM)
        rc = am__err(AM_ENOMEM, "out of memory reading %s", t->sql_name);
    if (!rc) {
        rowset_done(&c.rows);
        for (size_t k = 0; k < c.rows.n && !rc; k++)
            rc = (am_err)on_row(ud, t, c.rows.vals + k * t->n_cols);
    }
    if (!rc) {
        *n_rows = c.rows.n;
        if (c.has_more)
            am__store_cursor_encode(next_cursor, qhash, c.last_ts, c.last_seq);
        else
            next_cursor[0] = '\0';
    }
    rowset_free(&c.rows);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Summaries                                                           */
/* ------------------------------------------------------------------ */

typedef struct group {
    char **vals; /* n values (the summary's n_group_by), NULL for SQL NULL */
    size_t n;
    uint32_t rank;
} group;

typedef struct summary_ctx {
    const am_table *t;
    const am_store_summary *q;
    int err_col; /* index in the raw result, or -1 */
    am_col_type err_type;
    bool is_g_group; /* rollup rows: g is the group (else: one group) */
    amap accs;       /* (group, step bucket) -> acc */
    group *groups;
    size_t n_groups, cap_groups;
    am__map by_vals; /* the group's values (group_key) -> group index + 1 */
    am_buf key;      /* group_key's scratch */
    uint64_t n_raw, n_rollup;
} summary_ctx;

/* A row's group values as one key: their count, then each value 0 for SQL
   NULL, else 1, its text and a NUL (texts hold no NUL, so no two lists
   share a key). */
static bool group_key(am_buf *b, const am_value *vals, size_t n)
{
    b->len = 0;
    am_buf_putc(b, (char)n);
    for (size_t i = 0; i < n; i++) {
        am_buf_putc(b, vals[i].is_null ? 0 : 1);
        if (!vals[i].is_null)
            am_buf_append(b, vals[i].v.s, strlen(vals[i].v.s) + 1);
    }
    return !am_buf_err(b);
}

static int64_t group_of(summary_ctx *c, const am_value *vals, size_t n)
{
    if (!group_key(&c->key, vals, n))
        return -1;
    uint64_t h = am__hash64(0, c->key.p, c->key.len);
    uintptr_t found = (uintptr_t)am__map_find(&c->by_vals, h, c->key.p, c->key.len);
    if (found)
        return (int64_t)found - 1;
    if (c->n_groups == c->cap_groups) {
        size_t cap = c->cap_groups ? c->cap_groups * 2 : 16;
        group *g = am__realloc(c->groups, cap * sizeof *g);
        if (!g)
            return -1;
        c->groups = g;
        c->cap_groups = cap;
    }
    group *g = &c->groups[c->n_groups];
    g->n = n;
    g->vals = am__calloc(n ? n : 1, sizeof(char *));
    if (!g->vals)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!vals[i].is_null && !(g->vals[i] = am__strdup(vals[i].v.s))) {
            for (size_t k = 0; k < i; k++)
                am__free(g->vals[k]);
            am__free(g->vals);
            return -1;
        }
    if (am__map_put(&c->by_vals, h, c->key.p, c->key.len, (void *)(uintptr_t)(c->n_groups + 1))) {
        for (size_t k = 0; k < n; k++)
            am__free(g->vals[k]);
        am__free(g->vals);
        return -1;
    }
    return (int64_t)c->n_groups++;
}

static acc *summary_acc(summary_ctx *c, const am_value *gvals, size_t ng, double t)
{
    int64_t g = group_of(c, gvals, ng);
    if (g < 0)
        return NULL;
    struct {
        uint32_t g;
        int64_t b;
    } key = {(uint32_t)g, (int64_t)floor(t / c->q->step)};
    char k[12];
    memcpy(k, &key.g, 4);
    memcpy(k + 4, &key.b, 8);
    bool is_new;
    acc *a = am__amap_get(&c->accs, k, sizeof k, &is_new);
    if (a && is_new) {
        a->group = key.g;
        a->sbucket = key.b;
    }
    return a;
}

static int on_summary_row(void *ud, const am_value *cols)
{
    summary_ctx *c = ud;
    size_t ng = c->q->n_group_by;
    acc *a = summary_acc(c, cols + 1, ng, cols[0].v.d);
    if (!a)
        return AM_ENOMEM;
    c->n_raw++;
    a->n++;
    if (c->err_col >= 0)
        a->errors += am__store_is_error(c->t, c->err_type, &cols[c->err_col]);
    const am_value *v = &cols[1 + ng];
    if (!v->is_null) {
        a->n_vals++;
        if (!am__hist_add(&a->h, am__hist_index(v->v.d), 1))
            return AM_ENOMEM;
    }
    return 0;
}

/* bucket, g, n, errors, n_vals, hist */
static int on_rollup_row(void *ud, const am_value *cols)
{
    summary_ctx *c = ud;
    acc *a = summary_acc(c, cols + 1, c->is_g_group ? 1 : 0, cols[0].v.d);
    if (!a)
        return AM_ENOMEM;
    c->n_rollup++;
    a->n += (uint64_t)cols[2].v.i;
    a->errors += (uint64_t)cols[3].v.i;
    a->n_vals += (uint64_t)cols[4].v.i;
    if (!cols[5].is_null && !am__hist_merge_text(&a->h, cols[5].v.s))
        return AM_EPROTO;
    return 0;
}

/* Groups in ascending order of their values, SQL NULL first. */
static int cmp_group(const void *a, const void *b)
{
    const group *x = *(const group *const *)a, *y = *(const group *const *)b;
    for (size_t i = 0; i < x->n; i++) {
        const char *p = x->vals[i], *q = y->vals[i];
        if (!p || !q) {
            if (p != q)
                return p ? 1 : -1;
            continue;
        }
        int r = strcmp(p, q);
        if (r)
            return r;
    }
    return 0;
}

static int cmp_acc(const void *a, const void *b)
{
    const acc *x = *(const acc *const *)a, *y = *(const acc *const *)b;
    if (x->group != y->group)
        return x->group < y->group ? -1 : 1;
    return x->sbucket < y->sbucket ? -1 : x->sbucket > y->sbucket;
}

static double percentile(const acc *a, double q)
{
    return a->n_vals ? am__hist_quantile(&a->h, a->n_vals, q) : NAN;
}

/* The points, in order, to on_point. */
static am_err walk_summary(summary_ctx *c, am_store_on_point on_point, void *ud)
{
    if (c->accs.n > MAX_POINTS)
        return am__err(AM_ELIMIT, "the summary has %zu group x step points, more than %d",
                       c->accs.n, MAX_POINTS);
    /* order groups by their values; points by group rank and bucket */
    acc **pts = am__malloc((c->accs.n ? c->accs.n : 1) * sizeof *pts);
    group **by_rank = am__malloc((c->n_groups ? c->n_groups : 1) * sizeof *by_rank);
    if (!pts || !by_rank) {
        am__free(pts);
        am__free(by_rank);
        return am__err(AM_ENOMEM, "out of memory summarizing");
    }
    for (size_t i = 0; i < c->n_groups; i++)
        by_rank[i] = &c->groups[i];
    if (c->n_groups)
        qsort(by_rank, c->n_groups, sizeof *by_rank, cmp_group);
    for (size_t i = 0; i < c->n_groups; i++)
        by_rank[i]->rank = (uint32_t)i;
    size_t n = 0;
    size_t it = 0;
    for (am__map_slot *sl; (sl = am__map_next(&c->accs, &it));) {
        acc *a = sl->val;
        a->group = c->groups[a->group].rank;
        pts[n++] = a;
    }
    if (n)
        qsort(pts, n, sizeof *pts, cmp_acc);
    am_err rc = AM_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        const acc *a = pts[i];
        am_store_point p = {
            .group = a->group,
            .group_vals = (const char *const *)by_rank[a->group]->vals,
            .t = (double)a->sbucket * c->q->step,
            .count = a->n,
            .error_rate = c->t->error_col >= 0 ? (double)a->errors / (double)a->n : NAN,
            .p50 = percentile(a, 0.50),
            .p95 = percentile(a, 0.95),
            .p99 = percentile(a, 0.99),
        };
        rc = (am_err)on_point(ud, &p);
    }
    am__free(pts);
    am__free(by_rank);
    return rc;
}

/* Rows of [a, b) read as they are. */
static am_err summary_raw(am_store *s, summary_ctx *c, const int *cols, size_t nc,
                          const am_col_type *ctypes, const am_value *fvals, double a, double b)
{
    am_store_query q = c->q->q;
    q.start = a;
    q.end = b;
    am_buf sql;
    am_buf_init(&sql, 0);
    am_value params[AM_STORE_MAX_FILTERS + 5];
    am_col_type ptypes[AM_STORE_MAX_FILTERS + 5];
    size_t np = 0;
    am_buf_puts(&sql, "SELECT ");
    am__sql_columns(&sql, c->t, cols, nc);
    am_buf_printf(&sql, " FROM %s", c->t->sql_name);
    am__sql_where(&sql, s->ops->dialect, c->t, &q, fvals, false, 0, 0, params, ptypes, &np);
    return run_read(s, &sql,
                    (am_store_stmt){.params = params,
                                    .param_types = ptypes,
                                    .n_params = np,
                                    .col_types = ctypes,
                                    .n_cols = nc,
                                    .on_row = on_summary_row,
                                    .ud = c});
}

/* Rollups of one level over [a, b), both multiples of the level. */
static am_err summary_rollup(am_store *s, summary_ctx *c, int level, int dim, bool has_g,
                             const char *g, double a, double b)
{
    const am_sql_dialect *d = s->ops->dialect;
    am_buf sql;
    am_buf_init(&sql, 0);
    am_value p[5] = {{.v.i = level}, {.v.i = dim}, {.v.d = a}, {.v.d = b}, {.v.s = g}};
    am_col_type pt[5] = {AM_COL_INT, AM_COL_INT, AM_COL_REAL, AM_COL_REAL, AM_COL_TEXT};
    size_t np = 0;
    am_buf_printf(&sql, "SELECT bucket, g, n, errors, n_vals, hist FROM %s_rollup WHERE level = ",
                  c->t->sql_name);
    am__sql_param(&sql, d, &np);
    am_buf_puts(&sql, " AND dim = ");
    am__sql_param(&sql, d, &np);
    am_buf_puts(&sql, " AND bucket >= ");
    am__sql_param(&sql, d, &np);
    am_buf_puts(&sql, " AND bucket < ");
    am__sql_param(&sql, d, &np);
    if (has_g && g) {
        am_buf_puts(&sql, " AND g = ");
        am__sql_param(&sql, d, &np);
    } else if (has_g) {
        am_buf_puts(&sql, " AND g IS NULL");
    }
    static const am_col_type ct[6] = {AM_COL_REAL, AM_COL_TEXT, AM_COL_INT,
                                      AM_COL_INT,  AM_COL_INT,  AM_COL_TEXT};
    am_err rc = run_read(s, &sql,
                         (am_store_stmt){.params = p,
                                         .param_types = pt,
                                         .n_params = np,
                                         .col_types = ct,
                                         .n_cols = 6,
                                         .on_row = on_rollup_row,
                                         .ud = c});
    if (rc == AM_EPROTO)
        rc = am__err(AM_EIO, "a stored rollup histogram of %s is not readable", c->t->sql_name);
    return rc;
}

typedef struct plan {
    const int *cols;
    size_t nc;
    const am_col_type *ctypes;
    const am_value *fvals;
    bool use_rollups, has_g;
    int dim;
    const char *g;
} plan;

/* [a, b): whole buckets of the coarsest usable level from the rollups,
   the partial ones at the ends from finer levels, then from rows. */
static am_err summary_range(am_store *s, summary_ctx *c, const plan *p, double a, double b, int li)
{
    if (a >= b)
        return AM_OK;
    while (li < 2 && fmod(c->q->step, LEVELS[li]) != 0)
        li++;
    if (li == 2 || !p->use_rollups)
        return summary_raw(s, c, p->cols, p->nc, p->ctypes, p->fvals, a, b);
    double l = LEVELS[li], a2 = ceil(a / l) * l, b2 = floor(b / l) * l;
    if (a2 >= b2)
        return summary_range(s, c, p, a, b, li + 1);
    am_err rc = summary_range(s, c, p, a, a2, li + 1);
    if (!rc)
        rc = summary_rollup(s, c, (int)l, p->dim, p->has_g, p->g, a2, b2);
    if (!rc)
        rc = summary_range(s, c, p, b2, b, li + 1);
    return rc;
}

am_err am_store_summarize(am_store *s, const am_store_summary *q, am_store_on_point on_point,
                          void *ud)
{
    const am_table *t;
    am_value fvals[AM_STORE_MAX_FILTERS];
    am_err rc = check_query(s, &q->q, &t, fvals);
    if (rc)
        return rc;
    if (!isfinite(q->q.start) || !isfinite(q->q.end))
        return am__err(AM_EINVAL, "a summary needs a finite start and end");
    if (t->value_col < 0)
        return am__err(AM_EINVAL, "%s has no value to summarize", t->api_name);
    if (!(q->step > 0) || !isfinite(q->step))
        return am__err(AM_EINVAL, "step must be > 0 seconds");
    if ((q->q.end - q->q.start) / q->step > MAX_STEPS)
        return am__err(AM_EINVAL, "the range holds more than %d steps", MAX_STEPS);
    if (q->n_group_by > AM_STORE_MAX_GROUP)
        return am__err(AM_EINVAL, "more than %d group_by columns", AM_STORE_MAX_GROUP);
    int cols[2 + AM_STORE_MAX_GROUP + 1];
    size_t nc = 0;
    cols[nc++] = 1; /* timestamp */
    for (size_t i = 0; i < q->n_group_by; i++) {
        int c = q->group_by[i];
        if (c < 0 || (size_t)c >= s->n_cols[t->id] || !t->cols[c].group_by)
            return am__err(AM_EINVAL, "group_by: %s cannot be grouped by column %d%s%s",
                           t->api_name, c, c >= 0 && (size_t)c < t->n_cols ? " " : "",
                           c >= 0 && (size_t)c < t->n_cols ? t->cols[c].name : "");
        for (size_t k = 0; k < i; k++)
            if (q->group_by[k] == c)
                return am__err(AM_EINVAL, "group_by: %s named twice", t->cols[c].name);
        cols[nc++] = c;
    }
    cols[nc++] = t->value_col;
    summary_ctx c = {.t = t, .q = q, .err_col = -1};
    if (t->error_col >= 0) {
        c.err_col = (int)nc;
        c.err_type = t->cols[t->error_col].type;
        cols[nc++] = t->error_col;
    }
    am_col_type ctypes[2 + AM_STORE_MAX_GROUP + 1];
    for (size_t i = 0; i < nc; i++)
        ctypes[i] = t->cols[cols[i]].type == AM_COL_TIME ? AM_COL_REAL : t->cols[cols[i]].type;

    /* rollups hold one dimension (or none): usable when the group_by and
       the filters name at most that one column */
    plan p = {.cols = cols, .nc = nc, .ctypes = ctypes, .fvals = fvals, .use_rollups = true};
    if (q->n_group_by == 1) {
        p.dim = q->group_by[0];
        c.is_g_group = true;
    }
    p.use_rollups = am__store_has_rollups(s, t) && !s->is_rollup_read_off && q->n_group_by <= 1 &&
                    q->q.n_filters <= 1 && (!p.dim || am__store_is_dim(t, p.dim, s->version));
    if (p.use_rollups && q->q.n_filters == 1) {
        int fc = q->q.filters[0].col;
        if (!am__store_is_dim(t, fc, s->version) || (p.dim && fc != p.dim)) {
            p.use_rollups = false;
        } else {
            p.dim = fc;
            p.has_g = true;
            p.g = q->q.filters[0].value;
        }
    }
    rc = summary_range(s, &c, &p, q->q.start, q->q.end, 0);
    am__store_count_read(s, c.n_raw, c.n_rollup);
    if (!rc)
        rc = walk_summary(&c, on_point, ud);
    for (size_t g = 0; g < c.n_groups; g++) {
        for (size_t k = 0; k < q->n_group_by; k++)
            am__free(c.groups[g].vals[k]);
        am__free(c.groups[g].vals);
    }
    am__free(c.groups);
    am__map_free(&c.by_vals);
    am_buf_free(&c.key);
    am__amap_free(&c.accs);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Series                                                              */
/* ------------------------------------------------------------------ */

/*
** The series are collected whole before the first callback: label names
** and values (split from the stored canonical text, which is checked
** here) go into one buffer, samples into one array, and each series
** notes where its labels and samples start.
*/
typedef struct one_series {
    size_t label0, n_labels; /* into series_ctx.label_offs, 2 per label */
    size_t sample0, n_samples;
} one_series;

typedef struct sample {
    double t, v;
} sample;

typedef struct series_ctx {
    const am_store_series *q;
    am_buf text;        /* label names and values, NUL-terminated */
    size_t *label_offs; /* name, value offsets into text */
    size_t n_offs, cap_offs;
    one_series *ser;
    size_t n_ser, cap_ser;
    sample *smp;
    size_t n_smp, cap_smp;
    char *labels; /* the canonical text of the series being read, owned */
    char *scratch;
    size_t cap_scratch;
    int64_t step_i; /* the next step to fill (step > 0) */
    double prev_t, prev_v;
    bool has_prev;
} series_ctx;

static int add_sample(series_ctx *c, double t, double v)
{
    sample *p = am__grow(c->smp, &c->cap_smp, c->n_smp + 1, sizeof *p, 256);
    if (!p)
        return AM_ENOMEM;
    c->smp = p;
    c->smp[c->n_smp++] = (sample){t, v};
    c->ser[c->n_ser - 1].n_samples++;
    return 0;
}

/* With a step: the steps up to (not including) the sample at until. */
static int fill_steps(series_ctx *c, double until)
{
    const am_store_series *q = c->q;
    for (;;) {
        double at = q->start + (double)c->step_i * q->step;
        if (at > q->end || at >= until)
            return 0;
        if (c->has_prev && c->prev_t > at - LOOKBACK_S && add_sample(c, at, c->prev_v))
            return AM_ENOMEM;
        c->step_i++;
    }
}

/* A new series of canonical label text l: its labels, split and kept. */
static int begin_series(series_ctx *c, const char *l)
{
    size_t len = strlen(l), n;
    const char *names[AM_LABELS_MAX], *values[AM_LABELS_MAX];
    char *scratch = am__grow(c->scratch, &c->cap_scratch, len + 1, 1, 256);
    one_series *ser = am__grow(c->ser, &c->cap_ser, c->n_ser + 1, sizeof *ser, 16);
    size_t *offs =
        am__grow(c->label_offs, &c->cap_offs, c->n_offs + 2 * AM_LABELS_MAX, sizeof *offs, 64);
    if (scratch)
        c->scratch = scratch;
    if (ser)
        c->ser = ser;
    if (offs)
        c->label_offs = offs;
    am__free(c->labels);
    c->labels = NULL;
    if (!scratch || !ser || !offs || !(c->labels = am__strdup(l)))
        return AM_ENOMEM;
    if (am__labels_split(l, scratch, len + 1, names, values, AM_LABELS_MAX, &n))
        return AM_EPROTO;
    c->ser[c->n_ser++] = (one_series){c->n_offs, n, c->n_smp, 0};
    for (size_t i = 0; i < n; i++) {
        c->label_offs[c->n_offs++] = c->text.len;
        am_buf_append(&c->text, names[i], strlen(names[i]) + 1);
        c->label_offs[c->n_offs++] = c->text.len;
        am_buf_append(&c->text, values[i], strlen(values[i]) + 1);
    }
    c->step_i = 0;
    c->has_prev = false;
    return am_buf_err(&c->text) ? AM_ENOMEM : 0;
}

static int on_series_row(void *ud, const am_value *cols)
{
    series_ctx *c = ud;
    const char *labels = cols[0].is_null ? "" : cols[0].v.s;
    int rc = 0;
    if (!c->labels || strcmp(c->labels, labels) != 0) {
        if (c->labels && c->q->step > 0 && (rc = fill_steps(c, INFINITY)))
            return rc;
        if ((rc = begin_series(c, labels)))
            return rc;
    }
    double t = cols[1].v.d, v = cols[2].is_null ? NAN : cols[2].v.d;
    if (c->q->step <= 0)
        return add_sample(c, t, v);
    if ((rc = fill_steps(c, t)))
        return rc;
    c->prev_t = t;
    c->prev_v = v;
    c->has_prev = true;
    return 0;
}

/* The collected series, in order, to the callbacks. */
static am_err walk_series(const series_ctx *c, am_store_on_series on_series,
                          am_store_on_sample on_sample, void *ud)
{
    am_err rc = AM_OK;
    for (size_t i = 0; i < c->n_ser && !rc; i++) {
        const one_series *s = &c->ser[i];
        const char *names[AM_LABELS_MAX], *values[AM_LABELS_MAX];
        for (size_t k = 0; k < s->n_labels; k++) {
            names[k] = c->text.p + c->label_offs[s->label0 + 2 * k];
            values[k] = c->text.p + c->label_offs[s->label0 + 2 * k + 1];
        }
        rc = (am_err)on_series(ud, names, values, s->n_labels);
        for (size_t k = 0; k < s->n_samples && !rc; k++)
            rc = (am_err)on_sample(ud, c->smp[s->sample0 + k].t, c->smp[s->sample0 + k].v);
    }
    return rc;
}

am_err am_store_series_query(am_store *s, const am_store_series *q, am_store_on_series on_series,
                             am_store_on_sample on_sample, void *ud)
{
    if (!q->name || !*q->name || am__check_metric_name(q->name, "series name"))
        return am__err(AM_EINVAL, "series: name must be a metric name");
    if (!isfinite(q->start) || !isfinite(q->end) || q->end < q->start)
        return am__err(AM_EINVAL, "series: start and end must be finite and start <= end");
    if (q->n_match > AM_STORE_MAX_FILTERS)
        return am__err(AM_EINVAL, "series: more than %d matchers", AM_STORE_MAX_FILTERS);
    if (q->step < 0 || !isfinite(q->step))
        return am__err(AM_EINVAL, "series: step must be >= 0 seconds");
    if (q->step > 0 && (q->end - q->start) / q->step > MAX_STEPS)
        return am__err(AM_EINVAL, "series: the range holds more than %d steps", MAX_STEPS);
    for (size_t i = 0; i < q->n_match; i++) {
        if (!q->match_names[i] || am__check_label_name(q->match_names[i], "matcher"))
            return am__err(AM_EINVAL, "series: matcher %zu has no valid label name", i);
        if (!q->match_values[i] ||
            !am__utf8_valid(q->match_values[i], strlen(q->match_values[i]), NULL))
            return am__err(AM_EINVAL, "series: matcher %s has no UTF-8 value", q->match_names[i]);
    }
    const am_sql_dialect *d = s->ops->dialect;
    am_buf sql, pairs;
    am_buf_init(&sql, 0);
    am_buf_init(&pairs, 0);
    am_value params[3 + 2 * AM_STORE_MAX_FILTERS];
    am_col_type ptypes[3 + 2 * AM_STORE_MAX_FILTERS];
    size_t offs[2 * AM_STORE_MAX_FILTERS];
    for (size_t i = 0; i < q->n_match; i++) {
        for (int k = 0; k < 2; k++) {
            offs[2 * i + (size_t)k] = pairs.len;
            am_buf_putc(&pairs, k ? ',' : '{');
            am__labels_pair(&pairs, q->match_names[i], q->match_values[i]);
            am_buf_putc(&pairs, '\0');
        }
    }
    size_t np = 0;
    am_buf_puts(&sql, "SELECT labels, timestamp, value FROM metric_samples WHERE name = ");
    params[np] = (am_value){.v.s = q->name};
    ptypes[np] = AM_COL_TEXT;
    am__sql_param(&sql, d, &np);
    am_buf_puts(&sql, " AND timestamp >= ");
    params[np] = (am_value){.v.d = q->start - (q->step > 0 ? LOOKBACK_S : 0)};
    ptypes[np] = AM_COL_REAL;
    am__sql_param(&sql, d, &np);
    am_buf_puts(&sql, " AND timestamp <= ");
    params[np] = (am_value){.v.d = q->end};
    ptypes[np] = AM_COL_REAL;
    am__sql_param(&sql, d, &np);
    am_err rc = am_buf_err(&pairs);
    for (size_t i = 0; !rc && i < q->n_match; i++) {
        for (int k = 0; k < 2; k++) {
            am_buf_printf(&sql, k ? " OR %s(labels, " : " AND (%s(labels, ", d->strpos_fn);
            params[np] = (am_value){.v.s = pairs.p + offs[2 * i + (size_t)k]};
            ptypes[np] = AM_COL_TEXT;
            am__sql_param(&sql, d, &np);
            am_buf_puts(&sql, ") > 0");
        }
        am_buf_putc(&sql, ')');
    }
    am_buf_puts(&sql, " ORDER BY labels, timestamp, seq");
    series_ctx c = {.q = q};
    am_buf_init(&c.text, 0);
    if (rc) {
        rc = am__err(AM_ENOMEM, "out of memory building a query");
        am_buf_free(&sql);
    } else {
        static const am_col_type ct[3] = {AM_COL_TEXT, AM_COL_REAL, AM_COL_REAL};
        rc = run_read(s, &sql,
                      (am_store_stmt){.params = params,
                                      .param_types = ptypes,
                                      .n_params = np,
                                      .col_types = ct,
                                      .n_cols = 3,
                                      .on_row = on_series_row,
                                      .ud = &c});
        if (!rc && c.labels && q->step > 0)
            rc = (am_err)fill_steps(&c, INFINITY);
        if (rc == AM_EPROTO)
            rc = am__err(AM_EIO, "series: a stored label set is not canonical text");
        else if (rc == AM_ENOMEM)
            rc = am__err(AM_ENOMEM, "out of memory reading series");
    }
    if (!rc)
        rc = walk_series(&c, on_series, on_sample, ud);
    am__free(c.labels);
    am__free(c.scratch);
    am__free(c.label_offs);
    am__free(c.ser);
    am__free(c.smp);
    am_buf_free(&c.text);
    am_buf_free(&pairs);
    return rc;
}
