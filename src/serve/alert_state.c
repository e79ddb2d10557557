/*
** alert_state.c: alert state and history in the store (see
** alert_state.h).
**
** DESIGN
** The rows of alert_state are read once, at open, into a table in memory
** keyed by id; from then on the table is what the store holds (every
** write goes to both), so load() never reads the database and save()
** knows what changed without asking it. save() gets a whole group's
** alerts: each becomes a row (written when it is pending or firing, or
** when its state changed), a change of state becomes a history row, and
** a row of the group that is pending or firing but missing from the
** snapshot is written once more as gone ("inactive"). load() hands back
** the group's pending and firing rows with the time they were written.
**
** Ids: "<group>:<fingerprint>", group = 16 hex digits of FNV-1a 64 over
** file "\0" group name, so two groups' alerts of the same labels stay
** apart. Labels are stored as canonical text (store/labels.h), which
** load() splits back; annotations as a JSON object.
**
** THREADING: a mutex; save and load come from the engine's thread, the
** events and the notification log from the dispatcher's threads.
*/
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "agentmon/timer.h"
#include "../util/alloc.h"
#include "../util/buf.h"
#include "../util/error.h"
#include "../util/render.h"
#include "../util/hash.h"
#include "alert_state.h"
#include "store/labels.h"

#define PRUNE_EVERY_MS (3600 * 1000LL)
#define MAX_ROWS 200000 /* kept in memory; past it new alerts are not persisted */

typedef struct arow {
    char *id, *name, *fp, *labels, *ann, *state;
    double ts, active, fired, resolved, keep, sent, value; /* seconds; 0: none */
    double when; /* for history: when the state was entered (0: ts) */
} arow;

struct am_alert_state_store {
    am_store *store;
    am_logger *log;
    am_alert_persister ps;
    pthread_mutex_t mu;
    am__map rows; /* id (borrowed: the row's own) -> arow, FNV-1a: see below */
    int64_t last_prune_ms;
    double next_warn;
};

/* ---- the table in memory -------------------------------------------------- */

/* The table is walked in slot order when a group is saved or loaded, so the
   order of the gone rows' history and of the alerts load() hands back
   follows its layout: FNV-1a (the same in every run), 256 slots at first,
   growth on the put that always grew (a replacement too) and pruning
   into a table of the same size keep that layout as it always was. */
static uint64_t id_hash(const char *id)
{
    return am__fnv1a64(AM_FNV1A64_INIT, id, strlen(id));
}

static void row_free(arow *r)
{
    if (!r)
        return;
    am__free(r->id);
    am__free(r->name);
    am__free(r->fp);
    am__free(r->labels);
    am__free(r->ann);
    am__free(r->state);
    am__free(r);
}

static arow *row_get(am_alert_state_store *as, const char *id)
{
    return am__map_find(&as->rows, id_hash(id), id, strlen(id));
}

/* Replace (or add) the row of r->id; takes r. */
static void row_put(am_alert_state_store *as, arow *r)
{
    if (am__map_reserve(&as->rows, as->rows.n + 1) || as->rows.n >= MAX_ROWS) {
        row_free(r);
        return;
    }
    uint64_t h = id_hash(r->id);
    size_t len = strlen(r->id);
    am__map_slot *at = am__map_at(&as->rows, h, r->id, len);
    if (at) {
        row_free(at->val);
        at->val = r;
        at->key = r->id;
    } else {
        (void)am__map_put(&as->rows, h, r->id, len, r); /* reserved: cannot fail */
    }
}

/* Remove every row older than before (seconds): the rows kept go into a
   table of the same size, in the order of the old one. */
static void rows_prune(am_alert_state_store *as, double before)
{
    am__map keep = {.is_key_borrowed = true, .first_cap = as->rows.cap ? as->rows.cap : 256};
    if (am__map_reserve(&keep, as->rows.n))
        return;
    size_t it = 0;
    for (am__map_slot *sl; (sl = am__map_next(&as->rows, &it));) {
        arow *r = sl->val;
        if (r->ts < before)
            row_free(r);
        else
            (void)am__map_put(&keep, sl->hash, r->id, sl->klen, r); /* reserved */
    }
    am__map_free(&as->rows);
    as->rows = keep;
}

static char *dup_or_null(const char *s)
{
    return s ? am__strdup(s) : NULL;
}

/* ---- writing -------------------------------------------------------------- */

static void warn_dropped(am_alert_state_store *as, const char *what)
{
    double now = am_unix_time();
    if (now < as->next_warn)
        return;
    as->next_warn = now + 60;
    AM_LOG_WARNING(as->log, "agentmon-alerting", "alert state not stored", AM_F_STR("what", what),
                   AM_F_STR("reason", am_errmsg()));
}

static am_value txt(const char *s)
{
    return (am_value){.is_null = !s, .v.s = s};
}

static am_value secs(double t)
{
    return (am_value){.is_null = t <= 0, .v.d = t};
}

static am_value real(double v)
{
    return (am_value){.is_null = isnan(v), .v.d = v};
}

/* A record of alert_state for r; vals has AM_ALERT__N slots. */
static am_record state_record(const arow *r, am_value *vals)
{
    vals[AM_ALERT_ID] = txt(r->id);
    vals[AM_ALERT_TIMESTAMP] = secs(r->ts);
    vals[AM_ALERT_ALERT_NAME] = txt(r->name);
    vals[AM_ALERT_FINGERPRINT] = txt(r->fp);
    vals[AM_ALERT_LABELS] = txt(r->labels);
    vals[AM_ALERT_STATE] = txt(r->state);
    vals[AM_ALERT_ACTIVE_AT] = secs(r->active);
    vals[AM_ALERT_FIRED_AT] = secs(r->fired);
    vals[AM_ALERT_RESOLVED_AT] = secs(r->resolved);
    vals[AM_ALERT_KEEP_FIRING_SINCE] = secs(r->keep);
    vals[AM_ALERT_LAST_SENT_AT] = secs(r->sent);
    vals[AM_ALERT_VALUE] = real(r->value);
    vals[AM_ALERT_ANNOTATIONS] = txt(r->ann);
    return (am_record){AM_T_ALERT, vals};
}

/* A record of alert_history: r entered its state at r->ts; hid is its id. */
static am_record history_record(const arow *r, char *hid, size_t hcap, am_value *vals)
{
    double when = r->when > 0 ? r->when : r->ts;
    snprintf(hid, hcap, "%s:%s:%lld", r->id, r->state, (long long)llround(when * 1000));
    vals[AM_AHIST_ID] = txt(hid);
    vals[AM_AHIST_TIMESTAMP] = secs(when);
    vals[AM_AHIST_ALERT_NAME] = txt(r->name);
    vals[AM_AHIST_FINGERPRINT] = txt(r->fp);
    vals[AM_AHIST_LABELS] = txt(r->labels);
    vals[AM_AHIST_STATE] = txt(r->state);
    vals[AM_AHIST_VALUE] = real(r->value);
    vals[AM_AHIST_ANNOTATIONS] = txt(r->ann);
    return (am_record){AM_T_ALERT_HISTORY, vals};
}

/* A batch of records built from rows (state and history). */
typedef struct batch {
    am_record *recs;
    am_value *vals;
    char (*hids)[AM_STORE_MAX_ID];
    size_t n, cap;
} batch;

static bool batch_room(batch *b, size_t n)
{
    if (b->n + n <= b->cap)
        return true;
    size_t cap = (b->n + n) * 2;
    am_record *r = am__calloc(cap, sizeof *r);
    am_value *v = am__calloc(cap * AM_TABLE_MAX_COLS, sizeof *v);
    char(*h)[AM_STORE_MAX_ID] = am__calloc(cap, sizeof *h);
    if (!r || !v || !h) {
        am__free(r);
        am__free(v);
        am__free(h);
        return false;
    }
    for (size_t i = 0; i < b->n; i++) {
        memcpy(v + i * AM_TABLE_MAX_COLS, b->vals + i * AM_TABLE_MAX_COLS,
               AM_TABLE_MAX_COLS * sizeof *v);
        memcpy(h[i], b->hids[i], sizeof h[i]);
        r[i] = (am_record){b->recs[i].table, v + i * AM_TABLE_MAX_COLS};
        if (b->recs[i].table == AM_T_ALERT_HISTORY)
            r[i].vals[AM_AHIST_ID].v.s = h[i];
    }
    am__free(b->recs);
    am__free(b->vals);
    am__free(b->hids);
    b->recs = r;
    b->vals = v;
    b->hids = h;
    b->cap = cap;
    return true;
}

static void batch_state(batch *b, const arow *r)
{
    if (!batch_room(b, 1))
        return;
    b->recs[b->n] = state_record(r, b->vals + b->n * AM_TABLE_MAX_COLS);
    b->n++;
}

static void batch_history(batch *b, const arow *r)
{
    if (!batch_room(b, 1))
        return;
    b->recs[b->n] =
        history_record(r, b->hids[b->n], sizeof b->hids[b->n], b->vals + b->n * AM_TABLE_MAX_COLS);
    b->n++;
}

static void batch_submit(am_alert_state_store *as, batch *b)
{
    if (b->n) {
        uint64_t ticket;
        if (am_store_submit(as->store, b->recs, b->n, &ticket))
            warn_dropped(as, "a batch of alert state");
    }
    am__free(b->recs);
    am__free(b->vals);
    am__free(b->hids);
    memset(b, 0, sizeof *b);
}

/* ---- rows from the engine's records ----------------------------------------- */

static void group_key(const char *file, const char *group, char out[18])
{
    uint64_t h = am__fnv1a64(AM_FNV1A64_INIT, file, strlen(file) + 1);
    h = am__fnv1a64(h, group, strlen(group));
    snprintf(out, 18, "%016llx", (unsigned long long)h);
}

static void labels_text(am_buf *b, const am_label *l, size_t n)
{
    const char *names[AM_LABELS_MAX], *values[AM_LABELS_MAX];
    if (n > AM_LABELS_MAX)
        n = AM_LABELS_MAX;
    for (size_t i = 0; i < n; i++) {
        names[i] = l[i].name;
        values[i] = l[i].value;
    }
    am__labels_canonical(b, names, values, n);
}

static const char *state_text(const am_alert_record *r)
{
    if (r->state == AM_ALERT_INACTIVE)
        return r->fired_at_ms ? "resolved" : "inactive";
    return am_alert_state_name(r->state);
}

/* A row (heap) for an alert of labels l, identity prefix gk. */
static arow *make_row(const char *gk, const char *name, const am_label *l, size_t n,
                      const am_label *ann, size_t n_ann, const char *state, double ts)
{
    arow *r = am__calloc(1, sizeof *r);
    if (!r)
        return NULL;
    char fp[17], id[64];
    am_alert_fingerprint_hex(l, n, fp);
    snprintf(id, sizeof id, "%s:%s", gk, fp);
    am_buf lb, ab;
    am_buf_init(&lb, AM_STORE_MAX_TEXT);
    am_buf_init(&ab, AM_STORE_MAX_TEXT);
    labels_text(&lb, l, n);
    am__labels_json_pairs(&ab, ann, n_ann);
    r->id = am__strdup(id);
    r->name = am__strdup(name);
    r->fp = am__strdup(fp);
    r->labels = am_buf_err(&lb) ? NULL : am_buf_take(&lb, NULL);
    r->ann = am_buf_err(&ab) ? NULL : am_buf_take(&ab, NULL);
    r->state = am__strdup(state);
    am_buf_free(&lb);
    am_buf_free(&ab);
    r->ts = ts;
    if (!r->id || !r->name || !r->fp || !r->labels || !r->ann || !r->state) {
        row_free(r);
        return NULL;
    }
    if (!*r->labels) { /* the empty set: "" is not stored as text */
        am__free(r->labels);
        r->labels = am__strdup("{}");
    }
    return r;
}

static double ms_s(int64_t ms)
{
    return ms > 0 ? (double)ms / 1000.0 : 0;
}

static bool is_active(const char *state)
{
    return strcmp(state, "pending") == 0 || strcmp(state, "firing") == 0;
}

static void prune(am_alert_state_store *as, int64_t now_ms)
{
    double before = (double)now_ms / 1000.0 - AM_ALERT_STATE_KEEP_S;
    uint64_t n = 0;
    if (am_store_prune(as->store, AM_T_ALERT, before, &n))
        warn_dropped(as, "pruning alert_state");
    rows_prune(as, before);
    as->last_prune_ms = now_ms;
}

static am_err save(void *ud, const char *file, const char *group, const am_alert_record *recs,
                   size_t n, int64_t eval_ms)
{
    am_alert_state_store *as = ud;
    char gk[18];
    group_key(file, group, gk);
    double ts = (double)eval_ms / 1000.0;
    batch b = {0};
    pthread_mutex_lock(&as->mu);
    char **seen = am__calloc(n + 1, sizeof *seen);
    for (size_t i = 0; i < n; i++) {
        const am_alert_record *rec = &recs[i];
        const char *st = state_text(rec);
        arow *r = make_row(gk, rec->rule, rec->labels, rec->n_labels, rec->annotations,
                           rec->n_annotations, st, ts);
        if (!r)
            continue;
        r->active = ms_s(rec->active_at_ms);
        r->fired = ms_s(rec->fired_at_ms);
        r->resolved = ms_s(rec->resolved_at_ms);
        r->keep = ms_s(rec->keep_firing_since_ms);
        r->sent = ms_s(rec->last_sent_at_ms);
        r->value = rec->value;
        r->when = rec->state == AM_ALERT_PENDING  ? r->active
                  : rec->state == AM_ALERT_FIRING ? r->fired
                                                  : r->resolved;
        if (seen)
            seen[i] = am__strdup(r->id);
        const arow *prev = row_get(as, r->id);
        bool changed = !prev || strcmp(prev->state, r->state) != 0;
        if (changed)
            batch_history(&b, r);
        if (changed || is_active(r->state) || prev->resolved != r->resolved)
            batch_state(&b, r);
        if (changed || is_active(r->state) || prev->resolved != r->resolved)
            row_put(as, r);
        else
            row_free(r);
    }
    /* the group's active rows that the snapshot no longer has: gone */
    size_t gl = strlen(gk);
    size_t it = 0;
    for (am__map_slot *sl; (sl = am__map_next(&as->rows, &it));) {
        arow *r = sl->val;
        if (strncmp(r->id, gk, gl) != 0 || r->id[gl] != ':' || !is_active(r->state))
            continue;
        bool in = false;
        for (size_t k = 0; k < n && !in; k++)
            in = seen && seen[k] && strcmp(seen[k], r->id) == 0;
        if (in)
            continue;
        char *st = am__strdup(strcmp(r->state, "firing") == 0 ? "resolved" : "inactive");
        if (!st)
            continue;
        am__free(r->state);
        r->state = st;
        r->ts = ts;
        if (!r->resolved)
            r->resolved = ts;
        batch_history(&b, r);
        batch_state(&b, r);
    }
    for (size_t i = 0; seen && i < n; i++)
        am__free(seen[i]);
    am__free(seen);
    if (eval_ms - as->last_prune_ms >= PRUNE_EVERY_MS)
        prune(as, eval_ms);
    pthread_mutex_unlock(&as->mu);
    batch_submit(as, &b);
    return AM_OK;
}

static am_err load(void *ud, const char *file, const char *group,
                   void (*fn)(void *ctx, const am_alert_record *r, int64_t saved_ms), void *ctx)
{
    am_alert_state_store *as = ud;
    char gk[18];
    group_key(file, group, gk);
    size_t gl = strlen(gk);
    bool any = false;
    pthread_mutex_lock(&as->mu);
    size_t it = 0;
    for (am__map_slot *sl; (sl = am__map_next(&as->rows, &it));) {
        arow *r = sl->val;
        if (strncmp(r->id, gk, gl) != 0 || r->id[gl] != ':' || !is_active(r->state))
            continue;
        size_t len = strlen(r->labels);
        char *scratch = am__malloc(len + 1);
        const char *names[AM_LABELS_MAX], *values[AM_LABELS_MAX];
        size_t nl = 0;
        if (!scratch || am__labels_split(strcmp(r->labels, "{}") == 0 ? "" : r->labels, scratch,
                                         len + 1, names, values, AM_LABELS_MAX, &nl)) {
            am__free(scratch);
            continue;
        }
        am_label l[AM_LABELS_MAX];
        for (size_t k = 0; k < nl; k++)
            l[k] = (am_label){names[k], values[k]};
        am_alert_record rec = {file,
                               group,
                               r->name,
                               l,
                               nl,
                               NULL,
                               0,
                               strcmp(r->state, "firing") == 0 ? AM_ALERT_FIRING : AM_ALERT_PENDING,
                               r->value,
                               (int64_t)llround(r->active * 1000),
                               (int64_t)llround(r->fired * 1000),
                               (int64_t)llround(r->resolved * 1000),
                               (int64_t)llround(r->sent * 1000),
                               (int64_t)llround(r->keep * 1000)};
        fn(ctx, &rec, (int64_t)llround(r->ts * 1000));
        any = true;
        am__free(scratch);
    }
    pthread_mutex_unlock(&as->mu);
    return any ? AM_OK : AM_ENOTFOUND;
}

/* ---- open --------------------------------------------------------------------- */

static double col_d(const am_value *v)
{
    return v->is_null ? 0 : v->v.d;
}

static int on_row(void *ud, const am_table *t, const am_value *v)
{
    (void)t;
    am_alert_state_store *as = ud;
    arow *r = am__calloc(1, sizeof *r);
    if (!r)
        return AM_ENOMEM;
    r->id = dup_or_null(v[AM_ALERT_ID].v.s);
    r->name = dup_or_null(v[AM_ALERT_ALERT_NAME].v.s);
    r->fp = dup_or_null(v[AM_ALERT_FINGERPRINT].v.s);
    r->labels = am__strdup(v[AM_ALERT_LABELS].is_null ? "{}" : v[AM_ALERT_LABELS].v.s);
    r->ann = am__strdup(v[AM_ALERT_ANNOTATIONS].is_null ? "{}" : v[AM_ALERT_ANNOTATIONS].v.s);
    r->state = dup_or_null(v[AM_ALERT_STATE].v.s);
    r->ts = col_d(&v[AM_ALERT_TIMESTAMP]);
    r->active = col_d(&v[AM_ALERT_ACTIVE_AT]);
    r->fired = col_d(&v[AM_ALERT_FIRED_AT]);
    r->resolved = col_d(&v[AM_ALERT_RESOLVED_AT]);
    r->keep = col_d(&v[AM_ALERT_KEEP_FIRING_SINCE]);
    r->sent = col_d(&v[AM_ALERT_LAST_SENT_AT]);
    r->value = v[AM_ALERT_VALUE].is_null ? NAN : v[AM_ALERT_VALUE].v.d;
    if (!r->id || !r->name || !r->fp || !r->labels || !r->ann || !r->state) {
        row_free(r);
        return AM_ENOMEM;
    }
    row_put(as, r);
    return 0;
}

am_err am__alert_state_open(am_store *store, am_logger *log, am_alert_state_store **out)
{
    am_alert_state_store *as = am__calloc(1, sizeof *as);
    if (!as)
        return am__err(AM_ENOMEM, "out of memory");
    as->store = store;
    as->log = log;
    pthread_mutex_init(&as->mu, NULL);
    as->rows = (am__map){.is_key_borrowed = true, .first_cap = 256};
    as->ps = (am_alert_persister){1, as, save, load};
    char cursor[AM_STORE_CURSOR_MAX] = "";
    am_err rc = AM_OK;
    for (;;) {
        am_store_query q = {.table = AM_T_ALERT, .start = NAN, .end = NAN, .limit = 10000};
        char next[AM_STORE_CURSOR_MAX];
        size_t n = 0;
        q.cursor = cursor;
        rc = am_store_select(store, &q, on_row, as, &n, next);
        if (rc || !next[0])
            break;
        memcpy(cursor, next, sizeof cursor);
    }
    if (rc) {
        char why[256];
        snprintf(why, sizeof why, "%s", am_errmsg());
        am__alert_state_free(as);
        return am__err(rc, "reading alert_state: %s", why);
    }
    prune(as, (int64_t)(am_unix_time() * 1000));
    *out = as;
    return AM_OK;
}

void am__alert_state_free(am_alert_state_store *as)
{
    if (!as)
        return;
    size_t it = 0;
    for (am__map_slot *sl; (sl = am__map_next(&as->rows, &it));)
        row_free(sl->val);
    am__map_free(&as->rows);
    pthread_mutex_destroy(&as->mu);
    am__free(as);
}

const am_alert_persister *am__alert_state_persister(am_alert_state_store *as)
{
    return &as->ps;
}

/* ---- events and the notification log --------------------------------------------- */

void am__alert_state_event(am_alert_state_store *as, const am_label *labels, size_t n,
                           const am_label *annotations, size_t n_ann, const char *state,
                           int64_t t_ms)
{
    const char *name = "";
    for (size_t i = 0; i < n; i++)
        if (strcmp(labels[i].name, "alertname") == 0)
            name = labels[i].value;
    arow *r = make_row("event", name, labels, n, annotations, n_ann, state, (double)t_ms / 1000);
    if (!r)
        return;
    r->value = NAN;
    batch b = {0};
    pthread_mutex_lock(&as->mu);
    const arow *prev = row_get(as, r->id);
    bool changed = !prev || strcmp(prev->state, r->state) != 0;
    if (changed) {
        if (strcmp(state, "firing") == 0)
            r->fired = r->ts;
        else
            r->resolved = r->ts;
        batch_history(&b, r);
        batch_state(&b, r);
        row_put(as, r);
    } else {
        row_free(r);
    }
    pthread_mutex_unlock(&as->mu);
    batch_submit(as, &b);
}

void am__alert_state_log_put(am_alert_state_store *as, const char *key, const char *text,
                             int64_t t_ms)
{
    arow *r = am__calloc(1, sizeof *r);
    if (!r)
        return;
    char id[AM_STORE_MAX_ID];
    snprintf(id, sizeof id, "nflog:%s", key);
    r->id = am__strdup(id);
    r->name = am__strdup("nflog");
    r->fp = am__strdup(key);
    r->labels = am__strdup("{}");
    r->ann = am__strdup(text);
    r->state = am__strdup("notified");
    r->ts = (double)t_ms / 1000;
    r->fired = r->ts;
    r->value = NAN;
    if (!r->id || !r->name || !r->fp || !r->labels || !r->ann || !r->state) {
        row_free(r);
        return;
    }
    batch b = {0};
    pthread_mutex_lock(&as->mu);
    batch_state(&b, r);
    row_put(as, r);
    pthread_mutex_unlock(&as->mu);
    batch_submit(as, &b);
}

int64_t am__alert_state_log_get(am_alert_state_store *as, const char *key, char *out, size_t cap)
{
    char id[AM_STORE_MAX_ID];
    snprintf(id, sizeof id, "nflog:%s", key);
    pthread_mutex_lock(&as->mu);
    const arow *r = row_get(as, id);
    int64_t t = 0;
    if (r) {
        snprintf(out, cap, "%s", r->ann);
        t = (int64_t)llround(r->fired * 1000);
    }
    pthread_mutex_unlock(&as->mu);
    return t;
}

/* ---- the notifier's persistence ------------------------------------------------------- */

static int64_t log_get(void *ud, const char *key, char *out, size_t cap)
{
    return am__alert_state_log_get(ud, key, out, cap);
}

static void log_put(void *ud, const char *key, const char *text, int64_t t_ms)
{
    am__alert_state_log_put(ud, key, text, t_ms);
}

static void silence_put(void *ud, const am_silence *sl)
{
    am_alert_state_store *as = ud;
    am_buf m;
    am_buf_init(&m, AM_STORE_MAX_TEXT);
    am_buf_putc(&m, '[');
    for (size_t i = 0; i < sl->n_m; i++) {
        const am_amatcher *x = &sl->m[i];
        am_buf_puts(&m, i ? ",{\"name\":" : "{\"name\":");
        am__buf_json_string(&m, x->name, strlen(x->name));
        am_buf_puts(&m, ",\"value\":");
        am__buf_json_string(&m, x->value, strlen(x->value));
        am_buf_printf(&m, ",\"isRegex\":%s,\"isEqual\":%s}",
                      x->op == AM_AM_RE || x->op == AM_AM_NRE ? "true" : "false",
                      x->op == AM_AM_EQ || x->op == AM_AM_RE ? "true" : "false");
    }
    am_buf_putc(&m, ']');
    if (am_buf_err(&m)) {
        am_buf_free(&m);
        warn_dropped(as, "a silence");
        return;
    }
    am_value v[AM_SILENCE__N];
    v[AM_SILENCE_ID] = txt(sl->id);
    v[AM_SILENCE_TIMESTAMP] = secs((double)sl->updated_ms / 1000);
    v[AM_SILENCE_MATCHERS] = txt(m.p);
    v[AM_SILENCE_STARTS_AT] = (am_value){.v.d = (double)sl->starts_at_ms / 1000};
    v[AM_SILENCE_ENDS_AT] = (am_value){.v.d = (double)sl->ends_at_ms / 1000};
    v[AM_SILENCE_CREATED_BY] = txt(sl->created_by);
    v[AM_SILENCE_COMMENT] = txt(sl->comment);
    am_record r = {AM_T_SILENCE, v};
    uint64_t ticket;
    if (am_store_submit(as->store, &r, 1, &ticket))
        warn_dropped(as, "a silence");
    am_buf_free(&m);
}

typedef struct sload {
    void (*fn)(void *ctx, const am_silence *s);
    void *ctx;
    double before;
} sload;

static int on_silence(void *ud, const am_table *t, const am_value *v)
{
    (void)t;
    sload *c = ud;
    if (v[AM_SILENCE_ENDS_AT].v.d < c->before || v[AM_SILENCE_MATCHERS].is_null)
        return 0;
    json_error_t e;
    json_t *arr = json_loads(v[AM_SILENCE_MATCHERS].v.s, 0, &e);
    size_t n = json_is_array(arr) ? json_array_size(arr) : 0;
    am_amatcher *m = am__calloc(n + 1, sizeof *m);
    am_silence sl;
    memset(&sl, 0, sizeof sl);
    for (size_t i = 0; m && i < n; i++) {
        json_t *x = json_array_get(arr, i);
        const char *name = json_string_value(json_object_get(x, "name"));
        const char *value = json_string_value(json_object_get(x, "value"));
        bool re = json_is_true(json_object_get(x, "isRegex"));
        json_t *eq = json_object_get(x, "isEqual");
        bool is_eq = !eq || json_is_true(eq);
        if (!name || !value)
            continue;
        m[sl.n_m].name = (char *)name;
        m[sl.n_m].value = (char *)value;
        m[sl.n_m].op = re ? (is_eq ? AM_AM_RE : AM_AM_NRE) : (is_eq ? AM_AM_EQ : AM_AM_NEQ);
        sl.n_m++;
    }
    snprintf(sl.id, sizeof sl.id, "%s", v[AM_SILENCE_ID].v.s ? v[AM_SILENCE_ID].v.s : "");
    sl.m = m;
    sl.starts_at_ms = (int64_t)llround(v[AM_SILENCE_STARTS_AT].v.d * 1000);
    sl.ends_at_ms = (int64_t)llround(v[AM_SILENCE_ENDS_AT].v.d * 1000);
    sl.updated_ms = (int64_t)llround(v[AM_SILENCE_TIMESTAMP].v.d * 1000);
    if (sl.updated_ms <= 0)
        sl.updated_ms = 1; /* marks it as loaded */
    sl.created_by = (char *)(v[AM_SILENCE_CREATED_BY].is_null ? "" : v[AM_SILENCE_CREATED_BY].v.s);
    sl.comment = (char *)(v[AM_SILENCE_COMMENT].is_null ? "" : v[AM_SILENCE_COMMENT].v.s);
    if (sl.n_m && sl.id[0])
        c->fn(c->ctx, &sl);
    am__free(m);
    json_decref(arr);
    return 0;
}

static void silences_load(void *ud, void (*fn)(void *ctx, const am_silence *s), void *ctx)
{
    am_alert_state_store *as = ud;
    sload c = {fn, ctx, am_unix_time() - AM_ALERT_STATE_KEEP_S};
    char cursor[AM_STORE_CURSOR_MAX] = "";
    for (;;) {
        am_store_query q = {.table = AM_T_SILENCE, .start = NAN, .end = NAN, .limit = 10000};
        char next[AM_STORE_CURSOR_MAX];
        size_t n = 0;
        q.cursor = cursor;
        if (am_store_select(as->store, &q, on_silence, &c, &n, next) || !next[0])
            break;
        memcpy(cursor, next, sizeof cursor);
    }
}

static void event_state(void *ud, const am_nalert *a, const char *state, int64_t t_ms)
{
    am__alert_state_event(ud, a->labels->l, a->labels->n, a->annotations->l, a->annotations->n,
                          state, t_ms);
}

am_notify_store am__alert_state_notify_store(am_alert_state_store *as)
{
    return (am_notify_store){as, log_get, log_put, silence_put, silences_load, event_state};
}
