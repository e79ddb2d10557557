/*
** gen_exposition.c: a randomized registry, its three expositions, and the
** ground truth they must agree with -- the C half of the interop test.
**
**     gen_exposition SEED OUTDIR
**     gen_exposition --process OUTDIR
**
** The first writes OUTDIR/out.prom (Prometheus text 0.0.4), OUTDIR/out.om
** (OpenMetrics 1.0), OUTDIR/out.json (the JSON snapshot) and
** OUTDIR/truth.json. interop.sh feeds the first three to parsers nobody here
** wrote (promtool, prometheus_client's two parsers, Python's json) and
** check_parsers.py compares what they read with truth.json. The second
** writes the process_* metrics as process.prom/.om/.json, to be parsed only
** (their values come from /proc).
**
** WHY A MODEL
** truth.json is written from this program's own model of what it asked the
** library to do -- every inc, set, observe and exemplar is applied to a plain
** C struct as well -- never from the library's encoders or getters. If an
** encoder drops a series, mangles an escape or prints a number that does not
** read back as the same double, the parsed output and the model disagree.
**
** WHAT IS RANDOM (all drawn from one splitmix64 stream, so a seed is a
** reproduction): the families (counters, gauges, histograms with default,
** custom, linear and exponential buckets, info, stateset, callback gauges,
** counters and unknowns), their names, help texts, units, dotted json_name
** aliases, 0..4 label names, label values built from awkward UTF-8 atoms
** (quotes, backslashes, newlines, control characters, "é", "日本", emoji,
** empty strings, a few near the 4096-byte limit), gauge values (NaN, both
** infinities, 1e300, 5e-324, -0, integers above 2^53, random bit patterns),
** exemplars with trace_id/span_id, child limits that overflow (and a user's
** own "__overflow__" label values), removals, clears, unregistration, a
** second registry encoded with am_encode() on some seeds, and calls the
** library must refuse (which must answer with the documented code).
**
** TIME is made deterministic through the library's test seam am__time_hook
** (src/core/hooks.h): every _created and exemplar timestamp is a whole number
** of milliseconds the model knows, so it can be compared exactly.
**
** truth.json holds the seed, the JSON snapshot's timestamp and, per family
** in exposition order (by name; am_encode() merges the two registries, a
** name in both with one definition being one family with the series of
** each, and with two definitions the first registry's family alone):
**   name, type, help, unit, json_key, expo, callback,
**   prom_samples: [[sample name, {labels}, value], ...]
**   om_samples:   [[sample name, {labels}, value, exemplar|null], ...]
**   series:       what the JSON snapshot must hold for each series
** Values are JSON numbers written with 17 significant digits, or the strings
** "NaN", "+Inf", "-Inf"; an le label is written as such a number too (the
** checker compares it numerically); exemplars are {labels, value, ts_ms}.
**
** The program exits 1 with a message naming the seed when the library
** answers a call differently from what its header promises.
*/
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentmon/agentmon.h"
#include "core/hooks.h"

#define MAXL 4      /* label names per family */
#define MAXB 64     /* histogram bounds */
#define MAXS 8      /* stateset states */
#define MAXEX 3     /* exemplar labels */
#define EX_TEXT 256 /* AM_EXEMPLAR_TEXT in src/core/exemplar.h */

static unsigned long long g_seed;
static int g_errors;

/* Registries: 0 is the default one (passed as NULL), 1 exists on some
   seeds, and then the expositions come from am_encode() over both. */
static am_registry *g_reg1;
static bool g_two_regs;

/* ------------------------------------------------------------------ */
/* Failure, allocation                                                 */
/* ------------------------------------------------------------------ */

static void die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "gen_exposition: seed %llu: ", g_seed);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

/* A library call answered differently from its contract: note it, go on. */
static void wrong(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "gen_exposition: seed %llu: LIBRARY: ", g_seed);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    g_errors++;
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        die("out of memory");
    return p;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = xcalloc(1, n);
    memcpy(p, s, n);
    return p;
}

#define EXPECT(call, code)                                                                         \
    do {                                                                                           \
        am_err rc_ = (call);                                                                       \
        if (rc_ != (code))                                                                         \
            wrong("%s returned %s, expected %s (%s)", #call, am_err_name(rc_), am_err_name(code),  \
                  am_errmsg());                                                                    \
    } while (0)

/* ------------------------------------------------------------------ */
/* Randomness: splitmix64                                              */
/* ------------------------------------------------------------------ */

static uint64_t g_rng;

static uint64_t rnd(void)
{
    uint64_t z = (g_rng += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static size_t rn(size_t n)
{
    return n ? (size_t)(rnd() % n) : 0;
}

static bool chance(unsigned pct)
{
    return rn(100) < pct;
}

/* ------------------------------------------------------------------ */
/* Time: the model's clock, which the library reads through the hook   */
/* ------------------------------------------------------------------ */

static int64_t g_now_ms;

static double now_s(void)
{
    return (double)g_now_ms / 1000.0;
}

static double hook_time(void)
{
    return now_s();
}

static void tick(void)
{
    g_now_ms += 1 + (int64_t)rn(5000);
}

/* ------------------------------------------------------------------ */
/* Text: names, label values, help                                     */
/* ------------------------------------------------------------------ */

/* Pieces of label values and help: everything an escaper can get wrong. */
/* clang-format off */
static const char *const ATOMS[] = {
    "a", "b", "z", "Q", "0", "7", "_", "-", ".", ":", "/", " ", "  ", "'",
    "\"", "\\", "\n", "\\n", "\\\"", "{", "}", ",", "=", "#", " # ", "\t", "\r",
    "\xc3\xa9",                     /* é */
    "\xc3\x9f",                     /* ß */
    "\xe6\x97\xa5\xe6\x9c\xac",     /* 日本 */
    "\xe8\xaa\x9e",                 /* 語 */
    "\xf0\x9f\x9a\x80",             /* rocket */
    "\xf0\x9f\x98\x80",             /* grinning face */
    "\xc2\x85",                     /* NEL */
    "\xe2\x80\xa8",                 /* LINE SEPARATOR */
    "\xc2\xa0",                     /* NO-BREAK SPACE */
    "\xef\xbb\xbf",                 /* BOM */
    "\x7f", "\x01", "\x1b",
    "le=\"1\"", "\"}", " 1 2", "NaN", "+Inf", "# EOF", "x_total",
};
/* clang-format on */
#define N_ATOMS (sizeof ATOMS / sizeof ATOMS[0])

/* Exemplar label values: the same, minus "}" -- prometheus_client 0.16's
   OpenMetrics parser ends an exemplar's label set at the first "}" even
   inside a quoted value (`# {a="x}y"} 1 1` is rejected): a limitation of
   that parser, not of our output. */
static const char *const EX_ATOMS[] = {
    "a",
    "Z",
    "0",
    "9",
    "-",
    ".",
    " ",
    "\"",
    "\\",
    "\n",
    "=",
    ",",
    "#",
    "{",
    "\xc3\xa9",
    "\xe6\x97\xa5\xe6\x9c\xac",
    "\xf0\x9f\x9a\x80",
    "\t",
};
#define N_EX_ATOMS (sizeof EX_ATOMS / sizeof EX_ATOMS[0])

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static void sb_add(sbuf *b, const char *s)
{
    size_t n = strlen(s);
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *p = realloc(b->p, cap);
        if (!p)
            die("out of memory");
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n + 1);
    b->len += n;
}

static char *sb_take(sbuf *b)
{
    if (!b->p)
        return xstrdup("");
    return b->p;
}

/* A random UTF-8 string of about n atoms, at most max_bytes long. */
static char *rand_text(size_t n, size_t max_bytes, const char *const *atoms, size_t n_atoms)
{
    sbuf b = {0};
    sb_add(&b, "");
    for (size_t i = 0; i < n; i++) {
        const char *a = atoms[rn(n_atoms)];
        if (b.len + strlen(a) > max_bytes)
            break;
        sb_add(&b, a);
    }
    return sb_take(&b);
}

static char *rand_label_value(void)
{
    unsigned r = (unsigned)rn(100);
    if (r < 12)
        return xstrdup("");
    if (r < 14)
        return rand_text(2000, 4096, ATOMS, N_ATOMS); /* near AM_MAX_LABEL_VALUE */
    if (r < 30) {
        char tmp[32];
        snprintf(tmp, sizeof tmp, "agent-%u", (unsigned)rn(1000));
        return xstrdup(tmp);
    }
    return rand_text(1 + rn(10), 4096, ATOMS, N_ATOMS);
}

/* Byte strings that are not UTF-8 (RFC 3629): stray continuation, 0xFF,
   overlong "/", a surrogate, above U+10FFFF, a truncated sequence. */
static const char *const BAD_UTF8[] = {
    "\x80", "ok\xff", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe6\x97",
};
#define N_BAD_UTF8 (sizeof BAD_UTF8 / sizeof BAD_UTF8[0])

/* Our own strict UTF-8 check, written from RFC 3629's table. */
static bool utf8_ok(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    while (*s) {
        unsigned c = *s, need, min;
        if (c < 0x80) {
            s++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
            min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            min = 0x10000;
        } else {
            return false;
        }
        uint32_t cp = c & (0x3Fu >> need);
        for (unsigned i = 1; i <= need; i++) {
            if ((s[i] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i] & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        s += need + 1;
    }
    return true;
}

/* Help text: starts and ends with a letter (the Prometheus-text parser of
   prometheus_client strips whitespace at both ends of a line), with every
   atom in between. */
static char *rand_help(void)
{
    sbuf b = {0};
    sb_add(&b, chance(50) ? "Help" : "Z");
    char *mid = rand_text(rn(14), 600, ATOMS, N_ATOMS);
    sb_add(&b, mid);
    free(mid);
    sb_add(&b, chance(50) ? "." : "x");
    return sb_take(&b);
}

static const char *const WORDS[] = {
    "queue",   "depth",    "task",  "message", "retry", "token",   "planner", "worker",  "dispatch",
    "latency", "inflight", "error", "cache",   "lease", "request", "payload", "backlog", "agent",
    "hop",     "lag",      "Prio",  "TOKENS",  "llm",   "a2a",     "dlq",     "breaker", "coord",
};
#define N_WORDS (sizeof WORDS / sizeof WORDS[0])

static const char *const UNITS[] = {
    "seconds", "bytes", "ratio",   "celsius", "joules",  "meters",
    "volts",   "grams", "amperes", "kelvin",  "percent", "items",
};
#define N_UNITS (sizeof UNITS / sizeof UNITS[0])

static const char *const LABEL_NAMES[] = {
    "agent", "priority", "status",     "region",  "op",   "kind", "shard",
    "model", "provider", "error_type", "_reason", "Zone", "x1",   "path",
};
#define N_LABEL_NAMES (sizeof LABEL_NAMES / sizeof LABEL_NAMES[0])

/* ------------------------------------------------------------------ */
/* Values                                                              */
/* ------------------------------------------------------------------ */

static double rand_bits_double(void)
{
    for (;;) {
        uint64_t u = rnd();
        double d;
        memcpy(&d, &u, sizeof d);
        if (isfinite(d))
            return d;
    }
}

/* Any double, weighted towards the ones formatters get wrong. */
static double rand_gauge_value(void)
{
    static const double special[] = {
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.1,
        -2.5,
        1e300,
        -1e300,
        5e-324,
        -5e-324,
        2.2250738585072014e-308,
        1.7976931348623157e308,
        -1.7976931348623157e308,
        1234567.0,
        1e6,
        999999.0,
        9007199254740992.0,
        9007199254740994.0,
        18446744073709551616.0,
        123456789012345678.0,
        1e21,
        1e22,
        1.0 / 3.0,
        2.0 / 3.0,
        0.30000000000000004,
        1e-5,
        1e-4,
        0.0001234,
        123456.789,
        999999.9999,
        100000.5,
        0.5,
        4.35,
        1e15,
        1e16,
        1e17,
    };
    unsigned r = (unsigned)rn(100);
    if (r < 5)
        return NAN;
    if (r < 9)
        return INFINITY;
    if (r < 13)
        return -INFINITY;
    if (r < 50)
        return special[rn(sizeof special / sizeof special[0])];
    if (r < 65)
        return rand_bits_double();
    if (r < 80)
        return (double)((int64_t)rn(2000000000000ULL) - 1000000000000LL);
    return ((double)rn(1000000) / 1000.0 - 500.0) * pow(10.0, (double)((int)rn(40) - 20));
}

/*
** Counter deltas. A counter's total must not depend on the order in which
** its deltas are added up: the library may keep whole and fractional parts,
** or threads, apart and add them when read, and each grouping rounds
** differently. So a series gets either exact deltas -- whole numbers and
** multiples of 1/8, a few dozen of them at most, so every partial sum in any
** order is an exact double -- or exactly one arbitrary delta (0 + v is v
** however it is grouped), which is how 1e300, 5e-324 and 0.1 are covered.
*/
static double exact_counter_delta(void)
{
    static const double special[] = {0.0,   1.0, 2.0, 3.0,       42.0,       0.25,    0.5,
                                     0.125, 2.5, 1e6, 1234567.0, 999999.875, 4096.375};
    if (chance(60))
        return special[rn(sizeof special / sizeof special[0])];
    return (double)rn(10000000) + (double)rn(8) / 8.0;
}

/* Any finite value >= 0 that a counter may add (see exact_counter_delta). */
static double rand_counter_delta(void)
{
    static const double special[] = {
        0.0,
        1.0,
        0.1,
        0.25,
        2.5,
        1e6,
        1234567.0,
        1e-9,
        5e-324,
        1e300,
        0.30000000000000004,
        3.0,
        42.0,
        1e15,
        9007199254740992.0,
    };
    unsigned r = (unsigned)rn(100);
    if (r < 60)
        return special[rn(sizeof special / sizeof special[0])];
    if (r < 80)
        return (double)rn(10000000);
    return fabs(rand_bits_double()) * 1e-290; /* tiny fractions of every shape */
}

/* ------------------------------------------------------------------ */
/* The model                                                           */
/* ------------------------------------------------------------------ */

typedef struct ex_t {
    bool set;
    size_t n;
    char *names[MAXEX];
    char *values[MAXEX];
    double value;
    int64_t ts_ms;
} ex_t;

typedef struct ser_t {
    char *vals[MAXL];
    void *h; /* the library's handle of this series */
    bool removed;
    bool overflow; /* the family's "__overflow__" series */
    int64_t created_ms;
    double value;            /* counter, gauge, callback */
    double counts[MAXB + 1]; /* histogram, per bucket, not cumulative */
    double sum;
    ex_t *ex;        /* counter: 1, histogram: n_bounds + 1 */
    uint64_t bits;   /* stateset */
    unsigned n_adds; /* counter: increments so far */
    bool wild;       /* counter: its one add was an arbitrary value */
} ser_t;

typedef struct fam_t {
    am_metric_type type;
    size_t reg; /* 0: the default registry, 1: g_reg1 */
    bool callback;
    bool dropped;       /* unregistered: must not be exposed */
    char base[128];     /* the family name, without _total / _info */
    char reg_name[160]; /* what was passed as o.name */
    char *help;
    const char *unit;
    char json_name[192];
    size_t n_labels;
    const char *label_names[MAXL];
    size_t n_bounds;
    double bounds[MAXB];
    bool default_buckets;
    size_t n_states;
    char *states[MAXS];
    unsigned flags;
    size_t max_children;
    void *root;
    ser_t *ser;
    size_t n_ser, cap_ser;
    size_t n_pairs; /* info */
    const char *pair_names[MAXL];
    char *pair_values[MAXL];
} fam_t;

#define MAX_FAMS 64

/* Fixed storage: family pointers stay valid while the model grows. */
static fam_t g_fams[MAX_FAMS];
static size_t g_n_fams;

static fam_t *fam_add(void)
{
    if (g_n_fams == MAX_FAMS)
        die("more than %d families", MAX_FAMS);
    fam_t *f = &g_fams[g_n_fams++];
    memset(f, 0, sizeof *f);
    f->reg = g_two_regs && chance(50) ? 1 : 0;
    return f;
}

static ser_t *ser_add(fam_t *f)
{
    if (f->n_ser == f->cap_ser) {
        f->cap_ser = f->cap_ser ? f->cap_ser * 2 : 8;
        ser_t *v = realloc(f->ser, f->cap_ser * sizeof *v);
        if (!v)
            die("out of memory");
        f->ser = v;
    }
    ser_t *s = &f->ser[f->n_ser++];
    memset(s, 0, sizeof *s);
    s->created_ms = g_now_ms;
    return s;
}

static size_t n_ex_slots(const fam_t *f)
{
    return f->type == AM_TYPE_HISTOGRAM ? f->n_bounds + 1 : 1;
}

static bool vals_equal(const fam_t *f, const ser_t *s, const char *const *v)
{
    for (size_t i = 0; i < f->n_labels; i++)
        if (strcmp(s->vals[i], v[i]) != 0)
            return false;
    return true;
}

static size_t live_children(const fam_t *f)
{
    size_t n = 0;
    for (size_t i = 0; i < f->n_ser; i++)
        if (!f->ser[i].removed && !f->ser[i].overflow)
            n++;
    return n;
}

static am_registry *reg_of(const fam_t *f)
{
    return f->reg ? g_reg1 : NULL;
}

static bool is_self(const fam_t *f)
{
    return strcmp(f->base, "agentmon_cardinality_overflow") == 0;
}

/* The overflow counter the library registers in registry reg on first use. */
static fam_t *self_family(size_t reg)
{
    for (size_t i = 0; i < g_n_fams; i++)
        if (is_self(&g_fams[i]) && g_fams[i].reg == reg)
            return &g_fams[i];
    fam_t *f = fam_add();
    f->type = AM_TYPE_COUNTER;
    f->reg = reg;
    snprintf(f->base, sizeof f->base, "agentmon_cardinality_overflow");
    f->help = xstrdup("Label sets sent to a family's overflow series because it reached its "
                      "child limit.");
    f->n_labels = 1;
    f->label_names[0] = "metric";
    return f;
}

/* The library counts each call that lands in a family's overflow series. */
static void count_overflow(const fam_t *of)
{
    fam_t *f = self_family(of->reg);
    const char *v[1] = {of->base};
    for (size_t i = 0; i < f->n_ser; i++) {
        if (vals_equal(f, &f->ser[i], v)) {
            f->ser[i].value += 1.0;
            return;
        }
    }
    ser_t *s = ser_add(f);
    s->vals[0] = xstrdup(of->base);
    s->value = 1.0;
}

/* ------------------------------------------------------------------ */
/* Children                                                            */
/* ------------------------------------------------------------------ */

static am_err lib_with(fam_t *f, const char *const *v, void **out)
{
    switch (f->type) {
    case AM_TYPE_COUNTER:
        return am_counter_with(f->root, v, f->n_labels, (am_counter **)out);
    case AM_TYPE_GAUGE:
        return am_gauge_with(f->root, v, f->n_labels, (am_gauge **)out);
    case AM_TYPE_HISTOGRAM:
        return am_histogram_with(f->root, v, f->n_labels, (am_histogram **)out);
    case AM_TYPE_STATESET:
        return am_stateset_with(f->root, v, f->n_labels, (am_stateset **)out);
    default:
        die("lib_with on type %d", (int)f->type);
    }
    return AM_EINVAL;
}

/* Resolve label values in the library and in the model; the series or NULL. */
static ser_t *child(fam_t *f, char **vals)
{
    const char *v[MAXL];
    for (size_t i = 0; i < f->n_labels; i++)
        v[i] = vals[i];
    tick();
    void *h = NULL;
    am_err rc = lib_with(f, v, &h);

    bool refused = false; /* too long, not UTF-8, or the reserved "__overflow__" */
    for (size_t i = 0; i < f->n_labels; i++)
        if (strlen(v[i]) > AM_MAX_LABEL_VALUE || !utf8_ok(v[i]) ||
            strcmp(v[i], "__overflow__") == 0)
            refused = true;
    ser_t *found = NULL;
    for (size_t i = 0; i < f->n_ser && !found; i++)
        if (!f->ser[i].removed && !f->ser[i].overflow && vals_equal(f, &f->ser[i], v))
            found = &f->ser[i];

    if (found) {
        if (rc != AM_OK || h != found->h)
            wrong("%s: looking up an existing child returned %s", f->base, am_err_name(rc));
        return found;
    }
    if (refused) {
        if (rc != AM_EINVAL)
            wrong("%s: a label value over %d bytes, not UTF-8 or reserved returned %s, expected "
                  "AM_EINVAL",
                  f->base, AM_MAX_LABEL_VALUE, am_err_name(rc));
        return NULL;
    }
    if (f->max_children && live_children(f) >= f->max_children) {
        if (rc != AM_ELIMIT) {
            wrong("%s: child %zu over a limit of %zu returned %s, expected AM_ELIMIT", f->base,
                  live_children(f) + 1, f->max_children, am_err_name(rc));
            return NULL;
        }
        count_overflow(f);
        for (size_t i = 0; i < f->n_ser; i++) {
            ser_t *s = &f->ser[i];
            if (s->overflow && !s->removed) {
                if (s->h != h)
                    wrong("%s: a second overflow handle", f->base);
                return s;
            }
        }
        ser_t *s = ser_add(f);
        s->overflow = true;
        s->h = h;
        for (size_t i = 0; i < f->n_labels; i++)
            s->vals[i] = xstrdup("__overflow__");
        return s;
    }
    if (rc != AM_OK) {
        wrong("%s: creating a child returned %s (%s)", f->base, am_err_name(rc), am_errmsg());
        return NULL;
    }
    ser_t *s = ser_add(f);
    s->h = h;
    for (size_t i = 0; i < f->n_labels; i++)
        s->vals[i] = xstrdup(vals[i]);
    return s;
}

/* Create 0..max children with random label values. */
static void make_children(fam_t *f, size_t max)
{
    size_t n = f->n_labels ? rn(max + 1) : 0;
    for (size_t k = 0; k < n; k++) {
        char *vals[MAXL];
        bool reuse = f->n_ser && chance(10);
        const ser_t *r = reuse ? &f->ser[rn(f->n_ser)] : NULL;
        /* A user's own "__overflow__" value, reserved for the overflow
           series: the library must refuse it. */
        bool ov = f->max_children && chance(15);
        size_t i_bad;
        for (size_t i = 0; i < f->n_labels; i++) {
            if (ov)
                vals[i] = xstrdup("__overflow__");
            else if (r && !r->overflow)
                vals[i] = xstrdup(r->vals[i]);
            else
                vals[i] = rand_label_value();
        }
        if (chance(3)) { /* one value not UTF-8: refused */
            i_bad = rn(f->n_labels);
            free(vals[i_bad]);
            vals[i_bad] = xstrdup(BAD_UTF8[rn(N_BAD_UTF8)]);
        }
        if (chance(2)) { /* one value too long: refused */
            free(vals[0]);
            vals[0] = rand_text(5000, 5000, ATOMS, N_ATOMS);
            while (strlen(vals[0]) <= AM_MAX_LABEL_VALUE) {
                sbuf b = {0};
                sb_add(&b, vals[0]);
                sb_add(&b, "0123456789abcdef");
                free(vals[0]);
                vals[0] = sb_take(&b);
            }
        }
        child(f, vals);
        for (size_t i = 0; i < f->n_labels; i++)
            free(vals[i]);
    }
}

/* A live series of f, or NULL when it has none. */
static ser_t *pick(fam_t *f)
{
    size_t live = 0;
    for (size_t i = 0; i < f->n_ser; i++)
        if (!f->ser[i].removed)
            live++;
    if (!live)
        return NULL;
    size_t k = rn(live);
    for (size_t i = 0; i < f->n_ser; i++)
        if (!f->ser[i].removed && k-- == 0)
            return &f->ser[i];
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Exemplars                                                           */
/* ------------------------------------------------------------------ */

static void hex(char *out, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++)
        out[i] = digits[rn(16)];
    out[n] = '\0';
}

static size_t runes(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

static size_t escaped_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += (*s == '\\' || *s == '"' || *s == '\n') ? 2 : 1;
    return n;
}

/* A random exemplar and the code the library must answer for it. */
static am_err rand_exemplar(ex_t *e)
{
    memset(e, 0, sizeof *e);
    char id[72];
    hex(id, chance(80) ? 32 : 1 + rn(40));
    e->names[e->n] = xstrdup("trace_id");
    e->values[e->n++] = xstrdup(id);
    if (chance(70)) {
        hex(id, 16);
        e->names[e->n] = xstrdup("span_id");
        e->values[e->n++] = xstrdup(id);
    }
    unsigned r = (unsigned)rn(100);
    if (r < 25) {
        e->names[e->n] = xstrdup(chance(50) ? "user" : "_k");
        e->values[e->n++] = rand_text(rn(12), 400, EX_ATOMS, N_EX_ATOMS);
    } else if (r < 30) {
        e->names[e->n] = xstrdup("bad-name");
        e->values[e->n++] = xstrdup("x");
        return AM_EINVAL;
    } else if (r < 33) {
        e->names[e->n] = xstrdup("user");
        e->values[e->n++] = xstrdup(BAD_UTF8[rn(N_BAD_UTF8)]);
        return AM_EINVAL;
    } else if (r < 39) {
        e->names[e->n] = xstrdup("pad");
        e->values[e->n++] = rand_text(40 + rn(80), 1000, EX_ATOMS, N_EX_ATOMS);
    }
    size_t rn_total = 0, bytes = 0;
    for (size_t i = 0; i < e->n; i++) {
        rn_total += runes(e->names[i]) + runes(e->values[i]);
        if (rn_total > AM_EXEMPLAR_MAX_RUNES)
            return AM_ELIMIT;
        bytes += (i ? 1 : 0) + strlen(e->names[i]) + 3 + escaped_len(e->values[i]);
        if (bytes > EX_TEXT)
            return AM_ELIMIT;
    }
    return AM_OK;
}

static void ex_free(ex_t *e)
{
    for (size_t i = 0; i < e->n; i++) {
        free(e->names[i]);
        free(e->values[i]);
    }
    e->n = 0;
}

static void ex_keep(fam_t *f, ser_t *s, size_t slot, ex_t *e, double v)
{
    if (!s->ex)
        s->ex = xcalloc(n_ex_slots(f), sizeof *s->ex);
    ex_free(&s->ex[slot]);
    s->ex[slot] = *e;
    s->ex[slot].set = true;
    s->ex[slot].value = v;
    s->ex[slot].ts_ms = g_now_ms;
}

/* ------------------------------------------------------------------ */
/* Families                                                            */
/* ------------------------------------------------------------------ */

static void fill_opts(const fam_t *f, am_metric_opts *o)
{
    memset(o, 0, sizeof *o);
    o->name = f->reg_name;
    o->help = f->help;
    o->unit = f->unit;
    o->json_name = f->json_name[0] ? f->json_name : NULL;
    o->label_names = f->n_labels ? f->label_names : NULL;
    o->n_labels = f->n_labels;
    o->max_children = f->max_children;
    o->flags = f->flags;
}

static void name_family(fam_t *f, size_t idx, bool may_have_unit)
{
    char base[64];
    snprintf(base, sizeof base, "%s%s_%s_n%zu", chance(5) ? "_" : "", WORDS[rn(N_WORDS)],
             WORDS[rn(N_WORDS)], idx);
    if (may_have_unit && chance(35)) {
        f->unit = UNITS[rn(N_UNITS)];
        snprintf(f->base, sizeof f->base, "%s_%s", base, f->unit);
    } else {
        snprintf(f->base, sizeof f->base, "%s", base);
    }
    snprintf(f->reg_name, sizeof f->reg_name, "%s", f->base);
    if (f->type == AM_TYPE_COUNTER && chance(40))
        snprintf(f->reg_name, sizeof f->reg_name, "%s_total", f->base);
    if (f->type == AM_TYPE_INFO && chance(40))
        snprintf(f->reg_name, sizeof f->reg_name, "%s_info", f->base);
    if (chance(30))
        snprintf(f->json_name, sizeof f->json_name, "%s.%s.n%zu.%s", chance(50) ? "agent" : "a2a",
                 WORDS[rn(N_WORDS)], idx, chance(50) ? "value" : "v2");
    f->help = rand_help();
}

static void pick_labels(fam_t *f, size_t max)
{
    f->n_labels = rn(max + 1);
    for (size_t i = 0; i < f->n_labels; i++) {
        for (;;) {
            const char *l = LABEL_NAMES[rn(N_LABEL_NAMES)];
            bool dup = false;
            for (size_t j = 0; j < i; j++)
                if (strcmp(f->label_names[j], l) == 0)
                    dup = true;
            if (!dup) {
                f->label_names[i] = l;
                break;
            }
        }
    }
    if (f->n_labels && chance(15))
        f->max_children = 1 + rn(3);
}

/* Register f through the type's constructor; a second, identical call must
   give the same root back. */
static void register_family(fam_t *f)
{
    am_metric_opts o;
    fill_opts(f, &o);
    const double *b = f->default_buckets ? NULL : f->bounds;
    double with_inf[MAXB + 1];
    if (f->type == AM_TYPE_HISTOGRAM) {
        o.buckets = b;
        o.n_buckets = f->default_buckets ? 0 : f->n_bounds;
        if (!f->default_buckets && chance(20)) { /* an explicit +Inf is implicit */
            memcpy(with_inf, f->bounds, f->n_bounds * sizeof(double));
            with_inf[f->n_bounds] = INFINITY;
            o.buckets = with_inf;
            o.n_buckets = f->n_bounds + 1;
        }
    }
    const char *st[MAXS];
    for (size_t i = 0; i < f->n_states; i++)
        st[i] = f->states[i];
    o.states = f->n_states ? st : NULL;
    o.n_states = f->n_states;

    int rounds = chance(15) ? 2 : 1;
    for (int round = 0; round < rounds; round++) {
        void *h = NULL;
        am_err rc = AM_EINVAL;
        tick();
        switch (f->type) {
        case AM_TYPE_COUNTER:
            rc = am_counter_new(reg_of(f), &o, (am_counter **)&h);
            break;
        case AM_TYPE_GAUGE:
            rc = am_gauge_new(reg_of(f), &o, (am_gauge **)&h);
            break;
        case AM_TYPE_HISTOGRAM:
            rc = am_histogram_new(reg_of(f), &o, (am_histogram **)&h);
            break;
        case AM_TYPE_INFO:
            rc = am_info_new(reg_of(f), &o, (am_info **)&h);
            break;
        case AM_TYPE_STATESET:
            rc = am_stateset_new(reg_of(f), &o, (am_stateset **)&h);
            break;
        default:
            break;
        }
        if (rc != AM_OK)
            die("registering %s returned %s (%s)", f->reg_name, am_err_name(rc), am_errmsg());
        if (round == 0) {
            f->root = h;
            if (f->n_labels == 0 && f->type != AM_TYPE_INFO) {
                ser_t *s = ser_add(f);
                s->h = h;
            }
        } else if (h != f->root) {
            wrong("%s: registering the same definition twice gave another handle", f->base);
        }
    }
}

static void make_counter(size_t idx)
{
    fam_t *f = fam_add();
    f->type = AM_TYPE_COUNTER;
    name_family(f, idx, true);
    pick_labels(f, MAXL);
    if (chance(20))
        f->flags |= AM_METRIC_NO_CREATED;
    register_family(f);
    make_children(f, 5);
    for (size_t k = rn(14); k > 0; k--) {
        ser_t *s = pick(f);
        if (!s)
            break;
        unsigned r = (unsigned)rn(100);
        tick();
        if (s->wild && r < 90)
            r = 90; /* a series with an arbitrary total takes nothing more */
        double v = 0;
        if (r >= 30 && r < 90) {
            if (s->n_adds == 0 && chance(30)) {
                v = rand_counter_delta();
                s->wild = true;
            } else {
                v = exact_counter_delta();
            }
            s->n_adds++;
        }
        if (r < 30) {
            am_counter_inc(s->h);
            s->value += 1.0;
            s->n_adds++;
        } else if (r < 65) {
            EXPECT(am_counter_add(s->h, v), AM_OK);
            s->value += v;
        } else if (r < 90) {
            ex_t e;
            am_err want = rand_exemplar(&e);
            am_labels l = {(const char *const *)e.names, (const char *const *)e.values, e.n};
            EXPECT(am_counter_add_exemplar(s->h, v, &l), want);
            s->value += v; /* a bad exemplar does not stop a good v */
            if (want == AM_OK)
                ex_keep(f, s, 0, &e, v);
            else
                ex_free(&e);
        } else {
            static const double bad[] = {-1.0, -5e-324, NAN, INFINITY, -INFINITY};
            v = bad[rn(5)];
            EXPECT(am_counter_add(s->h, v), AM_EINVAL);
            if (chance(50)) {
                ex_t e;
                rand_exemplar(&e);
                am_labels l = {(const char *const *)e.names, (const char *const *)e.values, e.n};
                EXPECT(am_counter_add_exemplar(s->h, v, &l), AM_EINVAL);
                ex_free(&e);
            }
        }
    }
    if (f->n_labels && chance(10)) {
        ser_t *s = pick(f);
        if (s && !s->overflow) {
            EXPECT(am_counter_remove(f->root, (const char *const *)s->vals, f->n_labels), AM_OK);
            s->removed = true;
        }
    }
    if (f->n_labels && chance(5)) {
        am_counter_clear(f->root);
        for (size_t i = 0; i < f->n_ser; i++)
            f->ser[i].removed = true;
        make_children(f, 2);
    }
}

static void make_gauge(size_t idx)
{
    fam_t *f = fam_add();
    f->type = AM_TYPE_GAUGE;
    name_family(f, idx, true);
    pick_labels(f, MAXL);
    register_family(f);
    make_children(f, 5);
    for (size_t k = rn(14); k > 0; k--) {
        ser_t *s = pick(f);
        if (!s)
            break;
        unsigned r = (unsigned)rn(100);
        tick();
        if (r < 50) {
            double v = rand_gauge_value();
            am_gauge_set(s->h, v);
            s->value = v;
        } else if (r < 70) {
            double v = rand_gauge_value();
            am_gauge_add(s->h, v);
            s->value += v;
        } else if (r < 80) {
            am_gauge_inc(s->h);
            s->value += 1.0;
        } else if (r < 90) {
            am_gauge_dec(s->h);
            s->value -= 1.0;
        } else {
            am_gauge_set_to_now(s->h);
            s->value = now_s();
        }
    }
    if (f->n_labels && chance(10)) {
        ser_t *s = pick(f);
        if (s && !s->overflow) {
            EXPECT(am_gauge_remove(f->root, (const char *const *)s->vals, f->n_labels), AM_OK);
            s->removed = true;
        }
    }
}

static void rand_bounds(fam_t *f)
{
    unsigned r = (unsigned)rn(100);
    if (r < 25) {
        f->default_buckets = true;
        f->n_bounds = AM_DEFAULT_BUCKETS_N;
        memcpy(f->bounds, AM_DEFAULT_BUCKETS, sizeof AM_DEFAULT_BUCKETS);
        return;
    }
    if (r < 40) { /* linear, possibly starting below zero */
        double start = chance(30) ? -(double)rn(10) : (double)rn(5) * 0.5;
        double width = chance(50) ? 0.1 : (double)(1 + rn(100));
        f->n_bounds = 1 + rn(30);
        if (am_buckets_linear(start, width, f->n_bounds, f->bounds) != AM_OK)
            die("am_buckets_linear: %s", am_errmsg());
        for (size_t i = 0; i < f->n_bounds; i++)
            if (f->bounds[i] != start + width * (double)i)
                wrong("am_buckets_linear bound %zu is %.17g", i, f->bounds[i]);
        return;
    }
    if (r < 55) {
        double start = chance(50) ? 1e-6 : 0.001 * (double)(1 + rn(9));
        double factor = chance(50) ? 2.0 : 1.5 + (double)rn(10);
        f->n_bounds = 1 + rn(MAXB);
        if (am_buckets_exponential(start, factor, f->n_bounds, f->bounds) != AM_OK)
            die("am_buckets_exponential: %s", am_errmsg());
        double v = start;
        for (size_t i = 0; i < f->n_bounds; i++, v *= factor)
            if (f->bounds[i] != v)
                wrong("am_buckets_exponential bound %zu is %.17g", i, f->bounds[i]);
        return;
    }
    /* Hand-made: increasing, some below zero, odd magnitudes. */
    f->n_bounds = 1 + rn(24);
    double v = chance(20) ? -(double)(1 + rn(1000)) : (chance(30) ? 5e-324 : 0.0);
    for (size_t i = 0; i < f->n_bounds; i++) {
        f->bounds[i] = v;
        double step = chance(30) ? fabs(rand_gauge_value()) : (double)(1 + rn(100)) / 8.0;
        if (!isfinite(step) || step == 0.0 || !(v + step > v) || !isfinite(v + step))
            step = (double)(1 + rn(100)) / 8.0;
        if (!(v + step > v) || !isfinite(v + step)) {
            f->n_bounds = i + 1;
            break;
        }
        v += step;
    }
}

/* What a histogram observes; negative values only when allowed. */
static double rand_observation(const fam_t *f, bool negative_ok)
{
    unsigned r = (unsigned)rn(100);
    if (r < 30)
        return f->bounds[rn(f->n_bounds)]; /* exactly on a bound: le is inclusive */
    if (r < 40)
        return nextafter(f->bounds[rn(f->n_bounds)], INFINITY);
    if (r < 45)
        return 0.0;
    if (r < 48)
        return 1e300;
    if (r < 50)
        return INFINITY;
    if (negative_ok && r < 55)
        return -(double)rn(1000) / 7.0;
    if (negative_ok && r < 57)
        return NAN;
    double lo = f->bounds[0], hi = f->bounds[f->n_bounds - 1];
    double x = (double)rn(1000001) / 1000000.0;
    double v = lo + (hi - lo) * 1.2 * x;
    return !negative_ok && v < 0 ? -v : v;
}

static size_t bucket_of(const fam_t *f, double v)
{
    for (size_t i = 0; i < f->n_bounds; i++)
        if (v <= f->bounds[i])
            return i;
    return f->n_bounds; /* +Inf, and NaN */
}

static void make_histogram(size_t idx)
{
    fam_t *f = fam_add();
    f->type = AM_TYPE_HISTOGRAM;
    name_family(f, idx, true);
    pick_labels(f, 3);
    rand_bounds(f);
    if (chance(15))
        f->flags |= AM_METRIC_NO_CREATED;
    bool negative_ok = chance(15);
    register_family(f);
    if (am_histogram_n_buckets(f->root) != f->n_bounds)
        wrong("%s: am_histogram_n_buckets is %zu, expected %zu", f->base,
              am_histogram_n_buckets(f->root), f->n_bounds);
    make_children(f, 4);
    for (size_t k = rn(40); k > 0; k--) {
        ser_t *s = pick(f);
        if (!s)
            break;
        double v = rand_observation(f, negative_ok);
        size_t b = bucket_of(f, v);
        tick();
        if (chance(25)) {
            ex_t e;
            am_err want = rand_exemplar(&e);
            am_labels l = {(const char *const *)e.names, (const char *const *)e.values, e.n};
            EXPECT(am_histogram_observe_exemplar(s->h, v, &l), want);
            if (want == AM_OK)
                ex_keep(f, s, b, &e, v);
            else
                ex_free(&e);
        } else {
            am_histogram_observe(s->h, v);
        }
        s->counts[b] += 1.0;
        /* The one order-dependent value the model keeps: a histogram's sum
           is one double the library adds each observation to, in call order
           (true of a series written by one thread). */
        s->sum += v;
    }
    if (f->n_labels && chance(10)) {
        ser_t *s = pick(f);
        if (s && !s->overflow) {
            EXPECT(am_histogram_remove(f->root, (const char *const *)s->vals, f->n_labels), AM_OK);
            s->removed = true;
        }
    }
}

static void make_info(size_t idx)
{
    fam_t *f = fam_add();
    f->type = AM_TYPE_INFO;
    name_family(f, idx, false);
    register_family(f);
    for (int round = (int)rn(3); round > 0; round--) {
        size_t n = rn(MAXL + 1);
        const char *names[MAXL];
        char *values[MAXL];
        for (size_t i = 0; i < n; i++) {
            names[i] = LABEL_NAMES[(idx + i * 3) % N_LABEL_NAMES];
            values[i] = rand_label_value();
        }
        bool dup = n >= 2 && chance(20);
        if (dup)
            names[1] = names[0];
        am_labels l = {names, (const char *const *)values, n};
        tick();
        EXPECT(am_info_set(f->root, &l), dup ? AM_EINVAL : AM_OK);
        if (dup) {
            for (size_t i = 0; i < n; i++)
                free(values[i]);
            continue;
        }
        for (size_t i = 0; i < f->n_pairs; i++)
            free(f->pair_values[i]);
        f->n_pairs = n;
        for (size_t i = 0; i < n; i++) {
            f->pair_names[i] = names[i];
            f->pair_values[i] = values[i];
        }
    }
}

static void make_stateset(size_t idx)
{
    fam_t *f = fam_add();
    f->type = AM_TYPE_STATESET;
    name_family(f, idx, false);
    pick_labels(f, 3);
    f->n_states = 1 + rn(MAXS);
    for (size_t i = 0; i < f->n_states; i++) {
        for (;;) {
            char *st = rand_label_value();
            bool bad = !st[0];
            for (size_t j = 0; j < i && !bad; j++)
                if (strcmp(st, f->states[j]) == 0)
                    bad = true;
            if (!bad && strlen(st) < 200) {
                f->states[i] = st;
                break;
            }
            free(st);
        }
    }
    register_family(f);
    make_children(f, 4);
    for (size_t k = rn(10); k > 0; k--) {
        ser_t *s = pick(f);
        if (!s)
            break;
        size_t i = rn(f->n_states);
        unsigned r = (unsigned)rn(100);
        tick();
        if (r < 40) {
            EXPECT(am_stateset_select(s->h, i), AM_OK);
            s->bits = 1ULL << i;
        } else if (r < 90) {
            bool on = chance(60);
            EXPECT(am_stateset_set(s->h, i, on), AM_OK);
            s->bits = on ? s->bits | (1ULL << i) : s->bits & ~(1ULL << i);
        } else {
            EXPECT(am_stateset_set(s->h, f->n_states + rn(3), true), AM_EINVAL);
        }
        for (size_t j = 0; j < f->n_states; j++)
            if (am_stateset_get(s->h, j) != (bool)((s->bits >> j) & 1))
                wrong("%s: am_stateset_get(%zu) disagrees", f->base, j);
    }
}

/* The collect function: report the model's series, then try what the sink
   must refuse -- a label set twice, a counter going negative. */
static void collect(am_sink *sink, void *ud)
{
    const fam_t *f = ud;
    for (size_t i = 0; i < f->n_ser; i++) {
        const ser_t *s = &f->ser[i];
        EXPECT(am_sink_put(sink, (const char *const *)s->vals, f->n_labels, s->value), AM_OK);
    }
    if (f->n_ser)
        EXPECT(am_sink_put(sink, (const char *const *)f->ser[0].vals, f->n_labels, 1.0), AM_EINVAL);
    if (f->type == AM_TYPE_COUNTER) {
        const char *v[MAXL] = {"neg", "neg", "neg", "neg"};
        EXPECT(am_sink_put(sink, v, f->n_labels, -1.0), AM_EINVAL);
        EXPECT(am_sink_put(sink, v, f->n_labels, NAN), AM_EINVAL);
        EXPECT(am_sink_put(sink, v, f->n_labels, INFINITY), AM_EINVAL);
    }
    EXPECT(am_sink_put(sink, NULL, f->n_labels + 1, 1.0), AM_EINVAL);
}

static void make_callback(size_t idx)
{
    fam_t *f = fam_add();
    static const am_metric_type types[] = {AM_TYPE_GAUGE, AM_TYPE_COUNTER, AM_TYPE_UNKNOWN};
    f->type = types[rn(3)];
    f->callback = true;
    name_family(f, idx, true);
    pick_labels(f, MAXL);
    f->max_children = 0;
    size_t n = f->n_labels ? rn(6) : 1;
    for (size_t k = 0; k < n; k++) {
        char *vals[MAXL];
        for (size_t i = 0; i < f->n_labels; i++)
            vals[i] = rand_label_value();
        bool dup = false;
        for (size_t i = 0; i < f->n_ser && !dup; i++)
            dup = vals_equal(f, &f->ser[i], (const char *const *)vals);
        if (dup || (f->n_labels && strcmp(vals[0], "neg") == 0)) {
            for (size_t i = 0; i < f->n_labels; i++)
                free(vals[i]);
            continue;
        }
        ser_t *s = ser_add(f);
        for (size_t i = 0; i < f->n_labels; i++)
            s->vals[i] = vals[i];
        s->value = f->type == AM_TYPE_COUNTER ? rand_counter_delta() : rand_gauge_value();
    }
    am_metric_opts o;
    fill_opts(f, &o);
    am_callback *cb;
    tick();
    am_err rc = am_callback_new(reg_of(f), f->type, &o, collect, f, &cb);
    if (rc != AM_OK)
        die("am_callback_new %s: %s (%s)", f->base, am_err_name(rc), am_errmsg());
    EXPECT(am_callback_new(reg_of(f), AM_TYPE_HISTOGRAM, &o, collect, NULL, &cb), AM_EINVAL);
}

/* Definitions the registry must refuse because f already holds the name. */
static void conflicts(const fam_t *f)
{
    am_metric_opts o;
    fill_opts(f, &o);
    o.json_name = NULL;
    am_gauge *g;
    if (f->type != AM_TYPE_GAUGE || f->callback) {
        o.name = f->base;
        EXPECT(am_gauge_new(reg_of(f), &o, &g), AM_EEXIST);
    }
    if (f->type == AM_TYPE_COUNTER) {
        char x[200];
        snprintf(x, sizeof x, "%s_total", f->base);
        o.name = x;
        o.unit = NULL;
        o.n_labels = 0;
        EXPECT(am_gauge_new(reg_of(f), &o, &g), AM_EEXIST);
    }
    if (f->json_name[0]) {
        am_metric_opts p = AM_METRIC_OPTS_INIT;
        p.name = "interop_json_alias_taker";
        p.help = "x";
        p.json_name = f->json_name;
        EXPECT(am_gauge_new(reg_of(f), &p, &g), AM_EEXIST);
    }
}

/* ------------------------------------------------------------------ */
/* Truth                                                               */
/* ------------------------------------------------------------------ */

static FILE *g_out;

static void jstr(const char *s)
{
    fputc('"', g_out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(g_out, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(g_out, "\\u%04x", *p);
        else
            fputc(*p, g_out);
    }
    fputc('"', g_out);
}

static void jnum(double v)
{
    if (isnan(v))
        fputs("\"NaN\"", g_out);
    else if (isinf(v))
        fputs(v > 0 ? "\"+Inf\"" : "\"-Inf\"", g_out);
    else
        fprintf(g_out, "%.17g", v);
}

static const char *type_word(am_metric_type t)
{
    switch (t) {
    case AM_TYPE_COUNTER:
        return "counter";
    case AM_TYPE_GAUGE:
        return "gauge";
    case AM_TYPE_HISTOGRAM:
        return "histogram";
    case AM_TYPE_INFO:
        return "info";
    case AM_TYPE_STATESET:
        return "stateset";
    default:
        return "unknown";
    }
}

/* {labels of s [, extra="value"]}; info families use their pairs. */
static void jlabels(const fam_t *f, const ser_t *s, const char *xn, const char *xv)
{
    fputc('{', g_out);
    bool first = true;
    size_t n = f->type == AM_TYPE_INFO ? f->n_pairs : f->n_labels;
    for (size_t i = 0; i < n; i++) {
        if (!first)
            fputc(',', g_out);
        first = false;
        jstr(f->type == AM_TYPE_INFO ? f->pair_names[i] : f->label_names[i]);
        fputc(':', g_out);
        jstr(f->type == AM_TYPE_INFO ? f->pair_values[i] : s->vals[i]);
    }
    if (xn) {
        if (!first)
            fputc(',', g_out);
        jstr(xn);
        fputc(':', g_out);
        jstr(xv);
    }
    fputc('}', g_out);
}

static void jexemplar(const ex_t *e)
{
    if (!e || !e->set) {
        fputs("null", g_out);
        return;
    }
    fputs("{\"labels\":{", g_out);
    for (size_t i = 0; i < e->n; i++) {
        if (i)
            fputc(',', g_out);
        jstr(e->names[i]);
        fputc(':', g_out);
        jstr(e->values[i]);
    }
    fputs("},\"value\":", g_out);
    jnum(e->value);
    fprintf(g_out, ",\"ts_ms\":%" PRId64 "}", e->ts_ms);
}

static bool g_first_sample;

/* One sample: [name, labels, value(, exemplar)] */
static void jsample(const fam_t *f, const ser_t *s, const char *suffix, const char *xn,
                    const char *xv, double v, bool om, const ex_t *e)
{
    char name[200];
    snprintf(name, sizeof name, "%s%s", f->base, suffix);
    fputs(g_first_sample ? "\n   [" : ",\n   [", g_out);
    g_first_sample = false;
    jstr(name);
    fputc(',', g_out);
    jlabels(f, s, xn, xv);
    fputc(',', g_out);
    jnum(v);
    if (om) {
        fputc(',', g_out);
        jexemplar(e);
    }
    fputc(']', g_out);
}

static bool has_negative_bound(const fam_t *f)
{
    for (size_t i = 0; i < f->n_bounds; i++)
        if (f->bounds[i] < 0)
            return true;
    return false;
}

static void le_text(const fam_t *f, size_t i, char *out, size_t cap)
{
    if (i < f->n_bounds)
        snprintf(out, cap, "%.17g", f->bounds[i]);
    else
        snprintf(out, cap, "+Inf");
}

static void samples_of(const fam_t *f, const ser_t *s, bool om)
{
    const ex_t *ex0 = s->ex ? &s->ex[0] : NULL;
    bool created = !(f->flags & AM_METRIC_NO_CREATED);
    char le[64];
    switch (f->type) {
    case AM_TYPE_COUNTER:
        jsample(f, s, "_total", NULL, NULL, s->value, om, ex0);
        if (om && created && !f->callback)
            jsample(f, s, "_created", NULL, NULL, (double)s->created_ms / 1000.0, om, NULL);
        break;
    case AM_TYPE_INFO:
        jsample(f, s, "_info", NULL, NULL, 1.0, om, NULL);
        break;
    case AM_TYPE_STATESET:
        for (size_t i = 0; i < f->n_states; i++)
            jsample(f, s, "", f->base, f->states[i], (double)((s->bits >> i) & 1), om, NULL);
        break;
    case AM_TYPE_HISTOGRAM: {
        double cum = 0;
        for (size_t i = 0; i <= f->n_bounds; i++) {
            cum += s->counts[i];
            le_text(f, i, le, sizeof le);
            jsample(f, s, "_bucket", "le", le, cum, om, s->ex ? &s->ex[i] : NULL);
        }
        if (!om) {
            jsample(f, s, "_sum", NULL, NULL, s->sum, om, NULL);
            jsample(f, s, "_count", NULL, NULL, cum, om, NULL);
            break;
        }
        /* OpenMetrics: no _sum (and so no _count) when the sum is negative
           or NaN, or when any bucket threshold is negative. */
        if (s->sum >= 0 && !has_negative_bound(f)) {
            jsample(f, s, "_count", NULL, NULL, cum, om, NULL);
            jsample(f, s, "_sum", NULL, NULL, s->sum, om, NULL);
        }
        if (created)
            jsample(f, s, "_created", NULL, NULL, (double)s->created_ms / 1000.0, om, NULL);
        break;
    }
    default:
        jsample(f, s, "", NULL, NULL, s->value, om, NULL);
        break;
    }
}

/* The JSON snapshot's view of one series. */
static void json_series(const fam_t *f, const ser_t *s)
{
    fputs("{\"labels\":", g_out);
    jlabels(f, s, NULL, NULL);
    char le[64];
    switch (f->type) {
    case AM_TYPE_HISTOGRAM: {
        double cum = 0;
        fputs(",\"buckets\":[", g_out);
        for (size_t i = 0; i <= f->n_bounds; i++) {
            cum += s->counts[i];
            le_text(f, i, le, sizeof le);
            fprintf(g_out, "%s[", i ? "," : "");
            jstr(le);
            fputc(',', g_out);
            jnum(cum);
            fputc(']', g_out);
        }
        fputs("],\"count\":", g_out);
        jnum(cum);
        fputs(",\"sum\":", g_out);
        jnum(s->sum);
        fputs(",\"exemplars\":[", g_out);
        bool first = true;
        for (size_t i = 0; s->ex && i <= f->n_bounds; i++) {
            if (!s->ex[i].set)
                continue;
            le_text(f, i, le, sizeof le);
            fputs(first ? "[" : ",[", g_out);
            first = false;
            jstr(le);
            fputc(',', g_out);
            jexemplar(&s->ex[i]);
            fputc(']', g_out);
        }
        fputc(']', g_out);
        break;
    }
    case AM_TYPE_STATESET:
        fputs(",\"states\":[", g_out);
        for (size_t i = 0; i < f->n_states; i++) {
            fprintf(g_out, "%s[", i ? "," : "");
            jstr(f->states[i]);
            fprintf(g_out, ",%s]", (s->bits >> i) & 1 ? "true" : "false");
        }
        fputc(']', g_out);
        break;
    case AM_TYPE_INFO:
        fputs(",\"value\":1", g_out);
        break;
    default:
        fputs(",\"value\":", g_out);
        jnum(s->value);
        fputs(",\"exemplar\":", g_out);
        jexemplar(s->ex ? &s->ex[0] : NULL);
        break;
    }
    fputc('}', g_out);
}

static int fam_cmp(const void *a, const void *b)
{
    const fam_t *x = *(const fam_t *const *)a, *y = *(const fam_t *const *)b;
    int c = strcmp(x->base, y->base);
    if (c)
        return c;
    return x->reg < y->reg ? -1 : x->reg > y->reg; /* am_encode: registries in order */
}

/* What the library compares to merge same-named families of two registries. */
static bool fam_same(const fam_t *x, const fam_t *y)
{
    if (x->type != y->type || x->callback != y->callback || x->n_labels != y->n_labels ||
        x->n_bounds != y->n_bounds || x->n_states != y->n_states ||
        (x->unit == NULL) != (y->unit == NULL) || (x->unit && strcmp(x->unit, y->unit)))
        return false;
    for (size_t i = 0; i < x->n_labels; i++)
        if (strcmp(x->label_names[i], y->label_names[i]))
            return false;
    for (size_t i = 0; i < x->n_bounds; i++)
        if (x->bounds[i] != y->bounds[i])
            return false;
    for (size_t i = 0; i < x->n_states; i++)
        if (strcmp(x->states[i], y->states[i]))
            return false;
    return true;
}

static void write_truth(const char *path, double json_ts)
{
    g_out = fopen(path, "w");
    if (!g_out)
        die("cannot write %s", path);
    fam_t **order = xcalloc(g_n_fams, sizeof *order);
    size_t n = 0;
    for (size_t i = 0; i < g_n_fams; i++)
        if (!g_fams[i].dropped)
            order[n++] = &g_fams[i];
    qsort(order, n, sizeof *order, fam_cmp);

    fprintf(g_out, "{\"seed\":%llu,\"json_timestamp\":", g_seed);
    jnum(json_ts);
    fputs(",\"families\":[", g_out);
    for (size_t k = 0, next; k < n; k = next) {
        const fam_t *f = order[k];
        /* order[k..next): the families of this name, first registry first */
        const fam_t *group[2] = {f, NULL};
        size_t n_group = 1;
        for (next = k + 1; next < n && strcmp(order[next]->base, f->base) == 0; next++)
            if (n_group < 2 && fam_same(f, order[next]))
                group[n_group++] = order[next];
        char expo[200];
        snprintf(expo, sizeof expo, "%s%s", f->base,
                 f->type == AM_TYPE_COUNTER ? "_total"
                 : f->type == AM_TYPE_INFO  ? "_info"
                                            : "");
        fputs(k ? ",\n {" : "\n {", g_out);
        fputs("\"name\":", g_out);
        jstr(f->base);
        fputs(",\"expo\":", g_out);
        jstr(expo);
        fputs(",\"type\":", g_out);
        jstr(type_word(f->type));
        fprintf(g_out, ",\"callback\":%s,\"help\":", f->callback ? "true" : "false");
        jstr(f->help);
        fputs(",\"unit\":", g_out);
        if (f->unit)
            jstr(f->unit);
        else
            fputs("null", g_out);
        fputs(",\"json_key\":", g_out);
        jstr(f->json_name[0] ? f->json_name : expo);

        /* Info families expose one series, their pairs. */
        ser_t info = {0};
        for (int om = 0; om < 2; om++) {
            fputs(om ? ",\n  \"om_samples\":[" : ",\n  \"prom_samples\":[", g_out);
            g_first_sample = true;
            for (size_t m = 0; m < n_group; m++) {
                const fam_t *g = group[m];
                const ser_t *list = g->type == AM_TYPE_INFO ? &info : g->ser;
                size_t n_list = g->type == AM_TYPE_INFO ? 1 : g->n_ser;
                for (size_t i = 0; i < n_list; i++)
                    if (!list[i].removed)
                        samples_of(g, &list[i], om);
            }
            fputc(']', g_out);
        }
        fputs(",\n  \"series\":[", g_out);
        bool first = true;
        for (size_t m = 0; m < n_group; m++) {
            const fam_t *g = group[m];
            const ser_t *list = g->type == AM_TYPE_INFO ? &info : g->ser;
            size_t n_list = g->type == AM_TYPE_INFO ? 1 : g->n_ser;
            for (size_t i = 0; i < n_list; i++) {
                if (list[i].removed)
                    continue;
                if (!first)
                    fputc(',', g_out);
                first = false;
                json_series(g, &list[i]);
            }
        }
        fputs("]}", g_out);
    }
    fputs("\n]}\n", g_out);
    free(order);
    if (fclose(g_out) != 0)
        die("writing %s failed", path);
}

/* ------------------------------------------------------------------ */
/* Main                                                                */
/* ------------------------------------------------------------------ */

static void write_file(const char *dir, const char *name, const char *text, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "wb");
    if (!fp || fwrite(text, 1, len, fp) != len || fclose(fp) != 0)
        die("cannot write %s", path);
}

static void encode(const char *dir, am_format fmt, const char *name)
{
    char *text = NULL;
    size_t len = 0;
    am_registry *regs[2] = {am_registry_default(), g_reg1};
    am_err rc = g_two_regs ? am_encode(regs, 2, fmt, &text, &len)
                           : am_registry_encode(NULL, fmt, &text, &len);
    if (rc != AM_OK)
        die("am_registry_encode(%s): %s (%s)", name, am_err_name(rc), am_errmsg());
    if (strlen(text) != len)
        wrong("am_registry_encode(%s): len %zu but strlen %zu", name, len, strlen(text));
    write_file(dir, name, text, len);
    am_free(text);
}

/* gen_exposition --process OUTDIR: the process_* metrics in the three
   formats (process.prom, .om, .json), for a parse-only check; their values
   come from /proc, so there is no truth to compare with. */
static int process_mode(const char *dir)
{
    am_registry *r;
    if (am_registry_new(&r) != AM_OK)
        die("am_registry_new: %s", am_errmsg());
    for (int i = 0; i < 2; i++) /* idempotent */
        if (am_registry_enable_process_metrics(r) != AM_OK)
            die("am_registry_enable_process_metrics: %s", am_errmsg());
    static const struct {
        am_format f;
        const char *name;
    } out[] = {{AM_FORMAT_PROMETHEUS, "process.prom"},
               {AM_FORMAT_OPENMETRICS, "process.om"},
               {AM_FORMAT_JSON, "process.json"}};
    for (size_t i = 0; i < 3; i++) {
        char *text;
        size_t len;
        if (am_registry_encode(r, out[i].f, &text, &len) != AM_OK)
            die("am_registry_encode: %s", am_errmsg());
        write_file(dir, out[i].name, text, len);
        am_free(text);
    }
    am_registry_free(r);
    am_shutdown();
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--process") == 0)
        return process_mode(argv[2]);
    if (argc != 3) {
        fprintf(stderr, "usage: gen_exposition SEED OUTDIR\n"
                        "       gen_exposition --process OUTDIR\n");
        return 2;
    }
    char *end = NULL;
    g_seed = strtoull(argv[1], &end, 10);
    if (!end || *end || end == argv[1]) {
        fprintf(stderr, "gen_exposition: SEED must be a decimal number, not \"%s\"\n", argv[1]);
        return 2;
    }
    const char *dir = argv[2];
    g_rng = g_seed * 0x2545F4914F6CDD1DULL + 1;
    g_now_ms = 1700000000000LL + (int64_t)rn(100000000000ULL);
    am__time_hook = hook_time;
    g_two_regs = chance(40);
    if (g_two_regs && am_registry_new(&g_reg1) != AM_OK)
        die("am_registry_new: %s", am_errmsg());

    size_t n_fams = 12 + rn(30);
    for (size_t i = 0; i < n_fams; i++) {
        unsigned r = (unsigned)rn(100);
        if (r < 22)
            make_counter(i);
        else if (r < 44)
            make_gauge(i);
        else if (r < 66)
            make_histogram(i);
        else if (r < 74)
            make_info(i);
        else if (r < 84)
            make_stateset(i);
        else
            make_callback(i);
    }
    /* Some families get refused twins; one may be unregistered. */
    for (size_t i = 0; i < g_n_fams; i++)
        if (chance(20) && !is_self(&g_fams[i]))
            conflicts(&g_fams[i]);
    if (g_n_fams > 3 && chance(40)) {
        fam_t *f = &g_fams[rn(g_n_fams)];
        if (!is_self(f)) {
            char expo[200];
            snprintf(expo, sizeof expo, "%s%s", f->base,
                     f->type == AM_TYPE_COUNTER ? "_total"
                     : f->type == AM_TYPE_INFO  ? "_info"
                                                : "");
            EXPECT(am_registry_unregister(reg_of(f), chance(50) ? f->base : expo), AM_OK);
            f->dropped = true;
        }
    }
    for (size_t r = 0; r < (g_two_regs ? 2u : 1u); r++) {
        size_t n_live = 0;
        for (size_t i = 0; i < g_n_fams; i++)
            n_live += !g_fams[i].dropped && g_fams[i].reg == r;
        size_t got = am_registry_count(r ? g_reg1 : NULL);
        if (got != n_live)
            wrong("am_registry_count of registry %zu is %zu, the model has %zu families", r, got,
                  n_live);
    }

    tick();
    encode(dir, AM_FORMAT_PROMETHEUS, "out.prom");
    encode(dir, AM_FORMAT_OPENMETRICS, "out.om");
    double json_ts = now_s();
    encode(dir, AM_FORMAT_JSON, "out.json");

    char path[4096];
    snprintf(path, sizeof path, "%s/truth.json", dir);
    write_truth(path, json_ts);
    am_registry_free(g_reg1);
    am_shutdown();
    if (g_errors) {
        fprintf(stderr, "gen_exposition: seed %llu: %d library call(s) broke their contract\n",
                g_seed, g_errors);
        return 1;
    }
    return 0;
}
