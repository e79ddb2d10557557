/*
** fuzz_registry.c: libFuzzer target -- arbitrary names, help texts, units,
** label names and values, exemplars and sample values go through the public
** API into a fresh registry, and back out through all three encoders.
**
** WHAT IT CHECKS, AND WHY
** The library promises that whatever it accepts comes out as text every
** parser can read, and that whatever it refuses is refused with a code. The
** target drives the API from fuzzer bytes and checks both halves:
**
**   - Every call against a small model of the registry. A definition, label
**     value, exemplar or delta the rules forbid must be refused; a refusal
**     must return a code (not AM_OK), leave a fresh am_errmsg() and leave
**     the out pointer untouched; an accepted one must give the handle the
**     model expects (the existing child, the overflow series at the child
**     limit, a new one otherwise), and the getters (am_counter_value,
**     am_gauge_value, am_histogram_read, am_stateset_get) must read back
**     what the model computed: gauges exactly (one shared double), counter
**     totals and histogram sums within rounding of the exact sum (their
**     summation order is the library's business), counts and bits exactly.
**   - Every exposition, after an "encode" command and at the end, in all
**     three formats: strict UTF-8 (RFC 3629, checked by decoding) with no
**     NUL inside; Prometheus text 0.0.4 and OpenMetrics 1.0 read line by
**     line by a strict parser of the grammar (HELP, TYPE, UNIT, then the
**     samples of that family only; label values escaped \\ \" \n and
**     nothing else; HELP escaped \\ \n, plus \" in OpenMetrics; one family
**     per name; no series twice; exemplars only on OpenMetrics counter
**     totals and histogram buckets; "# EOF" last); the JSON snapshot read by
**     a strict recursive validator (depth-limited; escapes and surrogate
**     pairs; no duplicate key in any object).
**   - Round trip, for every family the model tracks: the unescaped HELP,
**     the set of series and their unescaped label values, histogram buckets
**     (le in order, cumulative counts), _count and _sum, stateset states and
**     bits, counter and gauge values, info pairs and exemplars read back
**     from the text equal what was registered and recorded (values exactly
**     as the getters read them: formatting must round-trip); and the JSON
**     snapshot has the family under its json_name (or exposed name) with
**     the right name, type, help, unit and the same set of series labels.
**
** The model is bounded (8 families, 64 series each); commands it could not
** follow are skipped rather than sent, so every check stays exact. A family
** named like the library's own overflow counter is only grammar-checked.
**
** A violation prints what was wrong and calls __builtin_trap(), so libFuzzer
** reports it with the input. Each input gets a fresh registry, freed at the
** end, so LeakSanitizer sees anything the library forgets.
**
** INPUT FORMAT
** Commands separated by 0xFF. A command is four header bytes (op, a, b, c;
** missing ones are 0), then arguments separated by 0xFE. An argument
** "\xFD" hi lo pattern expands to pattern repeated to (hi << 8 | lo) bytes
** (times 4 when hi has its top bit set), to reach the length limits. A
** numeric argument of 8 bytes is a raw double, of 1 byte an index into a
** table of edge values (NaN, the infinities, -0, the extremes, ...), and
** otherwise text for strtod ("nan", "-1e308", "0x1p-1074").
**
**   op % 8  0 register  a: type (a % 8: counter gauge histogram info
**                       stateset, callback gauge counter unknown) and flags
**                       (no _created, unit, json_name, NULL help, generated
**                       buckets); b: label count; c: max_children. Args:
**                       name help unit json_name labels... then buckets or
**                       states.
**           1 with      a: family; args: label values   2 remove (same)
**           3 clear     4 unregister (arg: name)  5 find (arg: name)
**           6 update    inc/add/set/observe (with exemplars), stateset bits,
**                       info pairs, or a series a callback family reports
**           7 encode    check all three formats now (also done at the end)
*/
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentmon/agentmon.h"

#define MAX_FAMS 8
#define MAX_CHILDREN 64
#define MAX_PUTS 32
#define MAX_ARGS 80
#define MAX_EX 1024
#define LINE_LABELS 40
#define JSON_DEPTH 32
#define ARENA_BYTES (8u << 20)
#define SCRATCH_BYTES (1u << 20)
#define SEEN_SLOTS (1u << 16)

static const char OVERFLOW_BASE[] = "agentmon_cardinality_overflow";
static const char OVERFLOW_EXPO[] = "agentmon_cardinality_overflow_total";
static const char ERR_SENTINEL[] = "sink is NULL"; /* am_sink_put(NULL, ...) leaves it */

/* ------------------------------------------------------------------ */
/* Failing                                                             */
/* ------------------------------------------------------------------ */

static const char *g_phase = "setup";

static void fail_at(int line, const char *what, const char *ctx, size_t n)
{
    fprintf(stderr, "\nfuzz_registry.c:%d: check failed: %s\n  during: %s\n  am_errmsg: \"%s\"\n",
            line, what, g_phase, am_errmsg());
    if (ctx) {
        fprintf(stderr, "  at: \"");
        for (size_t i = 0; i < n && i < 400; i++) {
            unsigned char ch = (unsigned char)ctx[i];
            if (ch >= 0x20 && ch < 0x7F && ch != '\\')
                fputc(ch, stderr);
            else
                fprintf(stderr, "\\x%02x", ch);
        }
        fprintf(stderr, "%s\"\n", n > 400 ? "..." : "");
    }
    __builtin_trap();
}

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fail_at(__LINE__, #cond, NULL, 0);                                                     \
    } while (0)

#define CHECK_RC(rc, want)                                                                         \
    do {                                                                                           \
        if ((rc) != (want)) {                                                                      \
            fprintf(stderr, "got %s, want %s\n", am_err_name(rc), am_err_name(want));              \
            fail_at(__LINE__, #rc " == " #want, NULL, 0);                                          \
        }                                                                                          \
    } while (0)

#define CHECK_AT(cond, p, n)                                                                       \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fail_at(__LINE__, #cond, (p), (n));                                                    \
    } while (0)

/* ------------------------------------------------------------------ */
/* The model                                                           */
/* ------------------------------------------------------------------ */

enum kind {
    K_COUNTER,
    K_GAUGE,
    K_HISTOGRAM,
    K_INFO,
    K_STATESET,
    K_CB_GAUGE,
    K_CB_COUNTER,
    K_CB_UNKNOWN
};

typedef struct mex {
    const char *names[AM_MAX_LABELS];
    const char *values[AM_MAX_LABELS];
    size_t n;
    double v;
} mex;

typedef struct mchild {
    bool live;
    bool overflow; /* the family's overflow series */
    void *h;
    const char *vals[AM_MAX_LABELS];  /* label values (info: pair values) */
    const char *names[AM_MAX_LABELS]; /* info: pair names */
    size_t n_pairs;                   /* info */
    double value;                     /* gauge, callback: exact */
    bool value_known;
    long double ref, mag; /* counter total, histogram sum: exact-ish, and sum |v| */
    double lib;           /* what the library read back for them */
    uint64_t bits;        /* stateset */
    double *counts;       /* histogram: per bucket, not cumulative */
    int *ex;              /* exemplar per bucket (counter: 1), -1 none */
    unsigned seen_main, seen_created, seen_count, seen_sum, seen_bucket, seen_state, seen_json;
} mchild;

typedef struct mput {
    const char *vals[AM_MAX_LABELS + 2];
    size_t n;
    bool null_values;
    double v;
} mput;

typedef struct mfam {
    bool live;
    bool tracked; /* children modelled; else grammar checks only */
    int kind;
    am_metric_type type;
    bool is_cb;
    void *root;
    const char *base, *expo, *help, *unit, *json_key;
    const char *label_names[AM_MAX_LABELS];
    size_t n_labels;
    double bounds[AM_MAX_BUCKETS];
    size_t n_bounds;
    const char *states[AM_MAX_STATES];
    size_t n_states;
    size_t max_children;
    bool no_created;
    mchild child[MAX_CHILDREN];
    mput puts[MAX_PUTS];
    size_t n_puts;
    unsigned n_collect;
    unsigned seen_help, seen_type, seen_unit, seen_json, seen_json_unit;
} mfam;

typedef struct state {
    am_registry *r;
    mfam fam[MAX_FAMS];
    bool ovf_possible; /* the library may have registered its overflow counter */
    mex ex[MAX_EX];
    size_t n_ex;
} state;

static state S;
static double g_counts[MAX_FAMS][MAX_CHILDREN][AM_MAX_BUCKETS + 1];
static int g_exidx[MAX_FAMS][MAX_CHILDREN][AM_MAX_BUCKETS + 1];
static char g_sentinel; /* out pointers start here; a refusal must leave them */

static char g_arena[ARENA_BYTES];
static size_t g_arena_used;

static char *arena_alloc(size_t n)
{
    if (n > ARENA_BYTES - g_arena_used)
        return NULL;
    char *p = g_arena + g_arena_used;
    g_arena_used += n;
    return p;
}

static const char *arena_cat(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *p = arena_alloc(na + nb + 1);
    if (!p)
        return NULL;
    memcpy(p, a, na);
    memcpy(p + na, b, nb);
    p[na + nb] = '\0';
    return p;
}

/* Leave a known message behind, so a refusal is seen to write its own. */
static void arm(void)
{
    CHECK(am_sink_put(NULL, NULL, 0, 0) == AM_EINVAL);
    CHECK(strcmp(am_errmsg(), ERR_SENTINEL) == 0);
}

/* A refusal: a code, and a message of its own. */
static void refused(am_err rc)
{
    CHECK(rc != AM_OK);
    CHECK(am_errmsg()[0] != '\0');
    CHECK(strcmp(am_errmsg(), ERR_SENTINEL) != 0);
    CHECK(strcmp(am_err_name(rc), "AM_UNKNOWN") != 0);
}

/* ------------------------------------------------------------------ */
/* The rules, written independently of src/                            */
/* ------------------------------------------------------------------ */

/* Strict RFC 3629 by decoding: no overlongs, surrogates or > U+10FFFF. */
static bool utf8_ok(const char *str, size_t n, size_t *runes)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, r = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            r++;
            continue;
        }
        if ((c & 0xE0) == 0xC0) {
            len = 2;
            cp = c & 0x1F;
            min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3;
            cp = c & 0x0F;
            min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4;
            cp = c & 0x07;
            min = 0x10000;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
        r++;
    }
    if (runes)
        *runes = r;
    return true;
}

static bool is_alpha_(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool metric_name_ok(const char *s)
{
    if (!s[0] || (s[0] == '_' && s[1] == '_'))
        return false;
    for (const char *p = s; *p; p++)
        if (!(is_alpha_(*p) || *p == ':' || (p != s && is_digit(*p))))
            return false;
    return true;
}

static bool label_name_ok(const char *s)
{
    if (!s || !s[0] || (s[0] == '_' && s[1] == '_'))
        return false;
    for (const char *p = s; *p; p++)
        if (!(is_alpha_(*p) || (p != s && is_digit(*p))))
            return false;
    return true;
}

static bool json_name_ok(const char *s)
{
    if (!s[0])
        return false;
    for (const char *p = s; *p; p++)
        if (!(is_alpha_(*p) || *p == ':' || (p != s && (is_digit(*p) || *p == '.'))))
            return false;
    return true;
}

/* A label value or state name: at most AM_MAX_LABEL_VALUE bytes of UTF-8. */
static bool value_ok(const char *s)
{
    size_t n = strlen(s);
    return n <= AM_MAX_LABEL_VALUE && utf8_ok(s, n, NULL);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && memcmp(s + n - m, suffix, m) == 0;
}

static bool starts_with(const char *s, size_t n, const char *prefix)
{
    size_t m = strlen(prefix);
    return n >= m && memcmp(s, prefix, m) == 0;
}

static bool span_is(const char *p, size_t n, const char *s)
{
    return n == strlen(s) && memcmp(p, s, n) == 0;
}

static bool num_eq(double a, double b)
{
    return (isnan(a) && isnan(b)) || a == b;
}

static size_t escaped_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += (*s == '\\' || *s == '"' || *s == '\n') ? 2 : 1;
    return n;
}

/*
** Whether an exemplar's labels are acceptable. *over_bytes: fine by the
** documented rules (label names, UTF-8, AM_EXEMPLAR_MAX_RUNES runes) but
** longer than the library's rendered-text slot once escaped.
*/
static bool exemplar_ok(const am_labels *ex, bool *over_bytes)
{
    *over_bytes = false;
    if (!ex->names || !ex->values)
        return ex->n == 0;
    if (ex->n > AM_MAX_LABELS)
        return false;
    size_t runes = 0, bytes = 0;
    for (size_t i = 0; i < ex->n; i++) {
        if (!label_name_ok(ex->names[i]))
            return false;
        for (size_t j = 0; j < i; j++)
            if (strcmp(ex->names[i], ex->names[j]) == 0)
                return false;
        size_t r;
        if (!utf8_ok(ex->values[i], strlen(ex->values[i]), &r))
            return false;
        runes += strlen(ex->names[i]) + r;
        bytes += (i ? 1 : 0) + strlen(ex->names[i]) + 3 + escaped_len(ex->values[i]);
    }
    if (runes > AM_EXEMPLAR_MAX_RUNES)
        return false;
    *over_bytes = bytes > 256;
    return true;
}

/* ------------------------------------------------------------------ */
/* Commands                                                            */
/* ------------------------------------------------------------------ */

typedef struct cmd {
    uint8_t op, a, b, c;
    const uint8_t *raw[MAX_ARGS];
    size_t rawlen[MAX_ARGS];
    size_t n_args;
} cmd;

static void cmd_parse(const uint8_t *p, size_t n, cmd *c)
{
    uint8_t h[4] = {0, 0, 0, 0};
    for (size_t i = 0; i < 4 && i < n; i++)
        h[i] = p[i];
    c->op = h[0];
    c->a = h[1];
    c->b = h[2];
    c->c = h[3];
    c->n_args = 0;
    if (n <= 4)
        return;
    const uint8_t *s = p + 4, *end = p + n;
    while (c->n_args < MAX_ARGS) {
        const uint8_t *sep = memchr(s, 0xFE, (size_t)(end - s));
        const uint8_t *e = sep ? sep : end;
        c->raw[c->n_args] = s;
        c->rawlen[c->n_args] = (size_t)(e - s);
        c->n_args++;
        if (!sep)
            break;
        s = sep + 1;
    }
}

/* Argument i as a C string (NUL-terminated copy; repeats expanded). */
static const char *arg_str(const cmd *c, size_t i, const char *dflt)
{
    if (i >= c->n_args)
        return dflt;
    const uint8_t *r = c->raw[i];
    size_t n = c->rawlen[i];
    if (n >= 3 && r[0] == 0xFD) {
        size_t len = (r[1] & 0x80) ? (((size_t)(r[1] & 0x7F) << 8) | r[2]) * 4
                                   : (((size_t)r[1] << 8) | r[2]);
        const uint8_t *pat = r + 3;
        size_t pn = n - 3;
        if (!pn) {
            pat = (const uint8_t *)"a";
            pn = 1;
        }
        char *d = arena_alloc(len + 1);
        if (!d)
            return dflt;
        for (size_t k = 0; k < len; k++)
            d[k] = (char)pat[k % pn];
        d[len] = '\0';
        return d;
    }
    char *d = arena_alloc(n + 1);
    if (!d)
        return dflt;
    memcpy(d, r, n);
    d[n] = '\0';
    return d;
}

static const double k_values[] = {
    /* zeroes, ones, and values that need digits */
    0.0, -0.0, 1.0, -1.0, 0.5, 0.1, 2.5, 10.0, 3.0, 0.25, 0.005, 100.0, 123456.7, 999999.5, 1e-4,
    1e-5, -1e-7, 1e6, 1e15, 1e16, 1e21,
    /* the edges of double: subnormal, smallest normal, largest, 2^53 */
    1e-300, 4.9406564584124654e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
    -1.7976931348623157e308, 9007199254740992.0, 9007199254740994.0,
    /* not numbers */
    NAN, -NAN, INFINITY, -INFINITY};

static double arg_num(const cmd *c, size_t i, double dflt)
{
    if (i >= c->n_args)
        return dflt;
    if (c->rawlen[i] == 8) {
        double v;
        memcpy(&v, c->raw[i], 8);
        return v;
    }
    if (c->rawlen[i] == 1)
        return k_values[c->raw[i][0] % (sizeof k_values / sizeof k_values[0])];
    const char *s = arg_str(c, i, "0");
    return strtod(s, NULL);
}

/* Default label names l0, l1, ... for those the input leaves out. */
static const char *default_label(size_t i)
{
    char *p = arena_alloc(4);
    if (!p)
        return "l";
    p[0] = 'l';
    p[1] = (char)('a' + i / 26);
    p[2] = (char)('a' + i % 26);
    p[3] = '\0';
    return p;
}

/* ------------------------------------------------------------------ */
/* Model helpers                                                       */
/* ------------------------------------------------------------------ */

static size_t n_live(void)
{
    size_t n = 0;
    for (size_t i = 0; i < MAX_FAMS; i++)
        n += S.fam[i].live;
    return n;
}

static mfam *pick(uint8_t sel)
{
    size_t n = n_live();
    if (!n)
        return NULL;
    size_t k = sel % n;
    for (size_t i = 0; i < MAX_FAMS; i++)
        if (S.fam[i].live && k-- == 0)
            return &S.fam[i];
    return NULL;
}

static size_t fam_index(const mfam *f)
{
    return (size_t)(f - S.fam);
}

static bool labelled(const mfam *f)
{
    return f->n_labels > 0;
}

static mchild *child_new(mfam *f)
{
    for (size_t i = 0; i < MAX_CHILDREN; i++) {
        mchild *c = &f->child[i];
        if (c->live)
            continue;
        memset(c, 0, sizeof *c);
        c->live = true;
        c->value_known = true;
        c->counts = g_counts[fam_index(f)][i];
        c->ex = g_exidx[fam_index(f)][i];
        for (size_t k = 0; k <= f->n_bounds; k++) {
            c->counts[k] = 0;
            c->ex[k] = -1;
        }
        return c;
    }
    return NULL;
}

static size_t n_children(const mfam *f, bool with_overflow)
{
    size_t n = 0;
    for (size_t i = 0; i < MAX_CHILDREN; i++)
        n += f->child[i].live && (with_overflow || !f->child[i].overflow);
    return n;
}

static mchild *child_by_values(mfam *f, const char *const *vals, size_t n)
{
    for (size_t i = 0; i < MAX_CHILDREN; i++) {
        mchild *c = &f->child[i];
        if (!c->live || c->overflow)
            continue;
        size_t k = 0;
        while (k < n && strcmp(c->vals[k], vals[k]) == 0)
            k++;
        if (k == n)
            return c;
    }
    return NULL;
}

static mchild *child_by_handle(mfam *f, const void *h)
{
    for (size_t i = 0; i < MAX_CHILDREN; i++)
        if (f->child[i].live && f->child[i].h == h)
            return &f->child[i];
    return NULL;
}

/* The k-th live child, or NULL for k == count (the family root). */
static mchild *child_pick(mfam *f, uint8_t sel)
{
    size_t n = n_children(f, true);
    size_t k = sel % (n + 1);
    for (size_t i = 0; i < MAX_CHILDREN; i++)
        if (f->child[i].live && k-- == 0)
            return &f->child[i];
    return NULL;
}

/* The family registered or exposed as name, as am_registry_unregister looks. */
static mfam *fam_lookup(const char *name)
{
    for (size_t i = 0; i < MAX_FAMS; i++)
        if (S.fam[i].live && strcmp(S.fam[i].base, name) == 0)
            return &S.fam[i];
    for (size_t i = 0; i < MAX_FAMS; i++)
        if (S.fam[i].live && strcmp(S.fam[i].expo, name) == 0)
            return &S.fam[i];
    return NULL;
}

static bool overflow_name(const char *s, size_t n)
{
    return span_is(s, n, OVERFLOW_BASE) || span_is(s, n, OVERFLOW_EXPO);
}

static int add_exemplar(const am_labels *ex, double v)
{
    if (S.n_ex >= MAX_EX)
        return -2; /* unknown: not modelled */
    mex *m = &S.ex[S.n_ex];
    m->n = ex->n;
    m->v = v;
    for (size_t i = 0; i < ex->n; i++) {
        m->names[i] = ex->names[i];
        m->values[i] = ex->values[i];
    }
    return (int)S.n_ex++;
}

/* ------------------------------------------------------------------ */
/* Callback families                                                   */
/* ------------------------------------------------------------------ */

static void collect(am_sink *sink, void *ud)
{
    mfam *f = ud;
    f->n_collect++;
    for (size_t i = 0; i < MAX_CHILDREN; i++)
        f->child[i].live = false;
    for (size_t i = 0; i < f->n_puts; i++) {
        const mput *p = &f->puts[i];
        bool ok = p->n == f->n_labels && !(p->null_values && p->n > 0);
        if (f->type == AM_TYPE_COUNTER && (!(p->v >= 0) || isinf(p->v)))
            ok = false;
        for (size_t k = 0; ok && k < p->n; k++)
            ok = value_ok(p->vals[k]);
        if (ok && child_by_values(f, p->vals, p->n))
            ok = false; /* reported twice */
        arm();
        am_err rc = am_sink_put(sink, p->null_values ? NULL : p->vals, p->n, p->v);
        if (!ok) {
            refused(rc);
            CHECK(rc == AM_EINVAL);
            continue;
        }
        CHECK(rc == AM_OK);
        mchild *c = child_new(f);
        CHECK(c != NULL); /* at most MAX_PUTS < MAX_CHILDREN */
        for (size_t k = 0; k < p->n; k++)
            c->vals[k] = p->vals[k];
        c->value = p->v;
    }
}

/* ------------------------------------------------------------------ */
/* Operations                                                          */
/* ------------------------------------------------------------------ */

static void check_count(void)
{
    size_t n = am_registry_count(S.r), live = n_live();
    CHECK(n == live || (S.ovf_possible && n == live + 1));
}

static void op_register(const cmd *c)
{
    if (n_live() >= MAX_FAMS)
        return;
    int kind = c->a & 7;
    static const am_metric_type types[] = {AM_TYPE_COUNTER, AM_TYPE_GAUGE,    AM_TYPE_HISTOGRAM,
                                           AM_TYPE_INFO,    AM_TYPE_STATESET, AM_TYPE_GAUGE,
                                           AM_TYPE_COUNTER, AM_TYPE_UNKNOWN};
    am_metric_type type = types[kind];
    bool is_cb = kind >= K_CB_GAUGE;
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.name = arg_str(c, 0, "m");
    o.help = (c->a & 0x40) ? NULL : arg_str(c, 1, "h");
    o.unit = (c->a & 0x10) ? arg_str(c, 2, "") : NULL;
    o.json_name = (c->a & 0x20) ? arg_str(c, 3, "j") : NULL;
    o.flags = (c->a & 0x08) ? AM_METRIC_NO_CREATED : 0;
    o.max_children = c->c;
    size_t n_labels = c->b < 192 ? (size_t)(c->b & 3) : (size_t)(c->b - 192) % 34;
    const char *labels[AM_MAX_LABELS + 2];
    for (size_t i = 0; i < n_labels; i++) {
        labels[i] = arg_str(c, 4 + i, NULL);
        if (!labels[i])
            labels[i] = default_label(i);
    }
    o.label_names = labels;
    o.n_labels = n_labels;
    size_t rest = 4 + n_labels;
    double buckets[AM_MAX_BUCKETS + 8];
    const char *states[MAX_ARGS];
    size_t n_rest = c->n_args > rest ? c->n_args - rest : 0;
    if (type == AM_TYPE_HISTOGRAM && (c->a & 0x80)) {
        /* Generated bounds around the AM_MAX_BUCKETS limit. */
        size_t n = 500 + (c->c & 15);
        double start = arg_num(c, rest, 0.5), step = arg_num(c, rest + 1, 2.0);
        am_err rc = (c->b & 0x10) ? am_buckets_exponential(start, step, n, buckets)
                                  : am_buckets_linear(start, step, n, buckets);
        bool ok = n <= AM_MAX_BUCKETS && isfinite(start) && isfinite(step);
        ok = ok && ((c->b & 0x10) ? start > 0 && step > 1 : step > 0);
        if (!ok) {
            CHECK(rc == AM_EINVAL);
            for (size_t i = 0; i < n; i++)
                buckets[i] = (double)i;
        } else if (rc != AM_OK) {
            CHECK(rc == AM_EINVAL); /* a bound overflowed to infinity */
            for (size_t i = 0; i < n; i++)
                buckets[i] = (double)i;
        }
        o.buckets = buckets;
        o.n_buckets = n;
    } else if (type == AM_TYPE_HISTOGRAM && n_rest) {
        for (size_t i = 0; i < n_rest && i < AM_MAX_BUCKETS + 8; i++)
            buckets[i] = arg_num(c, rest + i, 0);
        o.buckets = buckets;
        o.n_buckets = n_rest < AM_MAX_BUCKETS + 8 ? n_rest : AM_MAX_BUCKETS + 8;
    }
    if (type == AM_TYPE_STATESET) {
        for (size_t i = 0; i < n_rest; i++)
            states[i] = arg_str(c, rest + i, "s");
        o.states = n_rest ? states : NULL;
        o.n_states = n_rest;
    }

    /* Predict: does the definition follow the rules? */
    const char *base = o.name;
    bool ok = metric_name_ok(o.name);
    if ((type == AM_TYPE_COUNTER && ends_with(o.name, "_total")) ||
        (type == AM_TYPE_INFO && ends_with(o.name, "_info"))) {
        size_t bl = strlen(o.name) - (type == AM_TYPE_COUNTER ? 6 : 5);
        char *b = arena_alloc(bl + 1);
        if (!b)
            return;
        memcpy(b, o.name, bl);
        b[bl] = '\0';
        base = b;
    }
    ok = ok && strlen(o.name) <= AM_MAX_NAME;
    const char *help = o.help ? o.help : "";
    ok = ok && strlen(help) <= 65536 && utf8_ok(help, strlen(help), NULL);
    if (o.unit && o.unit[0]) {
        ok = ok && type != AM_TYPE_INFO && type != AM_TYPE_STATESET;
        for (const char *p = o.unit; *p; p++)
            ok = ok && (is_alpha_(*p) || is_digit(*p));
        size_t bl = strlen(base), ul = strlen(o.unit);
        ok = ok && bl > ul + 1 && base[bl - ul - 1] == '_' && strcmp(base + bl - ul, o.unit) == 0;
    }
    if (o.json_name)
        ok = ok && json_name_ok(o.json_name) && strlen(o.json_name) <= AM_MAX_NAME;
    ok = ok && n_labels <= AM_MAX_LABELS && !(type == AM_TYPE_INFO && n_labels);
    for (size_t i = 0; ok && i < n_labels; i++) {
        ok = label_name_ok(labels[i]);
        ok = ok && !(type == AM_TYPE_HISTOGRAM && strcmp(labels[i], "le") == 0);
        ok = ok && !(type == AM_TYPE_STATESET && strcmp(labels[i], base) == 0);
        for (size_t j = 0; ok && j < i; j++)
            ok = strcmp(labels[i], labels[j]) != 0;
    }
    size_t n_bounds = 0;
    if (type == AM_TYPE_HISTOGRAM) {
        const double *b = o.buckets ? o.buckets : AM_DEFAULT_BUCKETS;
        size_t n = o.buckets ? o.n_buckets : AM_DEFAULT_BUCKETS_N;
        if (n && b[n - 1] == INFINITY)
            n--;
        ok = ok && n <= AM_MAX_BUCKETS;
        for (size_t i = 0; ok && i < n; i++)
            ok = isfinite(b[i]) && (i == 0 || b[i] > b[i - 1]);
        n_bounds = n;
    }
    if (type == AM_TYPE_STATESET) {
        /* OpenMetrics labels each state with the family's name. */
        ok = ok && label_name_ok(base);
        ok = ok && o.n_states >= 1 && o.n_states <= AM_MAX_STATES;
        for (size_t i = 0; ok && i < o.n_states; i++) {
            ok = states[i][0] && value_ok(states[i]);
            for (size_t j = 0; ok && j < i; j++)
                ok = strcmp(states[i], states[j]) != 0;
        }
    }

    void *h = &g_sentinel;
    am_err rc;
    arm();
    switch (kind) {
    case K_COUNTER: {
        am_counter *x = (am_counter *)&g_sentinel;
        rc = am_counter_new(S.r, &o, &x);
        h = x;
        break;
    }
    case K_GAUGE: {
        am_gauge *x = (am_gauge *)&g_sentinel;
        rc = am_gauge_new(S.r, &o, &x);
        h = x;
        break;
    }
    case K_HISTOGRAM: {
        am_histogram *x = (am_histogram *)&g_sentinel;
        rc = am_histogram_new(S.r, &o, &x);
        h = x;
        break;
    }
    case K_INFO: {
        am_info *x = (am_info *)&g_sentinel;
        rc = am_info_new(S.r, &o, &x);
        h = x;
        break;
    }
    case K_STATESET: {
        am_stateset *x = (am_stateset *)&g_sentinel;
        rc = am_stateset_new(S.r, &o, &x);
        h = x;
        break;
    }
    default: {
        am_callback *x = (am_callback *)&g_sentinel;
        /* The userdata is the slot the family would take; unused on failure. */
        mfam *slot = NULL;
        for (size_t i = 0; i < MAX_FAMS && !slot; i++)
            if (!S.fam[i].live)
                slot = &S.fam[i];
        rc = am_callback_new(S.r, type, &o, collect, slot, &x);
        h = x;
        break;
    }
    }
    if (rc != AM_OK) {
        refused(rc);
        CHECK(h == &g_sentinel);
        if (!ok)
            CHECK(rc == AM_EINVAL);
        else
            CHECK(rc == AM_EEXIST && (n_live() > 0 || S.ovf_possible));
        check_count();
        return;
    }
    CHECK(ok); /* accepted a definition the rules forbid */
    CHECK(h && h != &g_sentinel);
    for (size_t i = 0; i < MAX_FAMS; i++) {
        mfam *f = &S.fam[i];
        if (!f->live)
            continue;
        if (f->root == h) {
            /* The same definition again: the existing family. */
            CHECK(strcmp(f->base, base) == 0 && f->type == type && f->is_cb == is_cb);
            check_count();
            return;
        }
        CHECK(strcmp(f->base, base) != 0); /* a second family under one name */
    }
    mfam *f = NULL;
    for (size_t i = 0; i < MAX_FAMS && !f; i++)
        if (!S.fam[i].live)
            f = &S.fam[i];
    memset(f, 0, sizeof *f);
    f->live = true;
    f->tracked = strcmp(base, OVERFLOW_BASE) != 0;
    f->kind = kind;
    f->type = type;
    f->is_cb = is_cb;
    f->root = h;
    f->base = base;
    f->expo = type == AM_TYPE_COUNTER ? arena_cat(base, "_total")
              : type == AM_TYPE_INFO  ? arena_cat(base, "_info")
                                      : base;
    f->help = help;
    f->unit = o.unit && o.unit[0] ? o.unit : NULL;
    f->json_key = o.json_name ? o.json_name : f->expo;
    if (!f->expo || !f->json_key) {
        f->tracked = false;
        f->expo = f->json_key = "";
    }
    f->n_labels = n_labels;
    for (size_t i = 0; i < n_labels; i++)
        f->label_names[i] = labels[i];
    f->n_bounds = n_bounds;
    for (size_t i = 0; i < n_bounds; i++)
        f->bounds[i] = o.buckets ? o.buckets[i] : AM_DEFAULT_BUCKETS[i];
    f->n_states = type == AM_TYPE_STATESET ? o.n_states : 0;
    for (size_t i = 0; i < f->n_states; i++)
        f->states[i] = states[i];
    f->max_children = o.max_children ? o.max_children : AM_DEFAULT_MAX_CHILDREN;
    f->no_created = o.flags & AM_METRIC_NO_CREATED;
    if (!is_cb && (!labelled(f) || type == AM_TYPE_INFO)) {
        mchild *ch = child_new(f); /* the one exposed series */
        ch->h = h;
    }
    check_count();
}

/* The values a with/remove command passes; *n may differ from the labels. */
static void build_values(const cmd *c, const mfam *f, const char **vals, size_t *n)
{
    if (c->b & 1) {
        *n = c->n_args < AM_MAX_LABELS + 2 ? c->n_args : AM_MAX_LABELS + 2;
        for (size_t i = 0; i < *n; i++)
            vals[i] = arg_str(c, i, "v");
        return;
    }
    *n = f->n_labels;
    for (size_t i = 0; i < *n; i++)
        vals[i] = arg_str(c, i, "v");
}

/* Call T_with or T_remove for f's type on handle h. */
static am_err call_children(int kind, bool remove, void *h, const char *const *vals, size_t n,
                            void **out)
{
    switch (kind) {
    case K_COUNTER: {
        if (remove)
            return am_counter_remove(h, vals, n);
        am_counter *x = *out;
        am_err rc = am_counter_with(h, vals, n, &x);
        *out = x;
        return rc;
    }
    case K_GAUGE: {
        if (remove)
            return am_gauge_remove(h, vals, n);
        am_gauge *x = *out;
        am_err rc = am_gauge_with(h, vals, n, &x);
        *out = x;
        return rc;
    }
    case K_HISTOGRAM: {
        if (remove)
            return am_histogram_remove(h, vals, n);
        am_histogram *x = *out;
        am_err rc = am_histogram_with(h, vals, n, &x);
        *out = x;
        return rc;
    }
    default: {
        if (remove)
            return am_stateset_remove(h, vals, n);
        am_stateset *x = *out;
        am_err rc = am_stateset_with(h, vals, n, &x);
        *out = x;
        return rc;
    }
    }
}

static bool has_children_api(const mfam *f)
{
    return !f->is_cb && f->type != AM_TYPE_INFO;
}

static void op_children(const cmd *c, bool remove)
{
    mfam *f = pick(c->a);
    if (!f || !has_children_api(f) || !f->tracked)
        return;
    const char *vals[AM_MAX_LABELS + 2];
    size_t n;
    build_values(c, f, vals, &n);
    bool null_values = (c->b & 4) && n > 0;
    void *h = f->root;
    int kind = f->kind;
    bool misuse = false;
    if (c->b & 2) {
        mchild *ch = labelled(f) ? child_pick(f, c->c) : NULL;
        if (ch) {
            h = ch->h;
            misuse = true;
        }
    }
    if (c->b & 8) {
        /* The function of another type on this handle: also a misuse. */
        static const int other[] = {K_GAUGE, K_HISTOGRAM, K_STATESET, 0, K_COUNTER};
        kind = other[f->kind];
        misuse = true;
    }
    mchild *existing = NULL;
    bool expect_new = false;
    am_err want;
    if (misuse) {
        want = AM_EMISUSE;
    } else if (null_values || n != f->n_labels) {
        want = AM_EINVAL;
    } else if (n == 0) {
        want = remove ? AM_EINVAL : AM_OK;
    } else if ((existing = child_by_values(f, vals, n))) {
        want = AM_OK;
    } else if (remove) {
        want = AM_ENOTFOUND;
    } else {
        /* "__overflow__" is reserved for the overflow series. */
        bool valid = true;
        for (size_t i = 0; i < n; i++)
            valid = valid && value_ok(vals[i]) && strcmp(vals[i], "__overflow__") != 0;
        if (!valid) {
            want = AM_EINVAL;
        } else if (n_children(f, false) >= f->max_children) {
            want = AM_ELIMIT;
            existing = NULL;
            for (size_t i = 0; i < MAX_CHILDREN && !existing; i++)
                if (f->child[i].live && f->child[i].overflow)
                    existing = &f->child[i];
            expect_new = !existing;
        } else {
            want = AM_OK;
            expect_new = true;
        }
    }
    if (expect_new && n_children(f, true) >= MAX_CHILDREN)
        return; /* the model is full; keep it complete rather than call */
    void *out = &g_sentinel;
    arm();
    am_err rc = call_children(kind, remove, h, null_values ? NULL : vals, n, &out);
    CHECK_RC(rc, want);
    if (rc != AM_OK)
        refused(rc);
    if (rc != AM_OK && rc != AM_ELIMIT) {
        CHECK(out == &g_sentinel);
        return;
    }
    if (rc == AM_ELIMIT)
        S.ovf_possible = true;
    if (remove) {
        existing->live = false;
        return;
    }
    CHECK(out && out != &g_sentinel);
    if (n == 0) {
        CHECK(out == f->root);
        return;
    }
    if (existing) {
        CHECK(out == existing->h);
        return;
    }
    /* A new series: a handle no other series has. */
    CHECK(out != f->root && !child_by_handle(f, out));
    mchild *ch = child_new(f);
    ch->h = out;
    ch->overflow = rc == AM_ELIMIT;
    for (size_t i = 0; i < n; i++)
        ch->vals[i] = ch->overflow ? "__overflow__" : vals[i];
}

static void op_clear(const cmd *c)
{
    mfam *f = pick(c->a);
    if (!f || !has_children_api(f) || !f->tracked)
        return;
    switch (f->kind) {
    case K_COUNTER:
        am_counter_clear(f->root);
        break;
    case K_GAUGE:
        am_gauge_clear(f->root);
        break;
    case K_HISTOGRAM:
        am_histogram_clear(f->root);
        break;
    default:
        am_stateset_clear(f->root);
        break;
    }
    if (labelled(f))
        for (size_t i = 0; i < MAX_CHILDREN; i++)
            f->child[i].live = false;
}

static void op_unregister(const cmd *c)
{
    const char *name = (c->b & 1) ? NULL : arg_str(c, 0, "m");
    mfam *f = name ? fam_lookup(name) : NULL;
    arm();
    am_err rc = am_registry_unregister(S.r, name);
    if (!name) {
        refused(rc);
        CHECK(rc == AM_EINVAL);
    } else if (f) {
        CHECK(rc == AM_OK);
        f->live = false;
    } else if (!overflow_name(name, strlen(name))) {
        refused(rc);
        CHECK(rc == AM_ENOTFOUND);
    }
    check_count();
}

static void op_find(const cmd *c)
{
    const char *name = arg_str(c, 0, "m");
    mfam *f = fam_lookup(name);
    int kind = c->a % 3;
    static const am_metric_type types[] = {AM_TYPE_COUNTER, AM_TYPE_GAUGE, AM_TYPE_HISTOGRAM};
    void *out = &g_sentinel;
    am_err rc;
    arm();
    if (kind == 0) {
        am_counter *x = out;
        rc = am_counter_find(S.r, name, &x);
        out = x;
    } else if (kind == 1) {
        am_gauge *x = out;
        rc = am_gauge_find(S.r, name, &x);
        out = x;
    } else {
        am_histogram *x = out;
        rc = am_histogram_find(S.r, name, &x);
        out = x;
    }
    if (rc != AM_OK) {
        refused(rc);
        CHECK(out == &g_sentinel);
    }
    if (!f) {
        if (!overflow_name(name, strlen(name)))
            CHECK(rc == AM_ENOTFOUND);
    } else if (f->type == types[kind] && !f->is_cb) {
        CHECK(rc == AM_OK && out == f->root);
    } else {
        CHECK(rc == AM_EINVAL);
    }
}

/* Exemplar labels from arguments first.. as name, value pairs. */
static void build_pairs(const cmd *c, size_t first, const char **names, const char **values,
                        am_labels *l)
{
    size_t n = c->n_args > first ? (c->n_args - first + 1) / 2 : 0;
    if (n > AM_MAX_LABELS + 1)
        n = AM_MAX_LABELS + 1;
    for (size_t i = 0; i < n; i++) {
        names[i] = arg_str(c, first + 2 * i, "k");
        values[i] = arg_str(c, first + 2 * i + 1, "");
    }
    l->names = names;
    l->values = values;
    l->n = n;
    if ((c->b & 0x40) && n) {
        l->names = NULL; /* a misuse: pairs without names */
    }
}

static void check_value(double got, double want)
{
    if (!num_eq(got, want)) {
        fprintf(stderr, "value %.17g, want %.17g\n", got, want);
        CHECK(num_eq(got, want));
    }
}

/*
** A counter's total and a histogram's sum are sums of doubles whose order and
** grouping the API leaves open (a counter keeps whole and fractional adds
** apart): they must be within rounding of the exact sum, and then come out
** of every encoder exactly as the getter read them.
*/
static void check_close(mchild *ch, double got)
{
    double ref = (double)ch->ref;
    bool ok;
    if (!isfinite(ref) || !isfinite(got))
        ok = num_eq(got, ref) || ch->mag > 1e300L;
    else
        ok = fabsl((long double)got - ch->ref) <= ch->mag * 1e-9L + 1e-300L;
    if (!ok) {
        fprintf(stderr, "value %.17g, want about %.17Lg\n", got, ch->ref);
        CHECK(ok);
    }
    ch->lib = got;
}

static void check_counter(mchild *ch, void *h)
{
    if (ch)
        check_close(ch, am_counter_value(h));
}

static void check_histogram(const mfam *f, mchild *ch, void *h)
{
    if (!ch)
        return;
    static uint64_t b[AM_MAX_BUCKETS + 1];
    uint64_t count = 0;
    double sum = 0;
    am_histogram_read(h, &count, &sum, b);
    CHECK(am_histogram_n_buckets(h) == f->n_bounds);
    double acc = 0;
    for (size_t i = 0; i <= f->n_bounds; i++) {
        acc += ch->counts[i];
        CHECK((double)b[i] == acc);
    }
    CHECK((double)count == acc);
    check_close(ch, sum);
}

static size_t bucket_of(const mfam *f, double v)
{
    for (size_t i = 0; i < f->n_bounds; i++)
        if (v <= f->bounds[i])
            return i;
    return f->n_bounds; /* +Inf, and NaN */
}

static void op_update(const cmd *c)
{
    mfam *f = pick(c->a);
    if (!f || !f->tracked)
        return;
    if (f->is_cb) {
        if (f->n_puts >= MAX_PUTS)
            return;
        mput *p = &f->puts[f->n_puts++];
        p->v = arg_num(c, 0, 1.0);
        p->n = (c->b & 1) ? (c->n_args ? c->n_args - 1 : 0) : f->n_labels;
        if (p->n > AM_MAX_LABELS + 1)
            p->n = AM_MAX_LABELS + 1;
        for (size_t i = 0; i < p->n; i++)
            p->vals[i] = arg_str(c, 1 + i, "v");
        p->null_values = (c->b & 2) && p->n > 0;
        return;
    }
    if (f->type == AM_TYPE_INFO) {
        const char *names[AM_MAX_LABELS + 1], *values[AM_MAX_LABELS + 1];
        am_labels l;
        build_pairs(c, 0, names, values, &l);
        bool ok = !(c->b & 4) && (l.names || !l.n) && l.n <= AM_MAX_LABELS;
        for (size_t i = 0; ok && i < l.n; i++) {
            ok = label_name_ok(names[i]) && value_ok(values[i]);
            for (size_t j = 0; ok && j < i; j++)
                ok = strcmp(names[i], names[j]) != 0;
        }
        arm();
        am_err rc = am_info_set(f->root, (c->b & 4) ? NULL : &l);
        if (!ok) {
            refused(rc);
            CHECK(rc == AM_EINVAL);
            return;
        }
        CHECK(rc == AM_OK);
        mchild *ch = &f->child[0];
        ch->n_pairs = l.n;
        for (size_t i = 0; i < l.n; i++) {
            ch->names[i] = names[i];
            ch->vals[i] = values[i];
        }
        return;
    }
    /* A series: a listed child, or the root (of a labelled family: not exposed). */
    mchild *ch = labelled(f) ? child_pick(f, c->c) : &f->child[0];
    void *h = ch ? ch->h : f->root;
    double v = arg_num(c, 0, 1.0);
    const char *names[AM_MAX_LABELS + 1], *values[AM_MAX_LABELS + 1];
    am_labels ex;
    bool over_bytes;
    switch (f->type) {
    case AM_TYPE_COUNTER: {
        unsigned sub = c->b % 3;
        bool v_ok = v >= 0 && !isinf(v);
        if (sub == 0) {
            am_counter_inc(h);
            if (ch) {
                ch->ref += 1.0L;
                ch->mag += 1.0L;
            }
        } else if (sub == 1) {
            arm();
            am_err rc = am_counter_add(h, v);
            if (!v_ok) {
                refused(rc);
                CHECK(rc == AM_EINVAL);
            } else {
                CHECK(rc == AM_OK);
                if (ch) {
                    ch->ref += v;
                    ch->mag += v;
                }
            }
        } else {
            build_pairs(c, 1, names, values, &ex);
            bool ex_ok = exemplar_ok(&ex, &over_bytes);
            arm();
            am_err rc = am_counter_add_exemplar(h, v, &ex);
            if (v_ok && ch) {
                ch->ref += v;
                ch->mag += v;
            }
            if (!v_ok || !ex_ok) {
                refused(rc);
                CHECK(rc == AM_EINVAL || rc == AM_ELIMIT);
            } else if (over_bytes && rc == AM_ELIMIT) {
                refused(rc); /* within AM_EXEMPLAR_MAX_RUNES, but over the 256-byte slot */
            } else {
                CHECK(rc == AM_OK);
                if (ch)
                    ch->ex[0] = add_exemplar(&ex, v);
            }
        }
        check_counter(ch, h);
        break;
    }
    case AM_TYPE_GAUGE: {
        unsigned sub = c->b % 5;
        if (sub == 0) {
            am_gauge_set(h, v);
            if (ch)
                ch->value = v;
        } else if (sub == 1) {
            am_gauge_add(h, v);
            if (ch)
                ch->value += v;
        } else if (sub == 2) {
            am_gauge_inc(h);
            if (ch)
                ch->value += 1.0;
        } else if (sub == 3) {
            am_gauge_dec(h);
            if (ch)
                ch->value -= 1.0;
        } else {
            am_gauge_set_to_now(h);
            if (ch)
                ch->value_known = false;
        }
        if (ch && ch->value_known)
            check_value(am_gauge_value(h), ch->value);
        break;
    }
    case AM_TYPE_HISTOGRAM: {
        size_t k = bucket_of(f, v);
        if (c->b & 1) {
            build_pairs(c, 1, names, values, &ex);
            bool ex_ok = exemplar_ok(&ex, &over_bytes);
            arm();
            am_err rc = am_histogram_observe_exemplar(h, v, &ex);
            if (!ex_ok) {
                refused(rc);
                CHECK(rc == AM_EINVAL || rc == AM_ELIMIT);
            } else if (over_bytes && rc == AM_ELIMIT) {
                refused(rc);
            } else {
                CHECK(rc == AM_OK);
                if (ch)
                    ch->ex[k] = add_exemplar(&ex, v);
            }
        } else {
            am_histogram_observe(h, v);
        }
        if (ch) {
            ch->counts[k] += 1;
            ch->ref += v;
            ch->mag += fabsl((long double)v);
        }
        check_histogram(f, ch, h);
        break;
    }
    default: { /* stateset */
        size_t idx = 0;
        if (c->n_args && c->rawlen[0]) {
            uint8_t x = c->raw[0][0];
            idx = x < 128 ? x % (f->n_states + 2) : x;
        }
        unsigned sub = c->b % 3;
        if (sub < 2) {
            arm();
            am_err rc =
                sub == 0 ? am_stateset_set(h, idx, (c->b & 8) != 0) : am_stateset_select(h, idx);
            if (idx >= f->n_states) {
                refused(rc);
                CHECK(rc == AM_EINVAL);
            } else {
                CHECK(rc == AM_OK);
                if (ch && sub == 0)
                    ch->bits = (c->b & 8) ? ch->bits | (1ULL << idx) : ch->bits & ~(1ULL << idx);
                else if (ch)
                    ch->bits = 1ULL << idx;
            }
        }
        if (ch)
            for (size_t i = 0; i <= f->n_states; i++)
                CHECK(am_stateset_get(h, i) == (i < f->n_states && ((ch->bits >> i) & 1)));
        break;
    }
    }
}

/* ------------------------------------------------------------------ */
/* Output checks: shared                                               */
/* ------------------------------------------------------------------ */

static uint64_t g_seen_hash[SEEN_SLOTS];
static uint32_t g_seen_gen[SEEN_SLOTS];
static uint32_t g_gen;
static size_t g_seen_n;

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static uint64_t hash_mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h | 1; /* never 0 */
}

static void seen_reset(void)
{
    g_gen++;
    g_seen_n = 0;
}

/* Insert h; false if already there. Past half full, nothing is checked. */
static bool seen_add(uint64_t h)
{
    if (g_seen_n >= SEEN_SLOTS / 2)
        return true;
    h = hash_mix(h);
    for (size_t i = (size_t)h & (SEEN_SLOTS - 1);; i = (i + 1) & (SEEN_SLOTS - 1)) {
        if (g_seen_gen[i] != g_gen) {
            g_seen_gen[i] = g_gen;
            g_seen_hash[i] = h;
            g_seen_n++;
            return true;
        }
        if (g_seen_hash[i] == h)
            return false;
    }
}

static char g_scratch[SCRATCH_BYTES];
static size_t g_scratch_used;

static void reset_tallies(void)
{
    for (size_t i = 0; i < MAX_FAMS; i++) {
        mfam *f = &S.fam[i];
        f->seen_help = f->seen_type = f->seen_unit = f->seen_json = f->seen_json_unit = 0;
        for (size_t k = 0; k < MAX_CHILDREN; k++) {
            mchild *c = &f->child[k];
            c->seen_main = c->seen_created = c->seen_count = c->seen_sum = 0;
            c->seen_bucket = c->seen_state = c->seen_json = 0;
        }
    }
}

/* ------------------------------------------------------------------ */
/* Output checks: Prometheus text and OpenMetrics                      */
/* ------------------------------------------------------------------ */

typedef struct span {
    const char *p;
    size_t n;
} span;

typedef struct lparse {
    const char *p, *end; /* the rest of the line */
    const char *line;
    size_t line_len;
} lparse;

#define LCHECK(L, cond) CHECK_AT(cond, (L)->line, (L)->line_len)

static bool span_eq_str(span s, const char *str)
{
    return span_is(s.p, s.n, str);
}

static span parse_metric_name(lparse *L)
{
    span s = {L->p, 0};
    while (L->p < L->end && (is_alpha_(*L->p) || *L->p == ':' || (L->p != s.p && is_digit(*L->p))))
        L->p++;
    s.n = (size_t)(L->p - s.p);
    LCHECK(L, s.n > 0);
    return s;
}

static span parse_label_name(lparse *L)
{
    span s = {L->p, 0};
    while (L->p < L->end && (is_alpha_(*L->p) || (L->p != s.p && is_digit(*L->p))))
        L->p++;
    s.n = (size_t)(L->p - s.p);
    LCHECK(L, s.n > 0);
    LCHECK(L, !(s.p[0] == '_' && s.n > 1 && s.p[1] == '_')); /* reserved, never emitted */
    return s;
}

static void expect(lparse *L, char ch)
{
    LCHECK(L, L->p < L->end && *L->p == ch);
    L->p++;
}

/* "escaped" up to the closing quote; unescaped into the scratch buffer. */
static span parse_label_value(lparse *L)
{
    expect(L, '"');
    span out = {g_scratch + g_scratch_used, 0};
    for (;;) {
        LCHECK(L, L->p < L->end); /* unterminated: a raw newline inside */
        char ch = *L->p++;
        if (ch == '"')
            break;
        if (ch == '\\') {
            LCHECK(L, L->p < L->end);
            char e = *L->p++;
            LCHECK(L, e == '\\' || e == '"' || e == 'n');
            ch = e == 'n' ? '\n' : e;
        }
        CHECK(g_scratch_used < SCRATCH_BYTES);
        g_scratch[g_scratch_used++] = ch;
        out.n++;
    }
    return out;
}

typedef struct labelset {
    size_t n;
    span name[LINE_LABELS];
    span value[LINE_LABELS];
    span raw; /* "{...}" as written, or empty */
} labelset;

/* [ "{" label ("," label)* "}" ]; allow_empty: "{}" is fine (exemplars). */
static void parse_labels(lparse *L, labelset *ls, bool required)
{
    ls->n = 0;
    ls->raw.p = L->p;
    ls->raw.n = 0;
    if (L->p >= L->end || *L->p != '{') {
        LCHECK(L, !required);
        return;
    }
    L->p++;
    if (L->p < L->end && *L->p == '}') {
        L->p++;
        ls->raw.n = (size_t)(L->p - ls->raw.p);
        return;
    }
    for (;;) {
        LCHECK(L, ls->n < LINE_LABELS);
        span name = parse_label_name(L);
        for (size_t i = 0; i < ls->n; i++)
            LCHECK(L, !(ls->name[i].n == name.n && memcmp(ls->name[i].p, name.p, name.n) == 0));
        expect(L, '=');
        ls->name[ls->n] = name;
        ls->value[ls->n] = parse_label_value(L);
        ls->n++;
        LCHECK(L, L->p < L->end);
        if (*L->p == '}')
            break;
        expect(L, ',');
    }
    L->p++;
    ls->raw.n = (size_t)(L->p - ls->raw.p);
}

/* A number as both formats write one; returns its value. */
static double parse_number(lparse *L)
{
    const char *s = L->p;
    while (L->p < L->end && *L->p != ' ')
        L->p++;
    size_t n = (size_t)(L->p - s);
    LCHECK(L, n > 0 && n < 64);
    if (span_is(s, n, "NaN"))
        return NAN;
    if (span_is(s, n, "+Inf"))
        return INFINITY;
    if (span_is(s, n, "-Inf"))
        return -INFINITY;
    size_t i = 0, digits = 0;
    if (s[i] == '-' || s[i] == '+')
        i++;
    while (i < n && is_digit(s[i])) {
        i++;
        digits++;
    }
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && is_digit(s[i])) {
            i++;
            digits++;
        }
    }
    LCHECK(L, digits > 0);
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t ed = 0;
        while (i < n && is_digit(s[i])) {
            i++;
            ed++;
        }
        LCHECK(L, ed > 0);
    }
    LCHECK(L, i == n);
    char tmp[64];
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    return strtod(tmp, NULL);
}

/* HELP text: escapes \\ \n (and \" in OpenMetrics), nothing else raw-quoted in OM. */
static span parse_help(lparse *L, bool om)
{
    span out = {g_scratch + g_scratch_used, 0};
    while (L->p < L->end) {
        char ch = *L->p++;
        if (ch == '\\') {
            LCHECK(L, L->p < L->end);
            char e = *L->p++;
            LCHECK(L, e == '\\' || e == 'n' || (om && e == '"'));
            ch = e == 'n' ? '\n' : e;
        } else {
            LCHECK(L, !(om && ch == '"'));
        }
        CHECK(g_scratch_used < SCRATCH_BYTES);
        g_scratch[g_scratch_used++] = ch;
        out.n++;
    }
    return out;
}

enum skind { S_MAIN, S_TOTAL, S_CREATED, S_BUCKET, S_COUNT, S_SUM, S_INFO };

typedef struct tstate {
    bool om;
    span fam;  /* current family name as written */
    span type; /* its type word */
    int phase; /* 0 none, 1 after HELP, 2 after TYPE, 3 after UNIT or a sample */
    mfam *mf;  /* the model's family, NULL when untracked */
} tstate;

static mfam *fam_by_text_name(span name, bool om)
{
    for (size_t i = 0; i < MAX_FAMS; i++) {
        mfam *f = &S.fam[i];
        if (f->live && span_eq_str(name, om ? f->base : f->expo))
            return f;
    }
    return NULL;
}

static const char *type_word(const mfam *f, bool om)
{
    switch (f->type) {
    case AM_TYPE_COUNTER:
        return "counter";
    case AM_TYPE_GAUGE:
        return "gauge";
    case AM_TYPE_HISTOGRAM:
        return "histogram";
    case AM_TYPE_INFO:
        return om ? "info" : "gauge";
    case AM_TYPE_STATESET:
        return om ? "stateset" : "gauge";
    default:
        return om ? "unknown" : "untyped";
    }
}

/* Which sample of family fam (of type t) is sample name s; -1: none. */
static int classify(span fam, span t, span s, bool om)
{
    static const struct {
        const char *type, *suffix;
        bool om, prom;
        int kind;
    } rules[] = {
        {"counter", "", false, true, S_TOTAL},
        {"counter", "_total", true, false, S_TOTAL},
        {"counter", "_created", true, false, S_CREATED},
        {"gauge", "", true, true, S_MAIN},
        {"untyped", "", false, true, S_MAIN},
        {"unknown", "", true, false, S_MAIN},
        {"stateset", "", true, false, S_MAIN},
        {"info", "_info", true, false, S_INFO},
        {"histogram", "_bucket", true, true, S_BUCKET},
        {"histogram", "_count", true, true, S_COUNT},
        {"histogram", "_sum", true, true, S_SUM},
        {"histogram", "_created", true, false, S_CREATED},
    };
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        if (!span_eq_str(t, rules[i].type) || !(om ? rules[i].om : rules[i].prom))
            continue;
        size_t sl = strlen(rules[i].suffix);
        if (s.n == fam.n + sl && memcmp(s.p, fam.p, fam.n) == 0 &&
            memcmp(s.p + fam.n, rules[i].suffix, sl) == 0)
            return rules[i].kind;
    }
    return -1;
}

/* The model child whose own labels are ls[0..n_own); checks the names too. */
static mchild *match_child(lparse *L, mfam *f, const labelset *ls, size_t n_own)
{
    for (size_t i = 0; i < MAX_CHILDREN; i++) {
        mchild *c = &f->child[i];
        if (!c->live)
            continue;
        size_t own = f->type == AM_TYPE_INFO ? c->n_pairs : f->n_labels;
        if (own != n_own)
            continue;
        size_t k = 0;
        for (; k < own; k++) {
            const char *name = f->type == AM_TYPE_INFO ? c->names[k] : f->label_names[k];
            if (!span_eq_str(ls->name[k], name) || !span_eq_str(ls->value[k], c->vals[k]))
                break;
        }
        if (k == own)
            return c;
    }
    LCHECK(L, !"a series the model does not have");
    return NULL;
}

static void check_exemplar(lparse *L, const labelset *ex, double v, int idx)
{
    LCHECK(L, idx != -1); /* an exemplar nobody recorded */
    if (idx < 0)
        return; /* not modelled */
    const mex *m = &S.ex[idx];
    LCHECK(L, ex->n == m->n);
    for (size_t i = 0; i < m->n; i++) {
        LCHECK(L, span_eq_str(ex->name[i], m->names[i]));
        LCHECK(L, span_eq_str(ex->value[i], m->values[i]));
    }
    LCHECK(L, num_eq(v, m->v));
}

static void sample_line(lparse *L, tstate *T)
{
    LCHECK(L, T->phase >= 2);
    T->phase = 3;
    span name = parse_metric_name(L);
    labelset ls;
    parse_labels(L, &ls, false);
    expect(L, ' ');
    double v = parse_number(L);
    bool has_ex = false;
    labelset ex;
    double exv = 0;
    if (T->om && L->p < L->end) {
        LCHECK(L, L->end - L->p >= 4 && memcmp(L->p, " # {", 4) == 0);
        L->p += 3;
        parse_labels(L, &ex, true);
        size_t runes = 0;
        for (size_t i = 0; i < ex.n; i++) {
            size_t r = 0;
            LCHECK(L, utf8_ok(ex.value[i].p, ex.value[i].n, &r));
            runes += ex.name[i].n + r;
        }
        LCHECK(L, runes <= AM_EXEMPLAR_MAX_RUNES);
        expect(L, ' ');
        exv = parse_number(L);
        if (L->p < L->end) {
            expect(L, ' ');
            double ts = parse_number(L);
            LCHECK(L, isfinite(ts));
        }
        has_ex = true;
    }
    LCHECK(L, L->p == L->end);
    int kind = classify(T->fam, T->type, name, T->om);
    LCHECK(L, kind >= 0); /* a sample of another family */
    LCHECK(L, !has_ex || kind == S_TOTAL || kind == S_BUCKET);
    LCHECK(L, seen_add(hash_bytes(hash_bytes(0xcbf29ce484222325ULL, name.p, name.n), ls.raw.p,
                                  ls.raw.n))); /* the same series twice */
    /* Synthetic labels: le on buckets, the family's own name on statesets. */
    size_t n_own = ls.n;
    if (kind == S_BUCKET) {
        LCHECK(L, ls.n > 0 && span_eq_str(ls.name[ls.n - 1], "le"));
        n_own--;
    }
    bool stateset = span_eq_str(T->type, "stateset") || (T->mf && T->mf->type == AM_TYPE_STATESET);
    if (stateset) {
        LCHECK(L, ls.n > 0 && ls.name[ls.n - 1].n == T->fam.n &&
                      memcmp(ls.name[ls.n - 1].p, T->fam.p, T->fam.n) == 0);
        n_own--;
    }
    if (kind == S_CREATED)
        LCHECK(L, isfinite(v) && v >= 0);
    mfam *f = T->mf;
    if (!f || !f->tracked)
        return;
    mchild *c = match_child(L, f, &ls, n_own);
    if (!c)
        return;
    int ex_idx = -1;
    switch (kind) {
    case S_TOTAL:
        c->seen_main++;
        LCHECK(L, num_eq(v, f->is_cb ? c->value : c->lib));
        ex_idx = c->ex ? c->ex[0] : -1;
        if (has_ex)
            check_exemplar(L, &ex, exv, ex_idx);
        else
            LCHECK(L, !T->om || f->is_cb || ex_idx == -1);
        break;
    case S_CREATED:
        c->seen_created++;
        break;
    case S_MAIN:
    case S_INFO:
        if (f->type == AM_TYPE_STATESET) {
            size_t k = c->seen_state++;
            LCHECK(L, k < f->n_states);
            LCHECK(L, span_eq_str(ls.value[ls.n - 1], f->states[k]));
            LCHECK(L, v == (double)((c->bits >> k) & 1));
        } else {
            c->seen_main++;
            if (f->type == AM_TYPE_INFO)
                LCHECK(L, v == 1);
            else if (c->value_known)
                LCHECK(L, num_eq(v, c->value));
        }
        break;
    case S_BUCKET: {
        size_t k = c->seen_bucket++;
        LCHECK(L, k <= f->n_bounds);
        span le = ls.value[ls.n - 1];
        if (k == f->n_bounds) {
            LCHECK(L, span_eq_str(le, "+Inf"));
        } else {
            lparse LL = {le.p, le.p + le.n, L->line, L->line_len};
            LCHECK(L, parse_number(&LL) == f->bounds[k] && LL.p == LL.end);
        }
        double acc = 0;
        for (size_t i = 0; i <= k; i++)
            acc += c->counts[i];
        LCHECK(L, v == acc);
        if (has_ex)
            check_exemplar(L, &ex, exv, c->ex[k]);
        else
            LCHECK(L, !T->om || c->ex[k] == -1);
        break;
    }
    case S_COUNT: {
        c->seen_count++;
        double acc = 0;
        for (size_t i = 0; i <= f->n_bounds; i++)
            acc += c->counts[i];
        LCHECK(L, v == acc);
        break;
    }
    default:
        c->seen_sum++;
        LCHECK(L, num_eq(v, c->lib));
        break;
    }
}

static void end_text_family(const tstate *T, const char *line, size_t n)
{
    /* A family that stopped after its HELP line. */
    CHECK_AT(T->phase != 1, line, n);
}

static void check_text(const char *out, size_t len, bool om)
{
    g_phase = om ? "checking OpenMetrics output" : "checking Prometheus output";
    CHECK_AT(len == 0 || out[len - 1] == '\n', out, len);
    size_t body = len;
    if (om) {
        CHECK_AT(len >= 6 && memcmp(out + len - 6, "# EOF\n", 6) == 0, out, len);
        body = len - 6;
    }
    seen_reset();
    reset_tallies();
    tstate T = {om, {NULL, 0}, {NULL, 0}, 0, NULL};
    const char *p = out, *end = out + body;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        CHECK_AT(nl != NULL, p, (size_t)(end - p));
        lparse L = {p, nl, p, (size_t)(nl - p)};
        g_scratch_used = 0;
        p = nl + 1;
        LCHECK(&L, L.line_len > 0);
        if (starts_with(L.line, L.line_len, "# HELP ")) {
            end_text_family(&T, L.line, L.line_len);
            L.p += 7;
            T.fam = parse_metric_name(&L);
            expect(&L, ' ');
            span help = parse_help(&L, om);
            /* One family per name, and never the name of another's samples. */
            LCHECK(&L, seen_add(hash_bytes(0x46ULL, T.fam.p, T.fam.n)));
            T.mf = fam_by_text_name(T.fam, om);
            T.phase = 1;
            if (T.mf) {
                T.mf->seen_help++;
                LCHECK(&L, span_eq_str(help, T.mf->help) || !T.mf->tracked);
            } else {
                /* Only the library's own overflow counter is not the model's. */
                LCHECK(&L, S.ovf_possible && overflow_name(T.fam.p, T.fam.n));
            }
        } else if (starts_with(L.line, L.line_len, "# TYPE ")) {
            LCHECK(&L, T.phase == 1);
            L.p += 7;
            span name = parse_metric_name(&L);
            LCHECK(&L, name.n == T.fam.n && memcmp(name.p, T.fam.p, name.n) == 0);
            expect(&L, ' ');
            T.type.p = L.p;
            T.type.n = (size_t)(L.end - L.p);
            L.p = L.end;
            static const char *const prom_types[] = {"counter", "gauge", "histogram", "untyped"};
            static const char *const om_types[] = {"counter", "gauge",    "histogram",
                                                   "info",    "stateset", "unknown"};
            bool known = false;
            for (size_t i = 0; i < (om ? 6u : 4u); i++)
                known = known || span_eq_str(T.type, om ? om_types[i] : prom_types[i]);
            LCHECK(&L, known);
            if (T.mf) {
                T.mf->seen_type++;
                LCHECK(&L, span_eq_str(T.type, type_word(T.mf, om)));
            }
            T.phase = 2;
        } else if (om && starts_with(L.line, L.line_len, "# UNIT ")) {
            LCHECK(&L, T.phase == 2);
            L.p += 7;
            span name = parse_metric_name(&L);
            LCHECK(&L, name.n == T.fam.n && memcmp(name.p, T.fam.p, name.n) == 0);
            expect(&L, ' ');
            span unit = {L.p, (size_t)(L.end - L.p)};
            LCHECK(&L, unit.n > 0);
            for (size_t i = 0; i < unit.n; i++)
                LCHECK(&L, is_alpha_(unit.p[i]) || is_digit(unit.p[i]));
            /* The family name ends in _<unit>. */
            LCHECK(&L, name.n > unit.n + 1 && name.p[name.n - unit.n - 1] == '_' &&
                           memcmp(name.p + name.n - unit.n, unit.p, unit.n) == 0);
            if (T.mf) {
                T.mf->seen_unit++;
                LCHECK(&L, T.mf->unit && span_eq_str(unit, T.mf->unit));
            }
            T.phase = 3;
        } else {
            LCHECK(&L, L.line[0] != '#'); /* no other comments; "# EOF" only last */
            sample_line(&L, &T);
        }
    }
    end_text_family(&T, out, len);

    /* Everything the model has came out, once. */
    for (size_t i = 0; i < MAX_FAMS; i++) {
        mfam *f = &S.fam[i];
        if (!f->live)
            continue;
        CHECK(f->seen_help == 1 && f->seen_type == 1);
        CHECK(f->seen_unit == (om && f->unit ? 1u : 0u));
        if (!f->tracked)
            continue;
        for (size_t k = 0; k < MAX_CHILDREN; k++) {
            mchild *c = &f->child[k];
            if (!c->live)
                continue;
            g_phase = om ? "OpenMetrics: tallies of a series" : "Prometheus: tallies of a series";
            switch (f->type) {
            case AM_TYPE_COUNTER:
                CHECK(c->seen_main == 1);
                CHECK(c->seen_created == (om && !f->no_created && !f->is_cb ? 1u : 0u));
                break;
            case AM_TYPE_HISTOGRAM:
                CHECK(c->seen_bucket == f->n_bounds + 1);
                /* OpenMetrics forbids a negative or NaN _sum, and any _sum with a
                   negative bound: such a histogram leaves _count and _sum out. */
                CHECK(c->seen_count ==
                      (!om || (c->lib >= 0 && (!f->n_bounds || f->bounds[0] >= 0)) ? 1u : 0u));
                CHECK(c->seen_sum == c->seen_count);
                CHECK(c->seen_created == (om && !f->no_created ? 1u : 0u));
                break;
            case AM_TYPE_STATESET:
                CHECK(c->seen_state == f->n_states);
                break;
            default:
                CHECK(c->seen_main == 1);
                break;
            }
        }
    }
}

/* ------------------------------------------------------------------ */
/* Output checks: JSON                                                 */
/* ------------------------------------------------------------------ */

enum jpath {
    J_ROOT,    /* {"timestamp":...,"metrics":{...}} */
    J_METRICS, /* json key -> family */
    J_FAMILY,  /* {"name","type","help","unit","series"} */
    J_NAME,
    J_TYPE,
    J_HELP,
    J_UNIT,
    J_SERIES, /* [series...] */
    J_ITEM,   /* {"labels":{...},"value"...} */
    J_LABELS, /* name -> value */
    J_LABEL_VALUE,
    J_OTHER
};

typedef struct jparse {
    const char *p, *end;
    uint64_t n_objects;
    mfam *fam;   /* the family whose object is being read; NULL: the overflow counter */
    labelset ls; /* the labels object being read */
} jparse;

#define JCHECK(J, cond) CHECK_AT(cond, (J)->p, (size_t)((J)->end - (J)->p))

static void j_ws(jparse *J)
{
    while (J->p < J->end && (*J->p == ' ' || *J->p == '\t' || *J->p == '\n' || *J->p == '\r'))
        J->p++;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static uint32_t j_hex4(jparse *J)
{
    JCHECK(J, J->end - J->p >= 4);
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(J->p[i]);
        JCHECK(J, h >= 0);
        v = (v << 4) | (uint32_t)h;
    }
    J->p += 4;
    return v;
}

static void put_utf8(uint32_t cp)
{
    CHECK(g_scratch_used + 4 <= SCRATCH_BYTES);
    char *o = g_scratch + g_scratch_used;
    if (cp < 0x80) {
        o[0] = (char)cp;
        g_scratch_used += 1;
    } else if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        g_scratch_used += 2;
    } else if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        g_scratch_used += 3;
    } else {
        o[0] = (char)(0xF0 | (cp >> 18));
        o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[3] = (char)(0x80 | (cp & 0x3F));
        g_scratch_used += 4;
    }
}

/* A string, decoded into the scratch buffer (reset by the caller). */
static span j_string(jparse *J)
{
    JCHECK(J, J->p < J->end && *J->p == '"');
    J->p++;
    span out = {g_scratch + g_scratch_used, 0};
    size_t mark = g_scratch_used;
    for (;;) {
        JCHECK(J, J->p < J->end);
        unsigned char ch = (unsigned char)*J->p++;
        if (ch == '"')
            break;
        JCHECK(J, ch >= 0x20); /* control characters must be escaped */
        if (ch != '\\') {
            CHECK(g_scratch_used < SCRATCH_BYTES);
            g_scratch[g_scratch_used++] = (char)ch;
            continue;
        }
        JCHECK(J, J->p < J->end);
        char e = *J->p++;
        uint32_t cp;
        switch (e) {
        case '"':
        case '\\':
        case '/':
            cp = (uint32_t)e;
            break;
        case 'b':
            cp = '\b';
            break;
        case 'f':
            cp = '\f';
            break;
        case 'n':
            cp = '\n';
            break;
        case 'r':
            cp = '\r';
            break;
        case 't':
            cp = '\t';
            break;
        case 'u':
            cp = j_hex4(J);
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                JCHECK(J, J->end - J->p >= 2 && J->p[0] == '\\' && J->p[1] == 'u');
                J->p += 2;
                uint32_t lo = j_hex4(J);
                JCHECK(J, lo >= 0xDC00 && lo <= 0xDFFF);
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else {
                JCHECK(J, !(cp >= 0xDC00 && cp <= 0xDFFF)); /* a lone low surrogate */
            }
            break;
        default:
            JCHECK(J, !"an unknown escape");
            cp = 0;
        }
        put_utf8(cp);
    }
    out.n = g_scratch_used - mark;
    return out;
}

static void j_number(jparse *J)
{
    const char *s = J->p;
    if (J->p < J->end && *J->p == '-')
        J->p++;
    JCHECK(J, J->p < J->end && is_digit(*J->p));
    if (*J->p == '0') {
        J->p++;
    } else {
        while (J->p < J->end && is_digit(*J->p))
            J->p++;
    }
    if (J->p < J->end && *J->p == '.') {
        J->p++;
        JCHECK(J, J->p < J->end && is_digit(*J->p));
        while (J->p < J->end && is_digit(*J->p))
            J->p++;
    }
    if (J->p < J->end && (*J->p == 'e' || *J->p == 'E')) {
        J->p++;
        if (J->p < J->end && (*J->p == '+' || *J->p == '-'))
            J->p++;
        JCHECK(J, J->p < J->end && is_digit(*J->p));
        while (J->p < J->end && is_digit(*J->p))
            J->p++;
    }
    JCHECK(J, J->p > s);
}

static mfam *fam_by_json_key(span key)
{
    for (size_t i = 0; i < MAX_FAMS; i++)
        if (S.fam[i].live && span_eq_str(key, S.fam[i].json_key))
            return &S.fam[i];
    return NULL;
}

/* A series' labels object read: the model must have that series. */
static void j_series_labels(jparse *J, const char *at)
{
    mfam *f = J->fam;
    const labelset *ls = &J->ls;
    if (!f || !f->tracked)
        return;
    for (size_t i = 0; i < MAX_CHILDREN; i++) {
        mchild *c = &f->child[i];
        size_t own = f->type == AM_TYPE_INFO ? c->n_pairs : f->n_labels;
        if (!c->live || own != ls->n)
            continue;
        size_t k = 0;
        for (; k < own; k++) {
            const char *name = f->type == AM_TYPE_INFO ? c->names[k] : f->label_names[k];
            size_t j = 0;
            while (j < ls->n && !span_eq_str(ls->name[j], name))
                j++;
            if (j == ls->n || !span_eq_str(ls->value[j], c->vals[k]))
                break;
        }
        if (k == own) {
            c->seen_json++;
            return;
        }
    }
    CHECK_AT(!"a JSON series the model does not have", at, (size_t)(J->p - at));
}

static void j_value(jparse *J, int depth, enum jpath path);

static void j_object(jparse *J, int depth, enum jpath path)
{
    const char *at = J->p;
    J->p++; /* { */
    uint64_t serial = ++J->n_objects;
    bool has_ts = false, has_metrics = false;
    size_t labels_mark = g_scratch_used;
    J->ls.n = path == J_LABELS ? 0 : J->ls.n;
    j_ws(J);
    if (J->p < J->end && *J->p == '}') {
        J->p++;
        JCHECK(J, path != J_ROOT);
        if (path == J_LABELS)
            j_series_labels(J, at);
        return;
    }
    for (;;) {
        j_ws(J);
        size_t mark = g_scratch_used;
        span key = j_string(J);
        JCHECK(J, seen_add(hash_bytes(serial * 0x9E3779B97F4A7C15ULL, key.p, key.n)));
        enum jpath child = J_OTHER;
        if (path == J_ROOT) {
            if (span_eq_str(key, "timestamp")) {
                has_ts = true;
            } else {
                JCHECK(J, span_eq_str(key, "metrics"));
                has_metrics = true;
                child = J_METRICS;
            }
        } else if (path == J_METRICS) {
            J->fam = fam_by_json_key(key);
            if (J->fam)
                J->fam->seen_json++;
            else /* a key that is no family's json_name or exposed name */
                CHECK_AT(S.ovf_possible && span_eq_str(key, OVERFLOW_EXPO), key.p, key.n);
            child = J_FAMILY;
        } else if (path == J_FAMILY) {
            child = span_eq_str(key, "name")     ? J_NAME
                    : span_eq_str(key, "type")   ? J_TYPE
                    : span_eq_str(key, "help")   ? J_HELP
                    : span_eq_str(key, "unit")   ? J_UNIT
                    : span_eq_str(key, "series") ? J_SERIES
                                                 : J_OTHER;
        } else if (path == J_ITEM && span_eq_str(key, "labels")) {
            child = J_LABELS;
        } else if (path == J_LABELS) {
            JCHECK(J, J->ls.n < LINE_LABELS);
            J->ls.name[J->ls.n] = key; /* kept in the scratch until the object ends */
            child = J_LABEL_VALUE;
        }
        if (path != J_LABELS)
            g_scratch_used = mark;
        j_ws(J);
        JCHECK(J, J->p < J->end && *J->p == ':');
        J->p++;
        j_value(J, depth + 1, child);
        j_ws(J);
        JCHECK(J, J->p < J->end && (*J->p == ',' || *J->p == '}'));
        bool last = *J->p == '}';
        J->p++;
        if (last)
            break;
    }
    if (path == J_ROOT)
        JCHECK(J, has_ts && has_metrics);
    if (path == J_LABELS) {
        j_series_labels(J, at);
        g_scratch_used = labels_mark;
    }
}

static void j_value(jparse *J, int depth, enum jpath path)
{
    JCHECK(J, depth <= JSON_DEPTH);
    j_ws(J);
    JCHECK(J, J->p < J->end);
    char ch = *J->p;
    if (path == J_ROOT || path == J_METRICS || path == J_FAMILY || path == J_ITEM ||
        path == J_LABELS)
        JCHECK(J, ch == '{');
    if (path == J_SERIES)
        JCHECK(J, ch == '[');
    if (ch == '{') {
        j_object(J, depth, path);
    } else if (ch == '[') {
        J->p++;
        j_ws(J);
        if (J->p < J->end && *J->p == ']') {
            J->p++;
            return;
        }
        for (;;) {
            j_value(J, depth + 1, path == J_SERIES ? J_ITEM : J_OTHER);
            j_ws(J);
            JCHECK(J, J->p < J->end && (*J->p == ',' || *J->p == ']'));
            bool last = *J->p == ']';
            J->p++;
            if (last)
                break;
        }
    } else if (ch == '"') {
        size_t mark = g_scratch_used;
        const char *at = J->p;
        span s = j_string(J);
        mfam *f = J->fam;
        size_t n = (size_t)(J->p - at);
        if (f && f->tracked) {
            if (path == J_NAME)
                CHECK_AT(span_eq_str(s, f->expo), at, n);
            else if (path == J_TYPE)
                CHECK_AT(span_eq_str(s, type_word(f, true)), at, n);
            else if (path == J_HELP)
                CHECK_AT(span_eq_str(s, f->help), at, n);
            else if (path == J_UNIT)
                CHECK_AT(f->unit && span_eq_str(s, f->unit), at, n);
            if (path == J_UNIT)
                f->seen_json_unit++;
        }
        if (path == J_LABEL_VALUE)
            J->ls.value[J->ls.n++] = s; /* kept in the scratch until the object ends */
        else
            g_scratch_used = mark;
    } else if (ch == 't' || ch == 'f' || ch == 'n') {
        const char *lit = ch == 't' ? "true" : ch == 'f' ? "false" : "null";
        size_t n = strlen(lit);
        JCHECK(J, (size_t)(J->end - J->p) >= n && memcmp(J->p, lit, n) == 0);
        J->p += n;
    } else {
        j_number(J);
    }
    JCHECK(J, !((path >= J_NAME && path <= J_UNIT) || path == J_LABEL_VALUE) || ch == '"');
}

static void check_json(const char *out, size_t len)
{
    g_phase = "checking JSON output";
    seen_reset();
    reset_tallies();
    g_scratch_used = 0;
    static jparse J;
    J.p = out;
    J.end = out + len;
    J.n_objects = 0;
    J.fam = NULL;
    J.ls.n = 0;
    j_value(&J, 1, J_ROOT);
    j_ws(&J);
    JCHECK(&J, J.p == J.end);
    for (size_t i = 0; i < MAX_FAMS; i++) {
        mfam *f = &S.fam[i];
        if (!f->live)
            continue;
        CHECK(f->seen_json == 1);
        if (!f->tracked)
            continue;
        CHECK(f->seen_json_unit == (f->unit ? 1u : 0u));
        for (size_t k = 0; k < MAX_CHILDREN; k++)
            CHECK(!f->child[k].live || f->child[k].seen_json == 1);
    }
}

/* ------------------------------------------------------------------ */
/* Encoding                                                            */
/* ------------------------------------------------------------------ */

static void encode_check(void)
{
    static const am_format formats[] = {AM_FORMAT_PROMETHEUS, AM_FORMAT_OPENMETRICS,
                                        AM_FORMAT_JSON};
    for (size_t k = 0; k < 3; k++) {
        g_phase = "encoding";
        for (size_t i = 0; i < MAX_FAMS; i++)
            S.fam[i].n_collect = 0;
        char *out = &g_sentinel;
        size_t len = 0;
        arm();
        am_err rc = am_registry_encode(S.r, formats[k], &out, &len);
        CHECK(rc == AM_OK);
        CHECK(out && out != &g_sentinel);
        CHECK(out[len] == '\0' && strlen(out) == len);
        for (size_t i = 0; i < MAX_FAMS; i++)
            if (S.fam[i].live && S.fam[i].is_cb)
                CHECK(S.fam[i].n_collect == 1);
        g_phase = "checking UTF-8";
        CHECK_AT(utf8_ok(out, len, NULL), out, len);
        if (formats[k] == AM_FORMAT_JSON)
            check_json(out, len);
        else
            check_text(out, len, formats[k] == AM_FORMAT_OPENMETRICS);
        am_free(out);
    }
}

/* ------------------------------------------------------------------ */
/* Entry points                                                        */
/* ------------------------------------------------------------------ */

static void noop_collect(am_sink *sink, void *ud)
{
    (void)sink;
    (void)ud;
}

/* Misuses with fixed arguments: refused with a code and a message. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    am_registry *r;
    CHECK(am_registry_new(&r) == AM_OK);
    am_metric_opts o = AM_METRIC_OPTS_INIT;
    o.name = "x";
    char *out = &g_sentinel;
    arm();
    refused(am_registry_encode(r, (am_format)99, &out, NULL));
    CHECK(out == &g_sentinel);
    am_callback *cb = (am_callback *)&g_sentinel;
    arm();
    refused(am_callback_new(r, AM_TYPE_HISTOGRAM, &o, noop_collect, NULL, &cb));
    arm();
    refused(am_callback_new(r, AM_TYPE_GAUGE, &o, NULL, NULL, &cb));
    CHECK(cb == (am_callback *)&g_sentinel);
    am_counter *c = (am_counter *)&g_sentinel;
    arm();
    refused(am_counter_new(r, NULL, &c));
    arm();
    refused(am_counter_new(r, &o, NULL));
    CHECK(c == (am_counter *)&g_sentinel);
    arm();
    refused(am_registry_unregister(r, NULL));
    am_registry_free(r);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_arena_used = 0;
    for (size_t i = 0; i < MAX_FAMS; i++)
        S.fam[i].live = false;
    S.ovf_possible = false;
    S.n_ex = 0;
    g_phase = "setup";
    CHECK(am_registry_new(&S.r) == AM_OK);

    const uint8_t *p = data, *end = data + size;
    size_t n_cmds = 0;
    static cmd c;
    while (p < end && n_cmds < 512) {
        const uint8_t *sep = memchr(p, 0xFF, (size_t)(end - p));
        const uint8_t *e = sep ? sep : end;
        cmd_parse(p, (size_t)(e - p), &c);
        n_cmds++;
        switch (c.op % 8) {
        case 0:
            g_phase = "register";
            op_register(&c);
            break;
        case 1:
            g_phase = "with";
            op_children(&c, false);
            break;
        case 2:
            g_phase = "remove";
            op_children(&c, true);
            break;
        case 3:
            g_phase = "clear";
            op_clear(&c);
            break;
        case 4:
            g_phase = "unregister";
            op_unregister(&c);
            break;
        case 5:
            g_phase = "find";
            op_find(&c);
            break;
        case 6:
            g_phase = "update";
            op_update(&c);
            break;
        default:
            encode_check();
            break;
        }
        p = sep ? sep + 1 : end;
    }
    encode_check();
    am_registry_free(S.r);
    S.r = NULL;
    return 0;
}
