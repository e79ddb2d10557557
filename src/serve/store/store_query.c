/*
** store_query.c: the store's reads -- cursors, the row select, summaries
** (rollups for whole minutes and hours, rows for the rest) and series.
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

uint64_t am__store_fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) {
        h ^= c[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static uint64_t fnv_double(uint64_t h, double d)
{
    uint64_t bits;
    if (d != d)
        d = NAN; /* one spelling of "unbounded" */
    memcpy(&bits, &d, sizeof bits);
    return am__store_fnv(h, &bits, sizeof bits);
}

uint64_t am__store_query_hash(const am_store_query *q)
{
    uint64_t h = am__store_fnv(0xcbf29ce484222325ULL, "am-cursor-1", 11);
    int t = (int)q->table;
    h = am__store_fnv(h, &t, sizeof t);
    h = fnv_double(h, q->start);
    h = fnv_double(h, q->end);
    for (size_t i = 0; i < q->n_filters; i++) {
        int c = q->filters[i].col;
        h = am__store_fnv(h, &c, sizeof c);
        if (q->filters[i].value)
            h = am__store_fnv(h, q->filters[i].value, strlen(q->filters[i].value) + 1);
        else
            h = am__store_fnv(h, "\xff", 1);
    }
    return h;
}

static uint64_t cursor_check(uint64_t qhash, uint64_t tbits, uint64_t seq)
{
    uint64_t h = am__store_fnv(0xcbf29ce484222325ULL, &qhash, sizeof qhash);
    h = am__store_fnv(h, &tbits, sizeof tbits);
    return am__store_fnv(h, &seq, sizeof seq);
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

static am_err check_query(const am_store_query *q, const am_table **tp, am_value *vals)
{
    const am_table *t = am_table_get(q->table);
    if (!t)
        return am__err(AM_EINVAL, "unknown table %d", (int)q->table);
    if (isinf(q->start) || isinf(q->end))
        return am__err(AM_EINVAL, "start and end must be finite times (or unset)");
    if (q->end < q->start)
        return am__err(AM_EINVAL, "end is before start");
    if (q->n_filters > AM_STORE_MAX_FILTERS)
        return am__err(AM_EINVAL, "more than %d filters", AM_STORE_MAX_FILTERS);
    for (size_t i = 0; i < q->n_filters; i++) {
        int c = q->filters[i].col;
        if (c < 0 || (size_t)c >= t->n_cols)
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
/* Select                                                              */
/* ------------------------------------------------------------------ */

static void buf_value(am_buf *b, am_col_type type, const am_value *v)
{
    if (v->is_null) {
        am_buf_puts(b, "null");
        return;
    }
    switch (type) {
    case AM_COL_TEXT:
        am__buf_json_string(b, v->v.s, strlen(v->v.s));
        break;
    case AM_COL_INT:
        am_buf_printf(b, "%lld", (long long)v->v.i);
        break;
    case AM_COL_REAL:
        if (isinf(v->v.d))
            am_buf_puts(b, v->v.d > 0 ? "\"+Inf\"" : "\"-Inf\"");
        else if (isnan(v->v.d))
            am_buf_puts(b, "\"NaN\"");
        else
            am__buf_double(b, v->v.d);
        break;
    case AM_COL_TIME:
        buf_rfc3339(b, v->v.d);
        break;
    }
}

typedef struct select_ctx {
    const am_table *t;
    am_buf *out;
    size_t n, limit;
    double last_ts;
    int64_t last_seq;
    bool has_more;
} select_ctx;

static int on_select_row(void *ud, const am_value *cols)
{
    select_ctx *c = ud;
    if (c->n == c->limit) {
        c->has_more = true;
        return 0;
    }
    am_buf_puts(c->out, c->n ? ",{" : "{");
    for (size_t i = 0; i < c->t->n_cols; i++) {
        am_buf_printf(c->out, "%s\"%s\":", i ? "," : "", c->t->cols[i].name);
        buf_value(c->out, c->t->cols[i].type, &cols[i + 1]);
    }
    am_buf_putc(c->out, '}');
    c->last_seq = cols[0].v.i;
    c->last_ts = cols[2].v.d;
    c->n++;
    return 0;
}

static void result_types(const am_table *t, am_col_type *types)
{
    for (size_t i = 0; i < t->n_cols; i++)
        types[i] = t->cols[i].type == AM_COL_TIME ? AM_COL_REAL : t->cols[i].type;
}

am_err am_store_select(am_store *s, const am_store_query *q, am_buf *out, size_t *n_rows,
                       char next_cursor[128])
{
    const am_table *t;
    am_value fvals[AM_STORE_MAX_FILTERS];
    am_err rc = check_query(q, &t, fvals);
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

    am_buf sql;
    am_buf_init(&sql, 0);
    am_value params[AM_STORE_MAX_FILTERS + 6];
    am_col_type ptypes[AM_STORE_MAX_FILTERS + 6];
    size_t np = 0;
    am_buf_puts(&sql, "SELECT seq");
    for (size_t i = 0; i < t->n_cols; i++)
        am_buf_printf(&sql, ", %s", t->cols[i].name);
    am_buf_printf(&sql, " FROM %s", t->sql_name);
    am__sql_where(&sql, s->ops->dialect, t, q, fvals, has_after, after_ts, after_seq, params,
                  ptypes, &np);
    am_buf_puts(&sql, " ORDER BY timestamp, seq LIMIT ");
    params[np] = (am_value){.v.i = (int64_t)q->limit + 1}; /* one more: is there a next page? */
    ptypes[np] = AM_COL_INT;
    am__sql_param(&sql, s->ops->dialect, &np);
    am_col_type ctypes[MAX_COLS + 1];
    ctypes[0] = AM_COL_INT;
    result_types(t, ctypes + 1);
    size_t len0 = out->len;
    select_ctx c = {.t = t, .out = out, .limit = q->limit};
    am_buf_putc(out, '[');
    rc = run_read(s, &sql,
                  (am_store_stmt){.params = params,
                                  .param_types = ptypes,
                                  .n_params = np,
                                  .col_types = ctypes,
                                  .n_cols = t->n_cols + 1,
                                  .on_row = on_select_row,
                                  .ud = &c});
    am_buf_putc(out, ']');
    if (!rc && am_buf_err(out))
        rc = am__err(am_buf_err(out), "the result does not fit in the output buffer");
    if (rc) {
        if (!am_buf_err(out)) {
            out->len = len0;
            out->p[len0] = '\0';
        }
        return rc;
    }
    *n_rows = c.n;
    if (c.has_more)
        am__store_cursor_encode(next_cursor, qhash, c.last_ts, c.last_seq);
    else
        next_cursor[0] = '\0';
    return AM_OK;
}

/* ------------------------------------------------------------------ */
/* Summaries                                                           */
/* ------------------------------------------------------------------ */

typedef struct group {
    char **vals; /* n_group_by values, NULL for SQL NULL */
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
    uint32_t *slots; /* open addressing: group index + 1 */
    size_t n_slots;
    uint64_t n_raw, n_rollup;
} summary_ctx;

static uint64_t group_hash(const am_value *vals, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        if (vals[i].is_null)
            h = am__store_fnv(h, "\xff", 1);
        else
            h = am__store_fnv(h, vals[i].v.s, strlen(vals[i].v.s) + 1);
    }
    return h;
}

static bool group_equal(const group *g, const am_value *vals, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (vals[i].is_null != !g->vals[i])
            return false;
        if (!vals[i].is_null && strcmp(vals[i].v.s, g->vals[i]) != 0)
            return false;
    }
    return true;
}

static int rehash(summary_ctx *c, size_t n_slots)
{
    uint32_t *slots = am__calloc(n_slots, sizeof *slots);
    if (!slots)
        return AM_ENOMEM;
    am__free(c->slots);
    c->slots = slots;
    c->n_slots = n_slots;
    return 0;
}

static int64_t group_of(summary_ctx *c, const am_value *vals, size_t n)
{
    if (c->n_groups * 2 >= c->n_slots) {
        if (rehash(c, c->n_slots ? c->n_slots * 2 : 64))
            return -1;
        for (size_t g = 0; g < c->n_groups; g++) {
            am_value tmp[AM_STORE_MAX_GROUP];
            for (size_t i = 0; i < n; i++) {
                tmp[i].is_null = !c->groups[g].vals[i];
                tmp[i].v.s = c->groups[g].vals[i];
            }
            size_t h = group_hash(tmp, n) & (c->n_slots - 1);
            while (c->slots[h])
                h = (h + 1) & (c->n_slots - 1);
            c->slots[h] = (uint32_t)g + 1;
        }
    }
    size_t h = group_hash(vals, n) & (c->n_slots - 1);
    while (c->slots[h]) {
        if (group_equal(&c->groups[c->slots[h] - 1], vals, n))
            return c->slots[h] - 1;
        h = (h + 1) & (c->n_slots - 1);
    }
    if (c->n_groups == c->cap_groups) {
        size_t cap = c->cap_groups ? c->cap_groups * 2 : 16;
        group *g = am__realloc(c->groups, cap * sizeof *g);
        if (!g)
            return -1;
        c->groups = g;
        c->cap_groups = cap;
    }
    group *g = &c->groups[c->n_groups];
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
    c->slots[h] = (uint32_t)c->n_groups + 1;
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

static size_t g_n_group_by;
static group *g_groups;

static int cmp_group_idx(const void *a, const void *b)
{
    const group *x = &g_groups[*(const uint32_t *)a], *y = &g_groups[*(const uint32_t *)b];
    for (size_t i = 0; i < g_n_group_by; i++) {
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

static void buf_percentile(am_buf *b, const char *name, const acc *a, double q)
{
    am_buf_printf(b, ",\"%s\":", name);
    if (!a->n_vals) {
        am_buf_puts(b, "null");
        return;
    }
    am_value v = {.v.d = am__hist_quantile(&a->h, a->n_vals, q)};
    buf_value(b, AM_COL_REAL, &v);
}

static pthread_mutex_t g_sort_mu = PTHREAD_MUTEX_INITIALIZER;

static am_err render_summary(summary_ctx *c, am_buf *out)
{
    const am_store_summary *q = c->q;
    if (c->accs.n > MAX_POINTS)
        return am__err(AM_ELIMIT, "the summary has %zu group x step points, more than %d",
                       c->accs.n, MAX_POINTS);
    /* order groups by their values; points by group rank and bucket */
    uint32_t *order = am__malloc((c->n_groups ? c->n_groups : 1) * sizeof *order);
    acc **pts = am__malloc((c->accs.n ? c->accs.n : 1) * sizeof *pts);
    group **by_rank = am__malloc((c->n_groups ? c->n_groups : 1) * sizeof *by_rank);
    if (!order || !pts || !by_rank) {
        am__free(order);
        am__free(pts);
        am__free(by_rank);
        return am__err(AM_ENOMEM, "out of memory summarizing");
    }
    for (size_t i = 0; i < c->n_groups; i++)
        order[i] = (uint32_t)i;
    pthread_mutex_lock(&g_sort_mu); /* qsort has no context argument */
    g_n_group_by = q->n_group_by;
    g_groups = c->groups;
    if (c->n_groups)
        qsort(order, c->n_groups, sizeof *order, cmp_group_idx);
    pthread_mutex_unlock(&g_sort_mu);
    for (size_t i = 0; i < c->n_groups; i++) {
        c->groups[order[i]].rank = (uint32_t)i;
        by_rank[i] = &c->groups[order[i]];
    }
    size_t n = 0;
    for (size_t i = 0; i < c->accs.cap; i++)
        if (c->accs.slots[i].key) {
            acc *a = c->accs.slots[i].a;
            a->group = c->groups[a->group].rank;
            pts[n++] = a;
        }
    if (n)
        qsort(pts, n, sizeof *pts, cmp_acc);

    am_buf_puts(out, "{\"step\":");
    am__buf_double(out, q->step);
    am_buf_puts(out, ",\"groups\":[");
    for (size_t i = 0; i < n; i++) {
        const acc *a = pts[i];
        if (i == 0 || a->group != pts[i - 1]->group) {
            am_buf_puts(out, i ? "]},{\"group\":{" : "{\"group\":{");
            for (size_t k = 0; k < q->n_group_by; k++) {
                const char *gv = by_rank[a->group]->vals[k];
                am_value v = {.is_null = !gv, .v.s = gv};
                am_buf_printf(out, "%s\"%s\":", k ? "," : "", c->t->cols[q->group_by[k]].name);
                buf_value(out, AM_COL_TEXT, &v);
            }
            am_buf_puts(out, "},\"points\":[{\"t\":");
        } else {
            am_buf_puts(out, ",{\"t\":");
        }
        buf_rfc3339(out, (double)a->sbucket * q->step);
        am_buf_printf(out, ",\"count\":%llu,\"error_rate\":", (unsigned long long)a->n);
        if (c->t->error_col)
            am__buf_double(out, (double)a->errors / (double)a->n);
        else
            am_buf_puts(out, "null");
        buf_percentile(out, "p50", a, 0.50);
        buf_percentile(out, "p95", a, 0.95);
        buf_percentile(out, "p99", a, 0.99);
        am_buf_putc(out, '}');
    }
    am_buf_puts(out, n ? "]}]}" : "]}");
    am__free(order);
    am__free(pts);
    am__free(by_rank);
    return AM_OK;
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

am_err am_store_summarize(am_store *s, const am_store_summary *q, am_buf *out)
{
    const am_table *t;
    am_value fvals[AM_STORE_MAX_FILTERS];
    am_err rc = check_query(&q->q, &t, fvals);
    if (rc)
        return rc;
    if (!isfinite(q->q.start) || !isfinite(q->q.end))
        return am__err(AM_EINVAL, "a summary needs a finite start and end");
    if (!t->value_col)
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
        if (c < 0 || (size_t)c >= t->n_cols || !t->cols[c].group_by)
            return am__err(AM_EINVAL, "group_by: %s cannot be grouped by column %d%s%s",
                           t->api_name, c, c >= 0 && (size_t)c < t->n_cols ? " " : "",
                           c >= 0 && (size_t)c < t->n_cols ? t->cols[c].name : "");
        for (size_t k = 0; k < i; k++)
            if (q->group_by[k] == c)
                return am__err(AM_EINVAL, "group_by: %s named twice", t->cols[c].name);
        cols[nc++] = c;
    }
    cols[nc++] = am_table_col(t, t->value_col);
    summary_ctx c = {.t = t, .q = q, .err_col = -1};
    if (t->error_col) {
        int ec = am_table_col(t, t->error_col);
        c.err_col = (int)nc;
        c.err_type = t->cols[ec].type;
        cols[nc++] = ec;
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
    p.use_rollups = s->has_rollups && !s->is_rollup_read_off && q->n_group_by <= 1 &&
                    q->q.n_filters <= 1 && (!p.dim || am__store_is_dim(t, p.dim));
    if (p.use_rollups && q->q.n_filters == 1) {
        int fc = q->q.filters[0].col;
        if (!am__store_is_dim(t, fc) || (p.dim && fc != p.dim)) {
            p.use_rollups = false;
        } else {
            p.dim = fc;
            p.has_g = true;
            p.g = q->q.filters[0].value;
        }
    }
    rc = summary_range(s, &c, &p, q->q.start, q->q.end, 0);
    am__store_count_read(s, c.n_raw, c.n_rollup);
    size_t len0 = out->len;
    if (!rc)
        rc = render_summary(&c, out);
    if (!rc && am_buf_err(out))
        rc = am__err(am_buf_err(out), "the summary does not fit in the output buffer");
    if (rc && !am_buf_err(out)) {
        out->len = len0;
        out->p[len0] = '\0';
    }
    for (size_t g = 0; g < c.n_groups; g++) {
        for (size_t k = 0; k < q->n_group_by; k++)
            am__free(c.groups[g].vals[k]);
        am__free(c.groups[g].vals);
    }
    am__free(c.groups);
    am__free(c.slots);
    am__amap_free(&c.accs);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Series                                                              */
/* ------------------------------------------------------------------ */

typedef struct series_ctx {
    const am_store_series *q;
    am_buf *out;
    char *labels; /* of the series being written, owned */
    size_t n_series;
    int64_t step_i; /* the next step to fill (step > 0) */
    double prev_t, prev_v;
    bool has_prev, prev_null;
    size_t n_points;
    am_err err;
} series_ctx;

static void put_point(series_ctx *c, double t, double v, bool is_null)
{
    am_buf_puts(c->out, c->n_points++ ? ",[" : "[");
    am__buf_millis(c->out, t);
    am_buf_putc(c->out, ',');
    if (is_null || isnan(v))
        am_buf_puts(c->out, "\"NaN\"");
    else if (isinf(v))
        am_buf_puts(c->out, v > 0 ? "\"+Inf\"" : "\"-Inf\"");
    else
        am__buf_double(c->out, v);
    am_buf_putc(c->out, ']');
}

/* With a step: emit the steps up to (not including) the sample at t. */
static void fill_steps(series_ctx *c, double until)
{
    const am_store_series *q = c->q;
    for (;;) {
        double at = q->start + (double)c->step_i * q->step;
        if (at > q->end || at >= until)
            return;
        if (c->has_prev && c->prev_t > at - LOOKBACK_S)
            put_point(c, at, c->prev_v, c->prev_null);
        c->step_i++;
    }
}

static void end_series(series_ctx *c)
{
    if (!c->labels)
        return;
    if (c->q->step > 0)
        fill_steps(c, INFINITY);
    am_buf_puts(c->out, "]}");
    am__free(c->labels);
    c->labels = NULL;
}

/* Canonical label text {a="x",b="y"} as the JSON object {"a":"x","b":"y"}. */
static int labels_json(am_buf *out, const char *l)
{
    size_t len = strlen(l), n;
    char *scratch = am__malloc(len + 1);
    const char *names[AM_LABELS_MAX], *values[AM_LABELS_MAX];
    if (!scratch)
        return AM_ENOMEM;
    am_err rc = am__labels_split(l, scratch, len + 1, names, values, AM_LABELS_MAX, &n);
    if (!rc) {
        am_buf_putc(out, '{');
        for (size_t i = 0; i < n; i++) {
            if (i)
                am_buf_putc(out, ',');
            am__buf_json_string(out, names[i], strlen(names[i]));
            am_buf_putc(out, ':');
            am__buf_json_string(out, values[i], strlen(values[i]));
        }
        am_buf_putc(out, '}');
    }
    am__free(scratch);
    return rc ? AM_EPROTO : 0;
}

static int on_series_row(void *ud, const am_value *cols)
{
    series_ctx *c = ud;
    const char *labels = cols[0].is_null ? "" : cols[0].v.s;
    if (!c->labels || strcmp(c->labels, labels) != 0) {
        end_series(c);
        if (!(c->labels = am__strdup(labels)))
            return AM_ENOMEM;
        am_buf_puts(c->out, c->n_series++ ? ",{\"labels\":" : "{\"labels\":");
        int lrc = labels_json(c->out, labels);
        if (lrc)
            return lrc;
        am_buf_puts(c->out, ",\"points\":[");
        c->n_points = 0;
        c->step_i = 0;
        c->has_prev = false;
    }
    double t = cols[1].v.d;
    if (c->q->step > 0) {
        fill_steps(c, t);
        c->prev_t = t;
        c->prev_v = cols[2].v.d;
        c->prev_null = cols[2].is_null;
        c->has_prev = true;
    } else {
        put_point(c, t, cols[2].v.d, cols[2].is_null);
    }
    return 0;
}

am_err am_store_series_query(am_store *s, const am_store_series *q, am_buf *out)
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
    size_t len0 = out->len;
    series_ctx c = {.q = q, .out = out};
    if (rc) {
        rc = am__err(AM_ENOMEM, "out of memory building a query");
        am_buf_free(&sql);
    } else {
        static const am_col_type ct[3] = {AM_COL_TEXT, AM_COL_REAL, AM_COL_REAL};
        am_buf_puts(out, "{\"series\":[");
        rc = run_read(s, &sql,
                      (am_store_stmt){.params = params,
                                      .param_types = ptypes,
                                      .n_params = np,
                                      .col_types = ct,
                                      .n_cols = 3,
                                      .on_row = on_series_row,
                                      .ud = &c});
        end_series(&c);
        am_buf_puts(out, "]}");
        if (rc == AM_EPROTO)
            rc = am__err(AM_EIO, "series: a stored label set is not canonical text");
    }
    am__free(c.labels);
    am_buf_free(&pairs);
    if (!rc && am_buf_err(out))
        rc = am__err(am_buf_err(out), "the series do not fit in the output buffer");
    if (rc && !am_buf_err(out)) {
        out->len = len0;
        out->p[len0] = '\0';
    }
    return rc;
}
