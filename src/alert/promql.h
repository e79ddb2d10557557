/*
** promql.h: PromQL syntax trees, the lexer, the function table and the
** evaluator's internals (the contract for callers is in alert.h).
**
** A parsed expression is a tree of am_pql_node in the expression's own
** arena, typed at parse time exactly as Prometheus' parser types it
** (scalar, instant vector, range vector, string), so every type error is
** a parse error and evaluation never meets one. The tree is immutable
** after parsing and may be evaluated by several threads at once.
*/
#ifndef AM_ALERT_PROMQL_H
#define AM_ALERT_PROMQL_H

#include <stdbool.h>
#include <stdint.h>

#include "alert.h"
#include "arena.h"
#include "labels.h"
#include "tsdb.h"

typedef enum am_pql_type {
    AM_PQL_NONE = 0,
    AM_PQL_SCALAR,
    AM_PQL_VECTOR,
    AM_PQL_MATRIX,
    AM_PQL_STRING
} am_pql_type;

/* "scalar", "instant vector", "range vector", "string" */
const char *am__pql_type_name(am_pql_type t);

/* ------------------------------------------------------------ tokens */

typedef enum am_tok {
    T_EOF = 0,
    T_ERROR,
    T_IDENT,
    T_METRIC_IDENT,
    T_NUMBER,
    T_DURATION,
    T_STRING,
    T_LPAREN,
    T_RPAREN,
    T_LBRACE,
    T_RBRACE,
    T_LBRACKET,
    T_RBRACKET,
    T_COMMA,
    T_ASSIGN,
    T_COLON,
    T_AT,
    /* operators */
    T_ADD,
    T_SUB,
    T_MUL,
    T_DIV,
    T_MOD,
    T_POW,
    T_EQLC,
    T_NEQ,
    T_LTE,
    T_LSS,
    T_GTE,
    T_GTR,
    T_EQL_REGEX,
    T_NEQ_REGEX,
    T_LAND,
    T_LOR,
    T_LUNLESS,
    T_ATAN2,
    /* aggregators */
    T_AVG,
    T_BOTTOMK,
    T_COUNT,
    T_COUNT_VALUES,
    T_GROUP,
    T_MAX,
    T_MIN,
    T_QUANTILE,
    T_STDDEV,
    T_STDVAR,
    T_SUM,
    T_TOPK,
    /* keywords */
    T_BOOL,
    T_BY,
    T_GROUP_LEFT,
    T_GROUP_RIGHT,
    T_IGNORING,
    T_OFFSET,
    T_ON,
    T_WITHOUT,
    T_START,
    T_END
} am_tok;

typedef struct am_token {
    am_tok t;
    uint32_t pos; /* byte offset of its first character */
    uint32_t len;
} am_token;

typedef struct am_lexer {
    const char *s;
    size_t n;
    size_t pos;
    int brace_depth; /* inside {...}: identifiers are label names */
    bool in_bracket; /* inside [...]: durations and ':' */
    char err[160];   /* why the last T_ERROR */
} am_lexer;

void am__lex_init(am_lexer *lx, const char *s, size_t n);
am_token am__lex_next(am_lexer *lx);
/* The spelling of a token kind, for messages ("\"by\"", "number"). */
const char *am__tok_desc(am_tok t);
bool am__tok_is_aggregator(am_tok t);
bool am__tok_is_binop(am_tok t);
bool am__tok_is_comparison(am_tok t);
bool am__tok_is_setop(am_tok t);
/* Keyword token for a word (case-insensitive, as Prometheus' lexer), or T_IDENT. */
am_tok am__tok_keyword(const char *w, size_t n);

/* Go's string unquoting for PromQL's three quotes; false on a bad escape. */
bool am__pql_unquote(const char *s, size_t n, am_arena *a, char **out, size_t *out_len);

/* ------------------------------------------------------------ tree */

typedef enum am_pql_kind {
    N_NUMBER,
    N_STRING,
    N_VSEL,
    N_MSEL,
    N_CALL,
    N_AGG,
    N_BINARY,
    N_UNARY,
    N_PAREN
} am_pql_kind;

typedef enum am_at_kind { AT_NONE = 0, AT_TIME, AT_START, AT_END } am_at_kind;

typedef enum am_card {
    CARD_ONE_TO_ONE,
    CARD_MANY_TO_ONE,
    CARD_ONE_TO_MANY,
    CARD_MANY_TO_MANY
} am_card;

typedef struct am_pql_node am_pql_node;
typedef struct am_pql_func am_pql_func;
typedef struct am_evaluator am_evaluator;

typedef struct am_pql_vsel {
    const char *name; /* the literal metric name, or NULL */
    am_matcher *m;
    size_t n_m;
    int64_t offset_ms;
    am_at_kind at;
    int64_t at_ms;
} am_pql_vsel;

typedef struct am_pql_match {
    am_card card;
    bool on;
    char **labels; /* on(...) / ignoring(...) */
    size_t n_labels;
    char **include; /* group_left(...) / group_right(...) */
    size_t n_include;
} am_pql_match;

/* Deepest tree accepted: evaluation recurses along it. */
#define AM_PQL_MAX_DEPTH 256

struct am_pql_node {
    am_pql_kind kind;
    am_pql_type type;
    uint32_t pos;
    uint32_t end;
    uint32_t depth; /* 1 + the deepest child */
    union {
        double num;
        struct {
            const char *s;
        } str;
        am_pql_vsel vs;
        struct {
            am_pql_node *vs; /* N_VSEL */
            int64_t range_ms;
        } ms;
        struct {
            const am_pql_func *f;
            am_pql_node **args;
            size_t n;
            am_regex *re; /* label_replace: its compiled regex, or */
            const char
                *re_err; /* why it does not compile (an evaluation error, as in Prometheus) */
        } call;
        struct {
            am_tok op;
            am_pql_node *param;
            am_pql_node *expr;
            char **labels;
            size_t n_labels;
            bool without;
            bool has_grouping;
        } agg;
        struct {
            am_tok op;
            am_pql_node *lhs;
            am_pql_node *rhs;
            bool ret_bool;
            am_pql_match *vm; /* NULL unless both sides are vectors */
        } bin;
        struct {
            am_tok op;
            am_pql_node *expr;
        } un;
        struct {
            am_pql_node *expr;
        } paren;
    } u;
};

/* The parsed expression behind alert.h's am_promql. */
struct am_promql {
    am_arena arena;
    char *text;
    am_pql_node *root;
    am_regex **regexes; /* compiled for matchers; freed with the expression */
    size_t n_regexes;
    size_t cap_regexes;
    int64_t max_range_ms; /* the longest range + offset any selector reads */
    bool uses_at;
};

/* ------------------------------------------------------------ values */

typedef struct am_sample {
    const am_lset *l;
    double v;
    int64_t t;
} am_sample;

typedef struct am_vector {
    am_sample *s;
    size_t n;
    size_t cap;
} am_vector;

typedef struct am_mseries {
    const am_lset *l;
    am_point *p;
    size_t n;
} am_mseries;

typedef struct am_matrix {
    am_mseries *s;
    size_t n;
} am_matrix;

typedef struct am_value {
    am_pql_type type;
    double scalar;
    const char *str;
    am_vector vec;
    am_matrix mat;
} am_value;

/* ------------------------------------------------------------ functions */

/*
** A function's evaluation: args are the evaluated arguments (a range
** vector argument arrives as a matrix); out is appended to. Series of a
** matrix argument are evaluated one at a time by the caller when the
** function is marked per_series (the *_over_time family, rate, ...).
*/
typedef void (*am_pql_fn)(am_evaluator *ev, const am_pql_node *call, am_value *args,
                          am_vector *out);

struct am_pql_func {
    const char *name;
    am_pql_type args[5];
    int n_args;     /* required */
    int n_optional; /* optional trailing ones; -1: any number (label_join) */
    am_pql_type ret;
    am_pql_fn fn;
};

/* The function of that name in our subset, or NULL. */
const am_pql_func *am__pql_func(const char *name, size_t n);
/* Whether Prometheus 2.42 has a function of that name (for messages). */
bool am__pql_func_known(const char *name, size_t n);

/* ------------------------------------------------------------ evaluation */

struct am_evaluator {
    am_arena *a;
    am_tsdb *db;
    int64_t ts;       /* evaluation time */
    int64_t start_ms; /* query start/end, for @ start() / end() */
    int64_t end_ms;
    int64_t lookback_ms;
    uint64_t max_samples;
    uint64_t n_samples; /* currently loaded */
    jmp_buf *fail;      /* runtime errors and out of memory */
    am_err err;
    char *errbuf;
    size_t errcap;
};

/* Stop the evaluation with an error (longjmps). */
__attribute__((noreturn, format(printf, 3, 4))) void am__ev_fail(am_evaluator *ev, am_err code,
                                                                 const char *fmt, ...);

am_value am__ev_eval(am_evaluator *ev, const am_pql_node *n);

/* Append a sample to v, growing it in the evaluation's arena. */
void am__vec_push(am_evaluator *ev, am_vector *v, const am_lset *l, double val, int64_t t);
/* l without its __name__ (shared when it has none). */
const am_lset *am__drop_name(am_evaluator *ev, const am_lset *l);
/* Fail when two samples of v have the same labels. */
void am__vec_check_unique(am_evaluator *ev, const am_vector *v);

void am__eval_aggregate(am_evaluator *ev, const am_pql_node *n, am_vector *out);
void am__eval_binary(am_evaluator *ev, const am_pql_node *n, am_value *out);

/* The value inside a result (alert.h's am_promql_result). */
const am_value *am__promql_result_value(const am_promql_result *r);

/* Prometheus' quantile() over values (reordered), as quantile.go does. */
double am__pql_quantile(double q, double *v, size_t n);

#endif
