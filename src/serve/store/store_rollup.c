/*
** store_rollup.c: the store's histograms (log buckets, < 1% relative
** error) and the per-minute and per-hour rollups the writer keeps in the
** transaction of the rows (see store.c's DESIGN).
*/
#include "store_internal.h"

/* ------------------------------------------------------------------ */
/* Histograms and rollups                                              */
/* ------------------------------------------------------------------ */

/*
** A value goes to the log bucket i = ceil(log_GAMMA |v|) and is read back
** as 2 GAMMA^i / (GAMMA + 1), at most (GAMMA - 1) / (GAMMA + 1) < 1% from
** any value of the bucket. Indexes keep the order of the values: -Inf <
** negatives < 0 < positives < +Inf.
*/

int32_t am__hist_index(double v)
{
    if (v == 0)
        return 0;
    if (isinf(v))
        return v > 0 ? H_INF : -H_INF;
    int32_t i = (int32_t)ceil(log(fabs(v)) / log(GAMMA));
    return v > 0 ? H_POS + i : -H_POS - i;
}

static double hist_value(int32_t idx)
{
    if (idx == 0)
        return 0;
    if (idx == H_INF || idx == -H_INF)
        return idx > 0 ? INFINITY : -INFINITY;
    int32_t i = idx > 0 ? idx - H_POS : -H_POS - idx;
    /* 2 GAMMA^i / (GAMMA + 1) in one exp, so the top bucket stays finite */
    double v = exp((double)i * log(GAMMA) + log(2 / (GAMMA + 1)));
    return idx > 0 ? v : -v;
}

bool am__hist_add(hist *h, int32_t idx, uint64_t n)
{
    /* counts come from the database too: one past the cap is refused */
    if (n > HIST_COUNT_MAX)
        return false;
    size_t lo = 0, hi = h->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (h->b[mid].idx < idx)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < h->n && h->b[lo].idx == idx) {
        if (h->b[lo].n > HIST_COUNT_MAX - n)
            return false;
        h->b[lo].n += n;
        return true;
    }
    hbin *b = am__grow(h->b, &h->cap, h->n + 1, sizeof *b, 8);
    if (!b)
        return false;
    h->b = b;
    memmove(h->b + lo + 1, h->b + lo, (h->n - lo) * sizeof *h->b);
    h->b[lo] = (hbin){idx, n};
    h->n++;
    return true;
}

/* One pass over both (they are sorted), merged in place from the back,
   rather than a search per bin. */
bool am__hist_merge(hist *into, const hist *from)
{
    size_t fresh = 0, i = 0;
    for (size_t k = 0; k < from->n; k++) {
        while (i < into->n && into->b[i].idx < from->b[k].idx)
            i++;
        if (i < into->n && into->b[i].idx == from->b[k].idx) {
            if (into->b[i].n > HIST_COUNT_MAX - from->b[k].n)
                return false;
        } else {
            fresh++;
        }
    }
    if (fresh) {
        hbin *b = am__grow(into->b, &into->cap, into->n + fresh, sizeof *b, 8);
        if (!b)
            return false;
        into->b = b;
    }
    size_t w = into->n + fresh, a = into->n, k = from->n;
    while (k > 0) {
        const hbin *f = &from->b[k - 1];
        if (a > 0 && into->b[a - 1].idx > f->idx) {
            into->b[--w] = into->b[--a];
        } else if (a > 0 && into->b[a - 1].idx == f->idx) {
            into->b[--w] = (hbin){f->idx, into->b[--a].n + f->n};
            k--;
        } else {
            into->b[--w] = *f;
            k--;
        }
    }
    into->n += fresh;
    return true;
}

/* As stored: "idx:n,idx:n" in index order. The writer renders every
   histogram it changed at each commit, so straight into room reserved
   once: an index and a count take at most 11 + 20 bytes, and the ':' ','. */
void am__hist_text(am_buf *b, const hist *h)
{
    char *w = h->n ? am_buf_reserve(b, h->n * 33) : NULL;
    if (!w)
        return; /* nothing to write, or the buffer's sticky error */
    char *p = w;
    for (size_t i = 0; i < h->n; i++) {
        if (i)
            *p++ = ',';
        p += am__fmt_int(p, h->b[i].idx);
        *p++ = ':';
        p += am__fmt_int(p, (int64_t)h->b[i].n); /* <= HIST_COUNT_MAX */
    }
    b->len += (size_t)(p - w);
    b->p[b->len] = '\0';
}

/* Digits only (no sign, spaces or '+', which strtoull would take) up to
   max_digits; *p moves past them. */
static bool digits(const char **p, unsigned max_digits, uint64_t *out)
{
    uint64_t v = 0;
    unsigned k = 0;
    for (; **p >= '0' && **p <= '9'; (*p)++, k++) {
        if (k == max_digits)
            return false;
        v = v * 10 + (uint64_t)(**p - '0');
    }
    *out = v;
    return k > 0;
}

bool am__hist_merge_text(hist *h, const char *s)
{
    while (*s) {
        bool neg = *s == '-';
        uint64_t idx, n;
        s += neg;
        if (!digits(&s, 8, &idx) || idx > H_INF || *s++ != ':' || !digits(&s, 19, &n) ||
            (*s && *s != ',') || (*s == ',' && !s[1]))
            return false;
        if (!am__hist_add(h, neg ? -(int32_t)idx : (int32_t)idx, n))
            return false;
        s += *s == ',';
    }
    return true;
}

/* The value at nearest rank ceil(q * total). */
double am__hist_quantile(const hist *h, uint64_t total, double q)
{
    uint64_t rank = (uint64_t)ceil(q * (double)total - 1e-9), cum = 0;
    if (rank < 1)
        rank = 1;
    for (size_t i = 0; i < h->n; i++) {
        cum += h->b[i].n;
        if (cum >= rank)
            return hist_value(h->b[i].idx);
    }
    return h->n ? hist_value(h->b[h->n - 1].idx) : NAN;
}

acc *am__amap_get(amap *m, const void *key, size_t klen, bool *is_new)
{
    uint64_t h = am__fnv1a64(AM_FNV1A64_INIT, key, klen);
    /* room first, found or not: the table grows on the call it always
       did, so its walk (the rollups' statement order) stays as it was */
    if (!m->cap)
        m->first_cap = 256;
    if ((m->n + 1) * 2 > m->cap && am__map_reserve(m, m->n + 1))
        return NULL;
    acc *a = am__map_find(m, h, key, klen);
    if (a) {
        *is_new = false;
        return a;
    }
    if (!(a = am__calloc(1, sizeof *a)) || am__map_put(m, h, key, klen, a)) {
        am__free(a);
        return NULL;
    }
    *is_new = true;
    return a;
}

void am__amap_free(amap *m)
{
    size_t it = 0;
    for (am__map_slot *sl; (sl = am__map_next(m, &it));) {
        acc *a = sl->val;
        am__free(a->h.b);
        am__free(a->g);
        am__free(a);
    }
    am__map_free(m);
}

/* ------------------------------------------------------------------ */
/* Rows: errors and dimensions                                         */
/* ------------------------------------------------------------------ */

/* Whether a row is an error, from the table's error column value. */
bool am__store_is_error(const am_table *t, am_col_type type, const am_value *e)
{
    if (t->error_col < 0 || e->is_null)
        return false;
    if (type == AM_COL_TEXT)
        return strcmp(e->v.s, t->error_text) == 0;
    if (type == AM_COL_INT)
        return e->v.i > 0;
    return e->v.d > 0;
}

int am__store_dim_since(const am_table *t, int col)
{
    if (!t->rollup_since)
        return 0;
    if (col == 0)
        return t->rollup_since;
    if (col < 2 || (size_t)col >= t->n_cols)
        return 0;
    const am_column *c = &t->cols[col];
    if (!c->group_by || c->is_high_cardinality || c->type != AM_COL_TEXT)
        return 0;
    return c->since > t->rollup_since ? c->since : t->rollup_since;
}

bool am__store_is_dim(const am_table *t, int col, int v)
{
    int since = col >= 2 ? am__store_dim_since(t, col) : 0;
    return since && since <= v;
}

bool am__store_has_rollups(const am_store *s, const am_table *t)
{
    return t->rollup_since && t->rollup_since <= s->version;
}

/* The key of (table, level li, dim, bucket, group g) in the maps: its
   length. key has room for AM_STORE_MAX_TEXT + 64 bytes. */
static size_t rollup_key(char *key, am_table_id table, int li, int dim, double bucket,
                         const char *g)
{
    size_t k = 0;
    key[k++] = (char)table;
    key[k++] = (char)li;
    key[k++] = (char)dim;
    memcpy(key + k, &bucket, sizeof bucket);
    k += sizeof bucket;
    key[k++] = g ? '=' : '-';
    if (g) {
        size_t gl = strlen(g);
        memcpy(key + k, g, gl);
        k += gl;
    }
    return k;
}

/* The accumulator of a key in m, its key parts set when new; NULL: ENOMEM. */
static acc *rollup_acc(amap *m, am_table_id table, int li, int dim, double bucket, const char *g)
{
    char key[AM_STORE_MAX_TEXT + 64];
    size_t k = rollup_key(key, table, li, dim, bucket, g);
    bool is_new;
    acc *a = am__amap_get(m, key, k, &is_new);
    if (a && is_new) {
        a->table = table;
        a->level = (int)LEVELS[li];
        a->dim = dim;
        a->bucket = bucket;
        if (g && !(a->g = am__strdup(g)))
            return NULL; /* a stays in m, with g NULL: freed with it */
    }
    return a;
}

/*
** Add one stored record to the rollups being built in m: to its minute
** keys only. An hour holds whole minutes, so am__rollup_flush makes the
** hour keys from the minute keys of m -- a few dozen merges a batch
** instead of a map lookup and histogram insert per record and dimension
** (measured: half of the rollups' instructions per record).
*/
bool am__rollup_add(amap *m, const am_record *r, int v, int only)
{
    const am_table *t = am_table_get(r->table);
    int ds0 = am__store_dim_since(t, 0);
    if (!ds0 || ds0 > v)
        return true; /* no rollups (yet) */
    /* what does not depend on the level, once per record: the dimensions
       of version v, the value's bucket (a log()) */
    int dims[AM_TABLE_MAX_COLS];
    size_t n_dims = 0;
    for (int dim = 0; dim < (int)t->n_cols; dim = dim ? dim + 1 : 2) {
        int ds = am__store_dim_since(t, dim);
        if (ds && ds <= v && (!only || ds == only))
            dims[n_dims++] = dim;
    }
    const am_value *val = &r->vals[t->value_col];
    int32_t hidx = val->is_null ? 0 : am__hist_index(val->v.d);
    bool err = t->error_col >= 0 &&
               am__store_is_error(t, t->cols[t->error_col].type, &r->vals[t->error_col]);
    double ts = r->vals[AM_C_TIMESTAMP].v.d;
    double bucket = floor(ts / LEVELS[MINUTES]) * LEVELS[MINUTES];
    for (size_t di = 0; di < n_dims; di++) {
        int dim = dims[di];
        const char *g = dim ? r->vals[dim].is_null ? NULL : r->vals[dim].v.s : NULL;
        acc *a = rollup_acc(m, r->table, MINUTES, dim, bucket, g);
        if (!a)
            return false;
        a->n++;
        a->errors += err;
        if (!val->is_null) {
            a->n_vals++;
            if (!am__hist_add(&a->h, hidx, 1))
                return false;
        }
    }
    return true;
}

/* The hour keys of the minute keys of m, into hours; false: ENOMEM. */
static bool roll_hours(const amap *m, amap *hours)
{
    size_t it = 0;
    for (am__map_slot *sl; (sl = am__map_next(m, &it));) {
        const acc *a = sl->val;
        if (a->level != (int)LEVELS[MINUTES])
            continue;
        double bucket = floor(a->bucket / LEVELS[HOURS]) * LEVELS[HOURS];
        acc *h = rollup_acc(hours, a->table, HOURS, a->dim, bucket, a->g);
        if (!h || !am__hist_merge(&h->h, &a->h))
            return false;
        h->n += a->n;
        h->errors += a->errors;
        h->n_vals += a->n_vals;
    }
    return true;
}

typedef struct old_rollup {
    uint64_t n, errors, n_vals;
    hist *h;
    bool is_bad;
} old_rollup;

static int on_old_rollup(void *ud, const am_value *cols)
{
    old_rollup *o = ud;
    o->n = (uint64_t)cols[0].v.i;
    o->errors = (uint64_t)cols[1].v.i;
    o->n_vals = (uint64_t)cols[2].v.i;
    if (!cols[3].is_null && !am__hist_merge_text(o->h, cols[3].v.s))
        o->is_bad = true;
    return 0;
}

/* The stored totals of a's key, merged into c (a fresh acc). */
static am_err rollup_load(am_store *s, const acc *a, const char *key, acc *c)
{
    am_value p[5] = {{.v.i = a->level},
                     {.v.i = a->dim},
                     {.v.d = a->bucket},
                     {.v.s = key},
                     {.v.s = s->writer_id}};
    static const am_col_type pt[5] = {AM_COL_INT, AM_COL_INT, AM_COL_REAL, AM_COL_TEXT,
                                      AM_COL_TEXT};
    static const am_col_type ct[4] = {AM_COL_INT, AM_COL_INT, AM_COL_INT, AM_COL_TEXT};
    old_rollup o = {.h = &c->h};
    am_store_stmt get = {.sql = s->rollup_get_sql[a->table][s->rollup_has_writer],
                         .params = p,
                         .param_types = pt,
                         .n_params = 4 + s->rollup_has_writer,
                         .col_types = ct,
                         .n_cols = 4,
                         .on_row = on_old_rollup,
                         .ud = &o,
                         .is_cached = true};
    am_err rc = s->ops->run(s->be, true, &get, NULL);
    if (!rc && o.is_bad)
        rc = am__err(AM_EIO, "a stored rollup histogram of %s is not readable",
                     am_table_get(a->table)->sql_name);
    c->n += o.n;
    c->errors += o.errors;
    c->n_vals += o.n_vals;
    return rc;
}

#define ROLLUP_CACHE_MAX 8192 /* keys; the cache starts over beyond */

/*
** Merge the rollups of m into their tables, in the writer's transaction.
** The writer keeps the totals of the keys it wrote last (s->rcache: it is
** the only writer of its rows -- its own writer column on a shared
** database -- so they are what is stored) and reads a key back only
** the first time; the upserts then go to the backend as one run_many
** whose results it does not ask for (on PostgreSQL they go in one
** pipeline with the COMMIT that follows: no round trip of their own). If
** the transaction fails, the caller drops the cache.
*/
am_err am__rollup_flush(am_store *s, amap *m)
{
    if (!m->n)
        return AM_OK;
    amap hours = {0};
    am_err rc = roll_hours(m, &hours) ? AM_OK : AM_ENOMEM;
    size_t total = m->n + hours.n;
    if (s->rcache.n + total > ROLLUP_CACHE_MAX)
        am__amap_free(&s->rcache);
    size_t n = 0;
    am_value(*pv)[10] = am__malloc(total * sizeof *pv);
    size_t *hoff = am__malloc(total * sizeof *hoff);
    am_store_stmt *st = am__malloc(total * sizeof *st);
    am_buf hb;
    am_buf_init(&hb, 0);
    if (!pv || !hoff || !st)
        rc = AM_ENOMEM;
    static const am_col_type pt[10] = {AM_COL_INT,  AM_COL_INT, AM_COL_REAL, AM_COL_TEXT,
                                       AM_COL_TEXT, AM_COL_INT, AM_COL_INT,  AM_COL_INT,
                                       AM_COL_TEXT, AM_COL_TEXT};
    am_buf kb;
    am_buf_init(&kb, 0);
    size_t *koff = am__malloc(total * sizeof *koff);
    if (!koff)
        rc = AM_ENOMEM;
    /* the minute keys, then the hour keys */
    amap *mm = m;
    size_t it = 0;
    for (am__map_slot *sl; !rc && ((sl = am__map_next(mm, &it)) || mm == m);) {
        if (!sl) {
            mm = &hours;
            it = 0;
            continue;
        }
        acc *a = sl->val;
        koff[n] = kb.len;
        if (a->dim && a->g)
            am_buf_putc(&kb, '=');
        am_buf_puts(&kb, a->g ? a->g : "");
        am_buf_putc(&kb, '\0');
        if (am_buf_err(&kb)) {
            rc = AM_ENOMEM;
            break;
        }
        bool is_new;
        acc *c = am__amap_get(&s->rcache, sl->key, sl->klen, &is_new);
        if (!c) {
            rc = AM_ENOMEM;
            break;
        }
        if (is_new) {
            c->table = a->table;
            c->level = a->level;
            c->dim = a->dim;
            c->bucket = a->bucket;
            if (a->g && !(c->g = am__strdup(a->g))) {
                rc = AM_ENOMEM;
                break;
            }
            if ((rc = rollup_load(s, a, kb.p + koff[n], c)))
                break;
        }
        c->n += a->n;
        c->errors += a->errors;
        c->n_vals += a->n_vals;
        if (!am__hist_merge(&c->h, &a->h))
            rc = AM_ENOMEM;
        hoff[n] = hb.len;
        am__hist_text(&hb, &c->h);
        am_buf_putc(&hb, '\0');
        if (am_buf_err(&hb))
            rc = AM_ENOMEM;
        pv[n][0] = (am_value){.v.i = c->level};
        pv[n][1] = (am_value){.v.i = c->dim};
        pv[n][2] = (am_value){.v.d = c->bucket};
        pv[n][4] = (am_value){.is_null = !c->g, .v.s = c->g};
        pv[n][5] = (am_value){.v.i = (int64_t)c->n};
        pv[n][6] = (am_value){.v.i = (int64_t)c->errors};
        pv[n][7] = (am_value){.v.i = (int64_t)c->n_vals};
        pv[n][9] = (am_value){.v.s = s->writer_id};
        st[n] = (am_store_stmt){.sql = s->rollup_put_sql[c->table][s->rollup_has_writer],
                                .params = pv[n],
                                .param_types = pt,
                                .n_params = 9 + s->rollup_has_writer,
                                .is_cached = true};
        n++;
    }
    /* the texts are complete: point at them (the buffers may have moved) */
    for (size_t i = 0; i < n && !rc; i++) {
        pv[i][3] = (am_value){.v.s = kb.p + koff[i]};
        pv[i][8] = (am_value){.v.s = hb.p + hoff[i]};
    }
    for (size_t i = 0; i < n && !rc; i += 256)
        rc = s->ops->run_many(s->be, st + i, n - i < 256 ? n - i : 256, NULL);
    if (rc == AM_ENOMEM)
        rc = am__err(AM_ENOMEM, "out of memory writing rollups");
    am__amap_free(&hours);
    am_buf_free(&hb);
    am_buf_free(&kb);
    am__free(pv);
    am__free(hoff);
    am__free(koff);
    am__free(st);
    return rc;
}