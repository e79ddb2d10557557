/*
** exemplar.c: validating, rendering, storing and reading exemplars.
**
** DESIGN
** An exemplar links a sample to a trace: `# {trace_id="..."} 0.42 1.7e9`.
** OpenMetrics caps its label text at 128 characters; we render it once at
** record time (so scrapes copy bytes) into a slot of AM_EXEMPLAR_TEXT bytes.
** Slots are seqlocks made of atomic words, so concurrent writers and readers
** are race-free without locks: the sequence is odd while a writer copies.
*/
#include <string.h>

#include "agentmon/timer.h"
#include "../util/alloc.h"
#include "../util/error.h"
#include "exemplar.h"
#include "../util/render.h"
#include "../util/validate.h"

#define AM_EX_WORDS (AM_EXEMPLAR_TEXT / 8)

typedef struct am_exslot {
    _Atomic uint32_t seq;
    _Atomic uint32_t len;
    _Atomic double value;
    _Atomic double ts;
    _Atomic uint64_t w[AM_EX_WORDS];
} am_exslot;

struct am_exemplars {
    uint32_t n;
    am_exslot s[];
};

am_err am__exemplar_render(const am_labels *ex, char *out, size_t *len)
{
    if (!ex || (ex->n && (!ex->names || !ex->values)))
        return am__err(AM_EINVAL, "exemplar labels are NULL");
    if (ex->n > AM_MAX_LABELS)
        return am__err(AM_EINVAL, "exemplar has more than %d labels", AM_MAX_LABELS);
    size_t runes = 0, o = 0;
    for (size_t i = 0; i < ex->n; i++) {
        am_err rc = am__check_label_name(ex->names[i], "exemplar label name");
        if (rc)
            return rc;
        for (size_t j = 0; j < i; j++)
            if (strcmp(ex->names[i], ex->names[j]) == 0)
                return am__err(AM_EINVAL, "exemplar label \"%s\" appears twice", ex->names[i]);
        if (!ex->values[i])
            return am__err(AM_EINVAL, "exemplar label \"%s\" has a NULL value", ex->names[i]);
        size_t nl = strlen(ex->names[i]), vl = strlen(ex->values[i]), vr;
        if (!am__utf8_valid(ex->values[i], vl, &vr))
            return am__err(AM_EINVAL, "exemplar label \"%s\" is not valid UTF-8", ex->names[i]);
        runes += nl + vr;
        if (runes > AM_EXEMPLAR_MAX_RUNES)
            return am__err(AM_ELIMIT, "exemplar labels exceed %d characters",
                           AM_EXEMPLAR_MAX_RUNES);
        o += (i ? 1 : 0) + nl + 3 + am__escape_label(NULL, ex->values[i], vl);
        if (o > AM_EXEMPLAR_TEXT)
            return am__err(AM_ELIMIT, "exemplar labels exceed %d bytes once escaped",
                           AM_EXEMPLAR_TEXT);
    }
    o = am__render_pairs(out, ex->names, ex->values, ex->n, 1);
    out[o] = '\0';
    *len = o;
    return AM_OK;
}

static am_exemplars *storage(am_child *c, uint32_t n_slots)
{
    am_exemplars *e = atomic_load_explicit(&c->ex, am_acquire);
    if (AM_LIKELY(e != NULL))
        return e;
    e = am__calloc(1, sizeof *e + (size_t)n_slots * sizeof(am_exslot));
    if (!e)
        return NULL;
    e->n = n_slots;
    am_exemplars *expected = NULL;
    if (!atomic_compare_exchange_strong(&c->ex, &expected, e)) {
        am__free(e);
        return expected;
    }
    return e;
}

am_err am__exemplar_store(am_child *c, uint32_t n_slots, uint32_t idx, const char *text, size_t len,
                          double value)
{
    am_exemplars *e = storage(c, n_slots);
    if (!e)
        return am__err(AM_ENOMEM, "out of memory for exemplar storage");
    am_exslot *s = &e->s[idx];
    uint32_t seq = atomic_load_explicit(&s->seq, am_relaxed);
    if ((seq & 1) ||
        !atomic_compare_exchange_strong_explicit(&s->seq, &seq, seq + 1, am_acquire, am_relaxed))
        return AM_OK; /* another writer is here; its exemplar is as recent */
    uint64_t w[AM_EX_WORDS] = {0};
    memcpy(w, text, len);
    for (size_t i = 0; i < (len + 7) / 8; i++)
        atomic_store_explicit(&s->w[i], w[i], am_relaxed);
    atomic_store_explicit(&s->len, (uint32_t)len, am_relaxed);
    atomic_store_explicit(&s->value, value, am_relaxed);
    atomic_store_explicit(&s->ts, am_unix_time(), am_relaxed);
    atomic_store_explicit(&s->seq, seq + 2, am_release);
    return AM_OK;
}

void am__exemplar_read(const am_child *c, uint32_t idx, am_exview *out)
{
    out->set = false;
    am_exemplars *e = atomic_load_explicit(&((am_child *)c)->ex, am_acquire);
    if (!e || idx >= e->n)
        return;
    am_exslot *s = &e->s[idx];
    for (int attempt = 0; attempt < 64; attempt++) {
        uint32_t s1 = atomic_load_explicit(&s->seq, am_acquire);
        if (s1 == 0)
            return; /* never written */
        if (s1 & 1)
            continue;
        uint64_t w[AM_EX_WORDS];
        uint32_t len = atomic_load_explicit(&s->len, am_relaxed);
        if (len > AM_EXEMPLAR_TEXT)
            continue;
        for (size_t i = 0; i < (len + 7) / 8; i++)
            w[i] = atomic_load_explicit(&s->w[i], am_relaxed);
        out->value = atomic_load_explicit(&s->value, am_relaxed);
        out->ts = atomic_load_explicit(&s->ts, am_relaxed);
        atomic_thread_fence(am_acquire);
        if (atomic_load_explicit(&s->seq, am_relaxed) != s1)
            continue;
        memcpy(out->labels, w, len);
        out->labels[len] = '\0';
        out->len = len;
        out->set = true;
        return;
    }
}
