/*
** tsdb.c: the in-memory window (alert.h, tsdb.h).
**
** DESIGN
** Series live in an id-indexed array (ids are reused after a series is
** dropped) and an open-addressing hash table keyed by the hash of their
** sorted label pairs. The inverted index maps each label name to its
** values, and each value to a sorted array of series ids (postings); names
** and values are kept sorted, so /api/v1/labels is a walk and a selector
** is an intersection of postings (equality and regex matchers that do not
** match "") filtered by the matchers that do match "" (!=, !~, and
** regexes such as "a|"), as Prometheus' querier does.
**
** Samples go into Gorilla chunks of 120 (chunk.c); a series also keeps
** its last sample, so an instant selector at the newest time reads no
** chunk. Retention: when the newest timestamp has moved on by a tenth of
** the retention since the last pass, whole chunks older than newest -
** retention are freed, and a series with no chunk left and no live source
** is dropped from the index.
**
** Staleness: a source with has_staleness keeps the list of series it
** appended in its last batch. At commit, those it did not append this
** time get a staleness marker (Prometheus' special NaN) at the commit
** time, unless another source took them over. The marker is a sample like
** any other; readers skip it and an instant selector whose latest sample
** is a marker sees nothing, so a vanished series disappears at once.
**
** WHY NOT am__map for the series table. The window's one long-lived
** table of every series it holds is counted in its memory
** (index_bytes, alert_memory_bytes_per_sample, the
** agentmon_alert_window_bytes gauge): a slot here is one pointer (the
** hash is read from the series' label set) and the table fills to 3/4,
** where am__map spends 32 bytes a slot at most half full -- eight times
** the index for the same series, for nothing the window needs (it never
** walks the table; ids give the order). Same probing and backward-shift
** removal as am__map; the hash is labels.c's am__labels_hash_pairs.
**
** THREADING
** One rwlock: appends (begin..commit, one writer) hold it exclusively;
** queries hold it shared while they read series and chunks. Statistics
** and the retention are read and written under it.
*/
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../util/alloc.h"
#include "../util/error.h"
#include "tsdb.h"

typedef struct lval {
    char *value;
    uint32_t *ids;
    uint32_t n;
    uint32_t cap;
} lval;

typedef struct lname {
    char *name;
    lval *vals;
    uint32_t n;
    uint32_t cap;
} lname;

struct am_tsdb_src {
    uint32_t id;
    uint32_t round;
    bool has_staleness;
    am_tseries **live; /* appended in the previous batch */
    size_t n_live, cap_live;
    am_tseries **cur; /* appended in this batch */
    size_t n_cur, cap_cur;
};

#define N_CURSOR_LOCKS 64

struct am_tsdb {
    pthread_rwlock_t lock;
    pthread_mutex_t cursor_locks[N_CURSOR_LOCKS];
    int64_t retention_ms;
    size_t max_series;

    am_tseries **by_id;
    uint32_t n_ids, cap_ids;
    uint32_t *free_ids;
    size_t n_free, cap_free;

    am_tseries **tab; /* open addressing, linear probing */
    size_t tab_cap;
    size_t n_series;

    lname *names;
    size_t n_names, cap_names;

    uint32_t next_src;
    int64_t max_t;
    int64_t truncated_at;

    size_t n_samples, data_bytes, chunk_bytes, series_bytes;
    uint64_t n_rejected;
};

double am__stale_nan(void)
{
    uint64_t b = AM_STALE_NAN_BITS;
    double v;
    memcpy(&v, &b, sizeof v);
    return v;
}

/* ------------------------------------------------------------ lifecycle */

am_err am_tsdb_new(const am_tsdb_opts *o, am_tsdb **out)
{
    am_tsdb_opts def = AM_TSDB_OPTS_INIT;
    if (!o)
        o = &def;
    am_tsdb *db = am__calloc(1, sizeof *db);
    if (!db)
        return am__err(AM_ENOMEM, "out of memory");
    db->tab_cap = 1024;
    db->tab = am__calloc(db->tab_cap, sizeof *db->tab);
    if (!db->tab) {
        am__free(db);
        return am__err(AM_ENOMEM, "out of memory");
    }
    pthread_rwlock_init(&db->lock, NULL);
    for (int i = 0; i < N_CURSOR_LOCKS; i++)
        pthread_mutex_init(&db->cursor_locks[i], NULL);
    db->retention_ms = o->retention_ms > 0 ? o->retention_ms : def.retention_ms;
    db->max_series = o->max_series;
    db->max_t = INT64_MIN;
    db->truncated_at = INT64_MIN;
    db->next_src = 1;
    *out = db;
    return AM_OK;
}

static void series_free(am_tseries *s)
{
    for (uint32_t i = 0; i < s->n_chunks; i++)
        am__chunk_free(s->chunks[i]);
    am__free(s->chunks);
    am__labels_free(s->labels);
    am__free(s);
}

void am_tsdb_free(am_tsdb *db)
{
    if (!db)
        return;
    for (uint32_t i = 0; i < db->n_ids; i++)
        if (db->by_id[i])
            series_free(db->by_id[i]);
    for (size_t i = 0; i < db->n_names; i++) {
        for (uint32_t k = 0; k < db->names[i].n; k++) {
            am__free(db->names[i].vals[k].value);
            am__free(db->names[i].vals[k].ids);
        }
        am__free(db->names[i].vals);
        am__free(db->names[i].name);
    }
    am__free(db->names);
    am__free(db->by_id);
    am__free(db->free_ids);
    am__free(db->tab);
    pthread_rwlock_destroy(&db->lock);
    for (int i = 0; i < N_CURSOR_LOCKS; i++)
        pthread_mutex_destroy(&db->cursor_locks[i]);
    am__free(db);
}

void am_tsdb_set_retention(am_tsdb *db, int64_t retention_ms)
{
    pthread_rwlock_wrlock(&db->lock);
    if (retention_ms > 0)
        db->retention_ms = retention_ms;
    pthread_rwlock_unlock(&db->lock);
}

int64_t am_tsdb_retention(am_tsdb *db)
{
    pthread_rwlock_rdlock(&db->lock);
    int64_t r = db->retention_ms;
    pthread_rwlock_unlock(&db->lock);
    return r;
}

void am__tsdb_rdlock(am_tsdb *db)
{
    pthread_rwlock_rdlock(&db->lock);
}

void am__tsdb_unlock(am_tsdb *db)
{
    pthread_rwlock_unlock(&db->lock);
}

/* ------------------------------------------------------------ index */

static lname *name_find(am_tsdb *db, const char *name, size_t *at)
{
    size_t lo = 0, hi = db->n_names;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(db->names[mid].name, name);
        if (c == 0) {
            *at = mid;
            return &db->names[mid];
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *at = lo;
    return NULL;
}

static lval *val_find(lname *ln, const char *value, size_t *at)
{
    size_t lo = 0, hi = ln->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(ln->vals[mid].value, value);
        if (c == 0) {
            *at = mid;
            return &ln->vals[mid];
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *at = lo;
    return NULL;
}

static bool postings_add(am_tsdb *db, const char *name, const char *value, uint32_t id)
{
    size_t at;
    lname *ln = name_find(db, name, &at);
    if (!ln) {
        size_t cap = db->cap_names;
        lname *v = am__grow(db->names, &cap, db->n_names + 1, sizeof *v, 16);
        char *nm = am__strdup(name);
        if (!v || !nm) {
            if (v) {
                db->names = v;
                db->cap_names = cap;
            }
            am__free(nm);
            return false;
        }
        db->names = v;
        db->cap_names = cap;
        memmove(v + at + 1, v + at, (db->n_names - at) * sizeof *v);
        memset(&v[at], 0, sizeof v[at]);
        v[at].name = nm;
        db->n_names++;
        ln = &v[at];
    }
    size_t vat;
    lval *lv = val_find(ln, value, &vat);
    if (!lv) {
        size_t cap = ln->cap;
        lval *v = am__grow(ln->vals, &cap, ln->n + 1, sizeof *v, 4);
        char *val = am__strdup(value);
        if (!v || !val) {
            if (v) {
                ln->vals = v;
                ln->cap = (uint32_t)cap;
            }
            am__free(val);
            return false;
        }
        ln->vals = v;
        ln->cap = (uint32_t)cap;
        memmove(v + vat + 1, v + vat, (ln->n - vat) * sizeof *v);
        memset(&v[vat], 0, sizeof v[vat]);
        v[vat].value = val;
        ln->n++;
        lv = &v[vat];
    }
    size_t cap = lv->cap;
    uint32_t *ids = am__grow(lv->ids, &cap, lv->n + 1, sizeof *ids, 4);
    if (!ids)
        return false;
    lv->ids = ids;
    lv->cap = (uint32_t)cap;
    /* ids are mostly new and largest: search from the end */
    uint32_t i = lv->n;
    while (i > 0 && ids[i - 1] > id)
        i--;
    memmove(ids + i + 1, ids + i, (lv->n - i) * sizeof *ids);
    ids[i] = id;
    lv->n++;
    return true;
}

static void postings_del(am_tsdb *db, const char *name, const char *value, uint32_t id)
{
    size_t at, vat;
    lname *ln = name_find(db, name, &at);
    if (!ln)
        return;
    lval *lv = val_find(ln, value, &vat);
    if (!lv)
        return;
    for (uint32_t i = 0; i < lv->n; i++) {
        if (lv->ids[i] == id) {
            memmove(lv->ids + i, lv->ids + i + 1, (lv->n - i - 1) * sizeof *lv->ids);
            lv->n--;
            break;
        }
    }
    if (lv->n)
        return;
    am__free(lv->value);
    am__free(lv->ids);
    memmove(ln->vals + vat, ln->vals + vat + 1, (ln->n - vat - 1) * sizeof *ln->vals);
    ln->n--;
    if (ln->n)
        return;
    am__free(ln->vals);
    am__free(ln->name);
    memmove(db->names + at, db->names + at + 1, (db->n_names - at - 1) * sizeof *db->names);
    db->n_names--;
}

/* ------------------------------------------------------------ series table */

static bool pairs_equal(const am_lset *l, const am_label *p, size_t n)
{
    if (l->n != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(l->l[i].name, p[i].name) || strcmp(l->l[i].value, p[i].value))
            return false;
    return true;
}

static am_tseries *tab_find(am_tsdb *db, uint32_t h, const am_label *p, size_t n)
{
    size_t mask = db->tab_cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        am_tseries *s = db->tab[i];
        if (!s)
            return NULL;
        if (s->labels->hash == h && pairs_equal(s->labels, p, n))
            return s;
    }
}

static void tab_put(am_tseries **tab, size_t cap, am_tseries *s)
{
    size_t mask = cap - 1;
    size_t i = s->labels->hash & mask;
    while (tab[i])
        i = (i + 1) & mask;
    tab[i] = s;
}

static bool tab_grow(am_tsdb *db)
{
    size_t cap = db->tab_cap * 2;
    am_tseries **tab = am__calloc(cap, sizeof *tab);
    if (!tab)
        return false;
    for (size_t i = 0; i < db->tab_cap; i++)
        if (db->tab[i])
            tab_put(tab, cap, db->tab[i]);
    am__free(db->tab);
    db->tab = tab;
    db->tab_cap = cap;
    return true;
}

/* Backward-shift deletion keeps probe chains intact without tombstones. */
static void tab_del(am_tsdb *db, am_tseries *s)
{
    size_t mask = db->tab_cap - 1;
    size_t i = s->labels->hash & mask;
    while (db->tab[i] != s)
        i = (i + 1) & mask;
    db->tab[i] = NULL;
    for (size_t j = (i + 1) & mask; db->tab[j]; j = (j + 1) & mask) {
        size_t home = db->tab[j]->labels->hash & mask;
        /* move j into the hole i if its home is not in (i, j] */
        bool in_range = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!in_range) {
            db->tab[i] = db->tab[j];
            db->tab[j] = NULL;
            i = j;
        }
    }
}

static am_err series_create(am_tsdb *db, am_label *p, size_t n, am_tseries **out)
{
    if (db->max_series && db->n_series >= db->max_series)
        return am__err(AM_ELIMIT, "the window holds its maximum of %zu series", db->max_series);
    if ((db->n_series + 1) * 4 > db->tab_cap * 3 && !tab_grow(db))
        goto oom;
    am_tseries *s = am__calloc(1, sizeof *s);
    if (!s)
        goto oom;
    s->labels = am__labels_new(NULL, p, n);
    if (!s->labels) {
        am__free(s);
        goto oom;
    }
    s->last_t = INT64_MIN;
    s->cur_chunk = UINT32_MAX;
    uint32_t id;
    /* ids are reused only when many are free: selections come out in id
       order, which is then creation order, as Prometheus' (ties in topk,
       sort, ... fall the same way) */
    if (db->n_free && db->n_free * 2 > db->n_ids) {
        id = db->free_ids[--db->n_free];
    } else {
        size_t cap = db->cap_ids;
        am_tseries **v = am__grow(db->by_id, &cap, (size_t)db->n_ids + 1, sizeof *v, 256);
        if (!v) {
            series_free(s);
            goto oom;
        }
        db->by_id = v;
        db->cap_ids = (uint32_t)cap;
        id = db->n_ids++;
    }
    s->id = id;
    for (uint32_t i = 0; i < s->labels->n; i++) {
        if (!postings_add(db, s->labels->l[i].name, s->labels->l[i].value, id)) {
            for (uint32_t k = 0; k < i; k++)
                postings_del(db, s->labels->l[k].name, s->labels->l[k].value, id);
            if (db->n_free < db->cap_free || id + 1 != db->n_ids) {
                size_t cap = db->cap_free;
                uint32_t *f = am__grow(db->free_ids, &cap, db->n_free + 1, sizeof *f, 64);
                if (f) {
                    db->free_ids = f;
                    db->cap_free = cap;
                    f[db->n_free++] = id;
                }
            } else {
                db->n_ids--;
            }
            series_free(s);
            goto oom;
        }
    }
    db->by_id[id] = s;
    tab_put(db->tab, db->tab_cap, s);
    db->n_series++;
    db->series_bytes += sizeof *s + am__labels_size(s->labels);
    *out = s;
    return AM_OK;
oom:
    return am__err(AM_ENOMEM, "out of memory adding a series to the window");
}

static void series_drop(am_tsdb *db, am_tseries *s)
{
    for (uint32_t i = 0; i < s->labels->n; i++)
        postings_del(db, s->labels->l[i].name, s->labels->l[i].value, s->id);
    tab_del(db, s);
    db->by_id[s->id] = NULL;
    size_t cap = db->cap_free;
    uint32_t *f = am__grow(db->free_ids, &cap, db->n_free + 1, sizeof *f, 64);
    if (f) {
        db->free_ids = f;
        db->cap_free = cap;
        f[db->n_free++] = s->id;
    } /* else the id is simply not reused */
    for (uint32_t i = 0; i < s->n_chunks; i++) {
        db->n_samples -= s->chunks[i]->n;
        db->data_bytes -= (s->chunks[i]->nbits + 7) / 8;
        db->chunk_bytes -= am__chunk_mem(s->chunks[i]);
    }
    db->series_bytes -= sizeof *s + am__labels_size(s->labels);
    db->n_series--;
    series_free(s);
}

/* ------------------------------------------------------------ sources */

am_err am_tsdb_src_new(am_tsdb *db, bool has_staleness, am_tsdb_src **out)
{
    am_tsdb_src *src = am__calloc(1, sizeof *src);
    if (!src)
        return am__err(AM_ENOMEM, "out of memory");
    pthread_rwlock_wrlock(&db->lock);
    src->id = db->next_src++;
    pthread_rwlock_unlock(&db->lock);
    src->round = 1;
    src->has_staleness = has_staleness;
    *out = src;
    return AM_OK;
}

void am_tsdb_src_free(am_tsdb *db, am_tsdb_src *src)
{
    if (!src)
        return;
    pthread_rwlock_wrlock(&db->lock);
    for (size_t i = 0; i < src->n_live; i++)
        if (src->live[i]->src == src->id)
            src->live[i]->src = 0;
    for (size_t i = 0; i < src->n_cur; i++)
        if (src->cur[i]->src == src->id)
            src->cur[i]->src = 0;
    pthread_rwlock_unlock(&db->lock);
    am__free(src->live);
    am__free(src->cur);
    am__free(src);
}

/* ------------------------------------------------------------ appending */

void am_tsdb_begin(am_tsdb *db, am_tsdb_src *src)
{
    (void)src;
    pthread_rwlock_wrlock(&db->lock);
}

static am_err append_sample(am_tsdb *db, am_tseries *s, int64_t t, double v)
{
    if (t < s->last_t) {
        db->n_rejected++;
        return am__err(AM_EINVAL, "out of order sample");
    }
    if (t == s->last_t) {
        if (memcmp(&v, &s->last_v, sizeof v) == 0)
            return AM_OK;
        db->n_rejected++;
        return am__err(AM_EINVAL, "duplicate sample for timestamp");
    }
    am_chunk *head = s->n_chunks ? s->chunks[s->n_chunks - 1] : NULL;
    if (!head || head->n >= AM_CHUNK_SAMPLES) {
        size_t cap = s->cap_chunks;
        am_chunk **v2 = am__grow(s->chunks, &cap, (size_t)s->n_chunks + 1, sizeof *v2, 2);
        if (!v2)
            return am__err(AM_ENOMEM, "out of memory");
        s->chunks = v2;
        s->cap_chunks = (uint32_t)cap;
        am_chunk *c = am__chunk_new();
        if (!c)
            return am__err(AM_ENOMEM, "out of memory");
        if (head) {
            db->chunk_bytes -= am__chunk_mem(head);
            am__chunk_shrink(&s->chunks[s->n_chunks - 1]);
            db->chunk_bytes += am__chunk_mem(s->chunks[s->n_chunks - 1]);
        }
        s->chunks[s->n_chunks++] = c;
        db->chunk_bytes += am__chunk_mem(c);
        head = c;
    }
    size_t mem = am__chunk_mem(head), bytes = (head->nbits + 7) / 8;
    if (!am__chunk_append(&s->chunks[s->n_chunks - 1], &s->app, t, v))
        return am__err(AM_ENOMEM, "out of memory");
    head = s->chunks[s->n_chunks - 1];
    db->chunk_bytes += am__chunk_mem(head) - mem;
    db->data_bytes += (head->nbits + 7) / 8 - bytes;
    db->n_samples++;
    s->last_t = t;
    s->last_v = v;
    if (t > db->max_t)
        db->max_t = t;
    return AM_OK;
}

static bool list_push(am_tseries ***v, size_t *n, size_t *cap, am_tseries *s)
{
    am_tseries **nv = am__grow(*v, cap, *n + 1, sizeof *nv, 64);
    if (!nv)
        return false;
    *v = nv;
    nv[(*n)++] = s;
    return true;
}

am_err am_tsdb_append(am_tsdb *db, am_tsdb_src *src, am_label *pairs, size_t n, int64_t t, double v)
{
    /* drop empty values, then sort: the series key */
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (pairs[i].value && pairs[i].value[0])
            pairs[k++] = pairs[i];
    const char *dup = am__labels_dup(pairs, k);
    if (dup) {
        db->n_rejected++;
        return am__err(AM_EINVAL, "label name \"%s\" given twice", dup);
    }
    uint32_t h = am__labels_hash_pairs(pairs, k);
    am_tseries *s = tab_find(db, h, pairs, k);
    if (!s) {
        am_err rc = series_create(db, pairs, k, &s);
        if (rc) {
            db->n_rejected++;
            return rc;
        }
    }
    am_err rc = append_sample(db, s, t, v);
    if (rc)
        return rc;
    if (src && (s->src != src->id || s->seen != src->round)) {
        s->src = src->id;
        s->seen = src->round;
        if (src->has_staleness && !list_push(&src->cur, &src->n_cur, &src->cap_cur, s))
            return am__err(AM_ENOMEM, "out of memory");
    }
    return AM_OK;
}

/* Free whole chunks past the retention; drop series left with nothing. */
static void truncate_window(am_tsdb *db)
{
    int64_t cutoff = db->max_t - db->retention_ms;
    for (uint32_t id = 0; id < db->n_ids; id++) {
        am_tseries *s = db->by_id[id];
        if (!s)
            continue;
        uint32_t drop = 0;
        while (drop < s->n_chunks && s->chunks[drop]->maxt < cutoff)
            drop++;
        if (drop == s->n_chunks && s->src != 0 && drop > 0)
            drop--; /* a live series keeps its head chunk (appends go there) */
        for (uint32_t i = 0; i < drop; i++) {
            db->n_samples -= s->chunks[i]->n;
            db->data_bytes -= (s->chunks[i]->nbits + 7) / 8;
            db->chunk_bytes -= am__chunk_mem(s->chunks[i]);
            am__chunk_free(s->chunks[i]);
        }
        if (drop) {
            memmove(s->chunks, s->chunks + drop, (s->n_chunks - drop) * sizeof *s->chunks);
            s->n_chunks -= drop;
            s->cur_chunk = s->cur_chunk != UINT32_MAX && s->cur_chunk >= drop ? s->cur_chunk - drop
                                                                              : UINT32_MAX;
        }
        if (s->n_chunks == 0 && s->src == 0)
            series_drop(db, s);
    }
    db->truncated_at = db->max_t;
}

void am_tsdb_commit(am_tsdb *db, am_tsdb_src *src, int64_t stale_ms)
{
    if (src && src->has_staleness) {
        double stale = am__stale_nan();
        for (size_t i = 0; i < src->n_live; i++) {
            am_tseries *s = src->live[i];
            if (s->src != src->id || s->seen == src->round)
                continue; /* taken over by another source, or appended now */
            if (stale_ms > s->last_t && !am__is_stale_nan(s->last_v))
                (void)append_sample(db, s, stale_ms, stale);
            s->src = 0;
        }
        am_tseries **t = src->live;
        size_t tc = src->cap_live;
        src->live = src->cur;
        src->n_live = src->n_cur;
        src->cap_live = src->cap_cur;
        src->cur = t;
        src->cap_cur = tc;
        src->n_cur = 0;
    }
    if (src)
        src->round++;
    if (db->max_t != INT64_MIN &&
        (db->truncated_at == INT64_MIN || db->max_t - db->truncated_at >= db->retention_ms / 10))
        truncate_window(db);
    pthread_rwlock_unlock(&db->lock);
}

/* ------------------------------------------------------------ reading */

bool am__matcher_ok(const am_matcher *m, const char *v)
{
    switch (m->op) {
    case AM_MATCH_EQ:
        return strcmp(v, m->value) == 0;
    case AM_MATCH_NEQ:
        return strcmp(v, m->value) != 0;
    case AM_MATCH_RE:
        return am__regex_match(m->re, v, strlen(v));
    case AM_MATCH_NRE:
        return !am__regex_match(m->re, v, strlen(v));
    }
    return false;
}

/* Sorted union of the postings of name's values that m accepts. */
static uint32_t *matcher_postings(am_tsdb *db, const am_matcher *m, am_arena *a, size_t *n)
{
    size_t at;
    *n = 0;
    lname *ln = name_find(db, m->name, &at);
    if (!ln)
        return NULL;
    if (m->op == AM_MATCH_EQ) {
        lval *lv = val_find(ln, m->value, &at);
        if (!lv)
            return NULL;
        *n = lv->n;
        return lv->ids;
    }
    size_t total = 0, cap = 0;
    uint32_t *out = NULL;
    for (uint32_t i = 0; i < ln->n; i++) {
        if (!am__matcher_ok(m, ln->vals[i].value))
            continue;
        out = am__arena_grow(a, out, &cap, total + ln->vals[i].n, sizeof *out);
        memcpy(out + total, ln->vals[i].ids, ln->vals[i].n * sizeof *out);
        total += ln->vals[i].n;
    }
    /* a series has one value per name, so the runs are disjoint: sort */
    for (size_t i = 1; i < total; i++) {
        uint32_t x = out[i];
        size_t j = i;
        if (out[j - 1] <= x)
            continue;
        /* binary insertion keeps this cheap on the mostly sorted runs */
        size_t lo = 0, hi = j;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (out[mid] <= x)
                lo = mid + 1;
            else
                hi = mid;
        }
        memmove(out + lo + 1, out + lo, (j - lo) * sizeof *out);
        out[lo] = x;
    }
    *n = total;
    return out;
}

size_t am__tsdb_select(am_tsdb *db, const am_matcher *m, size_t n, am_arena *a, am_tseries ***out)
{
    uint32_t *set = NULL;
    size_t n_set = 0;
    bool have_set = false;
    for (size_t i = 0; i < n; i++) {
        if (am__matcher_ok(&m[i], ""))
            continue; /* matches series without the label: a filter */
        size_t np;
        uint32_t *p = matcher_postings(db, &m[i], a, &np);
        if (!have_set) {
            set = am__arena_alloc(a, (np ? np : 1) * sizeof *set);
            if (np)
                memcpy(set, p, np * sizeof *set);
            n_set = np;
            have_set = true;
        } else {
            size_t w = 0, x = 0, y = 0;
            while (x < n_set && y < np) {
                if (set[x] < p[y])
                    x++;
                else if (set[x] > p[y])
                    y++;
                else {
                    set[w++] = set[x];
                    x++;
                    y++;
                }
            }
            n_set = w;
        }
        if (n_set == 0)
            break;
    }
    if (!have_set) { /* only filters: start from every series */
        set = am__arena_alloc(a, (db->n_ids ? db->n_ids : 1) * sizeof *set);
        for (uint32_t id = 0; id < db->n_ids; id++)
            if (db->by_id[id])
                set[n_set++] = id;
    }
    am_tseries **res = am__arena_alloc(a, (n_set ? n_set : 1) * sizeof *res);
    size_t k = 0;
    for (size_t i = 0; i < n_set; i++) {
        am_tseries *s = db->by_id[set[i]];
        bool ok = s != NULL;
        for (size_t j = 0; ok && j < n; j++)
            if (am__matcher_ok(&m[j], ""))
                ok = am__matcher_ok(&m[j], am__labels_val(s->labels, m[j].name));
        if (ok)
            res[k++] = s;
    }
    *out = res;
    return k;
}

bool am__series_at(const am_tseries *s, int64_t ref, int64_t lookback, int64_t *t, double *v)
{
    if (s->last_t == INT64_MIN)
        return false;
    int64_t bt = INT64_MIN;
    double bv = 0;
    if (s->last_t <= ref) {
        bt = s->last_t;
        bv = s->last_v;
    } else {
        uint32_t c = s->n_chunks;
        while (c > 0 && s->chunks[c - 1]->mint > ref)
            c--;
        if (c == 0)
            return false;
        am_chunk_it it;
        am__chunk_it_init(&it, s->chunks[c - 1]);
        int64_t ct;
        double cv;
        while (am__chunk_it_next(&it, &ct, &cv) && ct <= ref) {
            bt = ct;
            bv = cv;
        }
        if (bt == INT64_MIN)
            return false;
    }
    if (bt < ref - lookback || am__is_stale_nan(bv))
        return false;
    *t = bt;
    *v = bv;
    return true;
}

size_t am__series_range(am_tsdb *db, am_tseries *s, int64_t mint, int64_t maxt, am_arena *a,
                        am_point **pts, size_t *n, size_t *cap)
{
    /* first chunk that can hold samples >= mint */
    uint32_t lo = 0, hi = s->n_chunks;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (s->chunks[mid]->maxt < mint)
            lo = mid + 1;
        else
            hi = mid;
    }
    pthread_mutex_t *lk = &db->cursor_locks[s->id % N_CURSOR_LOCKS];
    am_chunk_it saved;
    bool resume = false;
    pthread_mutex_lock(lk);
    if (s->cur_chunk == lo && s->cur.i > 0 && s->cur.t < mint) {
        saved = s->cur;
        resume = true;
    }
    pthread_mutex_unlock(lk);
    bool has_before = false;
    am_chunk_it before;
    for (uint32_t c = lo; c < s->n_chunks && s->chunks[c]->mint <= maxt; c++) {
        am_chunk_it it;
        if (resume && c == lo) {
            it = saved;
            it.c = s->chunks[c]; /* the chunk may have moved (grown) since */
        } else {
            am__chunk_it_init(&it, s->chunks[c]);
        }
        int64_t t;
        double v;
        /* skip to the range, keeping the state before its first sample */
        bool in_range = false;
        for (;;) {
            am_chunk_it prev = it;
            if (!am__chunk_it_next(&it, &t, &v) || t > maxt)
                break;
            if (t < mint)
                continue;
            if (c == lo && !has_before && prev.i > 0) {
                before = prev;
                has_before = true;
            }
            in_range = true;
            break;
        }
        while (in_range) {
            if (!am__is_stale_nan(v)) {
                if (*n >= *cap)
                    *pts = am__arena_grow(a, *pts, cap, *n + 1, sizeof **pts);
                (*pts)[*n].t = t;
                (*pts)[(*n)++].v = v;
            }
            if (!am__chunk_it_next(&it, &t, &v) || t > maxt)
                break;
        }
    }
    if (has_before) {
        pthread_mutex_lock(lk);
        s->cur_chunk = lo;
        s->cur = before;
        pthread_mutex_unlock(lk);
    }
    return *n;
}

/* ------------------------------------------------------------ listing */

void am_tsdb_stats_get(am_tsdb *db, am_tsdb_stats *out)
{
    pthread_rwlock_rdlock(&db->lock);
    memset(out, 0, sizeof *out);
    out->n_series = db->n_series;
    out->n_samples = db->n_samples;
    out->data_bytes = db->data_bytes;
    out->chunk_bytes = db->chunk_bytes;
    out->series_bytes = db->series_bytes;
    size_t idx = db->tab_cap * sizeof *db->tab + db->cap_ids * sizeof *db->by_id;
    for (size_t i = 0; i < db->n_names; i++) {
        idx += sizeof(lname) + strlen(db->names[i].name) + 1 + db->names[i].cap * sizeof(lval);
        for (uint32_t k = 0; k < db->names[i].n; k++)
            idx += strlen(db->names[i].vals[k].value) + 1 +
                   db->names[i].vals[k].cap * sizeof(uint32_t);
    }
    out->index_bytes = idx;
    out->n_rejected = db->n_rejected;
    pthread_rwlock_unlock(&db->lock);
}

void am_tsdb_label_names(am_tsdb *db, void (*fn)(const char *name, void *ud), void *ud)
{
    pthread_rwlock_rdlock(&db->lock);
    for (size_t i = 0; i < db->n_names; i++)
        fn(db->names[i].name, ud);
    pthread_rwlock_unlock(&db->lock);
}

void am_tsdb_label_values(am_tsdb *db, const char *name, void (*fn)(const char *value, void *ud),
                          void *ud)
{
    pthread_rwlock_rdlock(&db->lock);
    size_t at;
    lname *ln = name_find(db, name, &at);
    for (uint32_t i = 0; ln && i < ln->n; i++)
        fn(ln->vals[i].value, ud);
    pthread_rwlock_unlock(&db->lock);
}
