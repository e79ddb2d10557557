/*
** template_int.h: what the three files of the template engine share
** (template.c parses, template_run.c executes, template_funcs.c holds the
** functions): the parse tree, the function ids, run-time values and the
** execution state.
*/
#ifndef AM_ALERT_TEMPLATE_INT_H
#define AM_ALERT_TEMPLATE_INT_H

#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>

#include "../util/buf.h"
#include "arena.h"
#include "labels.h"
#include "template.h"

/* ------------------------------------------------------------ tree */

typedef enum {
    A_DOT,
    A_FIELD, /* .A.B: chain on dot */
    A_VAR,   /* $x.A.B */
    A_STR,
    A_INT,
    A_FLOAT,
    A_BOOL,
    A_NIL,
    A_FUNC,
    A_PIPE /* (pipeline).A.B */
} akind;

typedef struct pipe pipe;

typedef struct arg {
    akind k;
    const char *s; /* A_STR text, A_VAR name, A_FUNC name */
    int64_t i;
    double f;
    bool b;
    pipe *p;
    const char **chain;
    size_t n_chain;
    int fn; /* A_FUNC: index into FUNCS */
} arg;

typedef struct cmd {
    arg *args;
    size_t n;
} cmd;

struct pipe {
    const char *decl[2];
    size_t n_decl;
    bool is_assign; /* = rather than := */
    cmd *cmds;
    size_t n;
    int line;
};

typedef enum { TN_TEXT, TN_ACTION, TN_IF, TN_WITH, TN_RANGE } tkind;

typedef struct tnode tnode;
struct tnode {
    tkind k;
    int line;
    const char *text;
    size_t len;
    pipe *p;
    tnode *list;
    tnode *else_list;
    tnode *next;
};

struct am_tmpl {
    am_arena arena;
    char *name;
    char *text;
    tnode *root;
};

/* ------------------------------------------------------------ functions */

typedef enum {
    F_AND,
    F_OR,
    F_NOT,
    F_EQ,
    F_NE,
    F_LT,
    F_LE,
    F_GT,
    F_GE,
    F_LEN,
    F_INDEX,
    F_PRINT,
    F_PRINTF,
    F_PRINTLN,
    F_HTML,
    F_URLQUERY,
    F_QUERY,
    F_FIRST,
    F_LABEL,
    F_VALUE,
    F_STRVALUE,
    F_SORTBYLABEL,
    F_HUMANIZE,
    F_HUMANIZE1024,
    F_HUMANIZEDURATION,
    F_HUMANIZEPERCENTAGE,
    F_HUMANIZETIMESTAMP,
    F_TITLE,
    F_TOUPPER,
    F_TOLOWER,
    F_MATCH,
    F_REREPLACEALL,
    F_SAFEHTML,
    F_STRIPPORT,
    F_EXTERNALURL,
    F_PATHPREFIX,
    F_TABLELINK,
    F_GRAPHLINK,
    F_PARSEDURATION,
    F_ARGS
} fid;

/* The functions by id, and Go's or Prometheus' others that we refuse. */
extern const char *const am__tmpl_funcs[];
extern const size_t am__tmpl_n_funcs;
extern const char *const am__tmpl_other_funcs[];
extern const size_t am__tmpl_n_other_funcs;

/* ------------------------------------------------------------ values */

typedef enum {
    V_NIL,
    V_BOOL,
    V_INT,
    V_FLOAT,
    V_STR,
    V_MAP,     /* a label set: map[string]string */
    V_SAMPLES, /* query results */
    V_SAMPLE,
    V_DATA /* the top-level alert data */
} vkind;

typedef struct tsample {
    const am_lset *labels;
    double value;
} tsample;

typedef struct tval {
    vkind k;
    bool b;
    int64_t i;
    double f;
    const char *s;
    const am_lset *map;
    tsample *samples;
    size_t n;
} tval;

typedef struct tvar {
    const char *name;
    tval v;
} tvar;

typedef struct exec {
    const am_tmpl *t;
    const am_tmpl_data *d;
    am_arena a;
    am_buf *out;
    jmp_buf jb;
    char *err;
    size_t cap;
    tvar *vars;
    size_t n_vars;
    size_t cap_vars;
    int line;
    int depth;
    size_t steps;
} exec;

static inline tval v_str(const char *s)
{
    tval v = {V_STR, false, 0, 0, s, NULL, NULL, 0};
    return v;
}

static inline tval v_float(double f)
{
    tval v = {V_FLOAT, false, 0, f, NULL, NULL, NULL, 0};
    return v;
}

static inline tval v_bool(bool b)
{
    tval v = {V_BOOL, b, 0, 0, NULL, NULL, NULL, 0};
    return v;
}

/* Stop the expansion with Go's "template: NAME:LINE: executing ..." */
__attribute__((noreturn, format(printf, 2, 3))) void am__t_err(exec *x, const char *fmt, ...);
/* Go's name of a value's type, for messages. */
const char *am__t_type(const tval *v);
/* text/template's truth: false, 0, "", empty, nil are false. */
bool am__t_truth(const tval *v);
/* fmt's %v of a value. */
void am__t_print(exec *x, am_buf *b, const tval *v);
const char *am__t_string(exec *x, const tval *v);
/* Prometheus' convertToFloat. */
double am__t_float(exec *x, const char *fn, const tval *v);
tval am__t_eval_arg(exec *x, const arg *a, const tval *dot);
/* Call function fn with args (evaluated here, and lazily for and/or) and
   the value piped in, if any. */
tval am__t_call(exec *x, int fn, const arg *args, size_t n, const tval *piped, const tval *dot);

#endif
