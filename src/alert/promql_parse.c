/*
** promql_parse.c: PromQL text to a typed syntax tree (promql.h), with the
** checks of Prometheus' parser (promql/parser: generated_parser.y, parse.go
** checkAST) and a refusal, at parse time, of everything outside agentmon's
** subset: subqueries, functions we do not implement, native-histogram
** features. A refusal names line, column and the construct.
**
** DESIGN
** Recursive descent with precedence climbing, one token of lookahead
** (two where an identifier may be a function name). Precedence, lowest
** first: or; and unless; == != <= < >= >; + -; * / % atan2; ^ (right
** associative). Unary minus binds like *, so -a^b is -(a^b) as in
** Prometheus. offset, @ and [range] are postfix on the primary they
** follow and are only accepted after a selector.
**
** Nodes, strings and matchers live in the expression's arena; compiled
** regexes are listed in the expression and freed with it. Errors longjmp
** back to am_promql_parse with the message already formatted.
*/
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../util/alloc.h"
#include "../util/error.h"
#include "promql.h"
#include "promql_fmt.h"

typedef struct parser {
    int nesting; /* parse_expr recursion */
    am_lexer lx;
    am_token tok;
    am_promql *q;
    am_arena *a;
    jmp_buf jb;
    char *err;
    size_t errcap;
    am_err code;
} parser;

const char *am__pql_type_name(am_pql_type t)
{
    switch (t) {
    case AM_PQL_SCALAR:
        return "scalar";
    case AM_PQL_VECTOR:
        return "instant vector";
    case AM_PQL_MATRIX:
        return "range vector";
    case AM_PQL_STRING:
        return "string";
    default:
        return "none";
    }
}

__attribute__((noreturn, format(printf, 3, 4))) static void fail(parser *p, size_t pos,
                                                                 const char *fmt, ...)
{
    int line = 1;
    size_t last_nl = (size_t)-1;
    for (size_t i = 0; i < pos && i < p->lx.n; i++) {
        if (p->lx.s[i] == '\n') {
            line++;
            last_nl = i;
        }
    }
    size_t col = pos - last_nl; /* 1-based, as Prometheus counts */
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(p->err, p->errcap, "%d:%zu: parse error: %s", line, col, msg);
    p->code = AM_EINVAL;
    longjmp(p->jb, 1);
}

static void next(parser *p)
{
    p->tok = am__lex_next(&p->lx);
    if (p->tok.t == T_ERROR)
        fail(p, p->tok.pos, "%s", p->lx.err);
}

static const char *tok_text(parser *p, am_token t)
{
    return am__arena_strndup(p->a, p->lx.s + t.pos, t.len);
}

static __attribute__((noreturn)) void unexpected(parser *p, const char *context)
{
    am_token t = p->tok;
    if (t.t == T_EOF)
        fail(p, t.pos, "unexpected end of input%s%s", context ? " " : "", context ? context : "");
    const char *what = am__tok_desc(t.t);
    if (t.t == T_IDENT || t.t == T_METRIC_IDENT || t.t == T_NUMBER || t.t == T_DURATION ||
        t.t == T_STRING)
        fail(p, t.pos, "unexpected %s \"%.*s\"%s%s", what, (int)t.len, p->lx.s + t.pos,
             context ? " " : "", context ? context : "");
    if (t.t >= T_LAND)
        fail(p, t.pos, "unexpected <%s>%s%s", what, context ? " " : "", context ? context : "");
    fail(p, t.pos, "unexpected %s%s%s", what, context ? " " : "", context ? context : "");
}

static void expect(parser *p, am_tok t, const char *context)
{
    if (p->tok.t != t)
        unexpected(p, context);
    next(p);
}

static am_pql_node *node(parser *p, am_pql_kind k, am_pql_type type, size_t pos)
{
    am_pql_node *n = am__arena_zalloc(p->a, sizeof *n);
    n->kind = k;
    n->type = type;
    n->pos = (uint32_t)pos;
    n->end = (uint32_t)p->lx.pos;
    return n;
}

/* n has child c: n is one deeper; a tree too deep is refused, since
   evaluation recurses along it. */
static void deeper(parser *p, am_pql_node *n, const am_pql_node *c)
{
    if (c->depth + 1 > n->depth)
        n->depth = c->depth + 1;
    if (n->depth > AM_PQL_MAX_DEPTH)
        fail(p, n->pos, "expression nested too deeply (more than %d levels)", AM_PQL_MAX_DEPTH);
}

/* ------------------------------------------------------------ literals */

/* Go's strconv.ParseInt(s, 0, 64), then ParseFloat, as the parser does. */
static double parse_number(parser *p, am_token t)
{
    const char *s = p->lx.s + t.pos;
    size_t n = t.len;
    if (n == 3 && (strncasecmp(s, "inf", 3) == 0))
        return INFINITY;
    if (n == 3 && (strncasecmp(s, "nan", 3) == 0))
        return NAN;
    char buf[128];
    if (n >= sizeof buf)
        fail(p, t.pos, "number too long");
    memcpy(buf, s, n);
    buf[n] = '\0';
    int base = 10;
    const char *digits = buf;
    if (n > 2 && buf[0] == '0' && (buf[1] == 'x' || buf[1] == 'X')) {
        base = 16;
        digits = buf + 2;
    } else if (n > 1 && buf[0] == '0') {
        base = 8;
        digits = buf + 1;
    }
    bool all = *digits != '\0';
    for (const char *c = digits; *c && all; c++)
        all = base == 16 ? ((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f') ||
                            (*c >= 'A' && *c <= 'F'))
                         : (*c >= '0' && *c < (base == 8 ? '8' : ':'));
    if (all) {
        char *end;
        errno = 0;
        long long v = strtoll(digits, &end, base);
        if (!errno && *end == '\0')
            return (double)v;
        if (base == 16)
            fail(p, t.pos, "error parsing number: %s", buf);
    }
    double v;
    if (!am__go_parse_float(buf, n, &v))
        fail(p, t.pos, "error parsing number: %s", buf);
    return v;
}

static int64_t parse_duration(parser *p, am_token t)
{
    int64_t ms;
    if (!am__go_parse_duration(p->lx.s + t.pos, t.len, &ms))
        fail(p, t.pos, "not a valid duration string: \"%.*s\"", (int)t.len, p->lx.s + t.pos);
    return ms;
}

static char *parse_string(parser *p, am_token t)
{
    char *out;
    size_t len;
    if (!am__pql_unquote(p->lx.s + t.pos, t.len, p->a, &out, &len))
        fail(p, t.pos, "invalid syntax in string %.*s", (int)t.len, p->lx.s + t.pos);
    if (strlen(out) != len)
        fail(p, t.pos, "string holds a NUL byte");
    return out;
}

/* ------------------------------------------------------------ selectors */

/* Keep re with the expression, which frees it. */
static am_regex *keep_re(parser *p, am_regex *re)
{
    am_promql *q = p->q;
    size_t cap = q->cap_regexes;
    am_regex **v = am__grow(q->regexes, &cap, q->n_regexes + 1, sizeof *v, 4);
    if (!v) {
        am__regex_free(re);
        longjmp(*p->a->oom, 1);
    }
    q->regexes = v;
    q->cap_regexes = cap;
    q->regexes[q->n_regexes++] = re;
    return re;
}

static am_regex *compile_re(parser *p, const char *pattern, size_t pos)
{
    char err[300];
    am_regex *re;
    am_err rc = am__regex_new(pattern, &re, err, sizeof err);
    if (rc == AM_ENOMEM)
        longjmp(*p->a->oom, 1);
    if (rc)
        fail(p, pos, "%s", err);
    return keep_re(p, re);
}

/* {a="b", c=~"d", ...}: appended to the selector's matchers. */
static void parse_matchers(parser *p, am_pql_vsel *vs, size_t *cap)
{
    expect(p, T_LBRACE, NULL);
    while (p->tok.t != T_RBRACE) {
        if (p->tok.t != T_IDENT)
            unexpected(p, "in label matching, expected label");
        am_token nt = p->tok;
        const char *name = tok_text(p, nt);
        next(p);
        am_match_op op;
        switch (p->tok.t) {
        case T_ASSIGN:
            op = AM_MATCH_EQ;
            break;
        case T_NEQ:
            op = AM_MATCH_NEQ;
            break;
        case T_EQL_REGEX:
            op = AM_MATCH_RE;
            break;
        case T_NEQ_REGEX:
            op = AM_MATCH_NRE;
            break;
        default:
            unexpected(p, "in label matching, expected label matching operator");
        }
        next(p);
        if (p->tok.t != T_STRING)
            unexpected(p, "in label matching, expected string");
        am_token vt = p->tok;
        const char *value = parse_string(p, vt);
        next(p);
        vs->m = am__arena_grow(p->a, vs->m, cap, vs->n_m + 1, sizeof *vs->m);
        am_matcher *m = &vs->m[vs->n_m++];
        m->name = name;
        m->value = value;
        m->op = op;
        m->re = NULL;
        if (op == AM_MATCH_RE || op == AM_MATCH_NRE)
            m->re = compile_re(p, value, vt.pos);
        if (p->tok.t == T_COMMA)
            next(p);
        else if (p->tok.t != T_RBRACE)
            unexpected(p, "in label matching, expected \",\" or \"}\"");
    }
    next(p);
}

static am_pql_node *parse_selector(parser *p)
{
    size_t pos = p->tok.pos, cap = 0;
    am_pql_node *n = node(p, N_VSEL, AM_PQL_VECTOR, pos);
    am_pql_vsel *vs = &n->u.vs;
    if (p->tok.t != T_LBRACE) {
        vs->name = tok_text(p, p->tok);
        vs->m = am__arena_grow(p->a, vs->m, &cap, 1, sizeof *vs->m);
        vs->m[0].name = "__name__";
        vs->m[0].value = vs->name;
        vs->m[0].op = AM_MATCH_EQ;
        vs->m[0].re = NULL;
        vs->n_m = 1;
        next(p);
    }
    if (p->tok.t == T_LBRACE)
        parse_matchers(p, vs, &cap);
    bool non_empty = false;
    size_t names = 0;
    for (size_t i = 0; i < vs->n_m; i++) {
        non_empty |= !am__matcher_ok(&vs->m[i], "");
        names += strcmp(vs->m[i].name, "__name__") == 0;
    }
    if (vs->name && names > 1)
        fail(p, pos, "metric name must not be set twice: \"%s\" or \"%s\"", vs->name,
             vs->m[1].value);
    if (!non_empty)
        fail(p, pos, "vector selector must contain at least one non-empty matcher");
    n->end = (uint32_t)p->tok.pos;
    return n;
}

/* ------------------------------------------------------------ expressions */

static am_pql_node *parse_expr(parser *p, int min_prec);

static int prec(am_tok t)
{
    switch (t) {
    case T_LOR:
        return 1;
    case T_LAND:
    case T_LUNLESS:
        return 2;
    case T_EQLC:
    case T_NEQ:
    case T_LTE:
    case T_LSS:
    case T_GTE:
    case T_GTR:
        return 3;
    case T_ADD:
    case T_SUB:
        return 4;
    case T_MUL:
    case T_DIV:
    case T_MOD:
    case T_ATAN2:
        return 5;
    case T_POW:
        return 6;
    default:
        return 0;
    }
}

/* (a, b, ...) of label names, keywords allowed as names. */
static void parse_labels(parser *p, char ***out, size_t *n, const char *what)
{
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    expect(p, T_LPAREN, what);
    while (p->tok.t != T_RPAREN) {
        const char *name = tok_text(p, p->tok);
        if (p->tok.t == T_NUMBER || p->tok.t == T_STRING || !am__label_name_ok(name))
            unexpected(p, "in grouping opts, expected label");
        next(p);
        *out = am__arena_grow(p->a, *out, &cap, *n + 1, sizeof **out);
        (*out)[(*n)++] = (char *)name;
        if (p->tok.t == T_COMMA)
            next(p);
        else if (p->tok.t != T_RPAREN)
            unexpected(p, "in grouping opts, expected \")\" or \",\"");
    }
    next(p);
}

static am_pql_node *unwrap(am_pql_node *n)
{
    while (n->kind == N_PAREN)
        n = n->u.paren.expr;
    return n;
}

static am_pql_node *parse_call(parser *p)
{
    am_token nt = p->tok;
    const am_pql_func *f = am__pql_func(p->lx.s + nt.pos, nt.len);
    if (!f) {
        if (am__pql_func_known(p->lx.s + nt.pos, nt.len))
            fail(p, nt.pos, "function \"%.*s\" is not supported by agentmon's PromQL subset",
                 (int)nt.len, p->lx.s + nt.pos);
        fail(p, nt.pos, "unknown function with name \"%.*s\"", (int)nt.len, p->lx.s + nt.pos);
    }
    next(p);
    expect(p, T_LPAREN, NULL);
    am_pql_node *n = node(p, N_CALL, f->ret, nt.pos);
    n->u.call.f = f;
    size_t cap = 0;
    while (p->tok.t != T_RPAREN) {
        am_pql_node *arg = parse_expr(p, 1);
        n->u.call.args =
            am__arena_grow(p->a, n->u.call.args, &cap, n->u.call.n + 1, sizeof *n->u.call.args);
        n->u.call.args[n->u.call.n++] = arg;
        deeper(p, n, arg);
        if (p->tok.t == T_COMMA) {
            next(p);
            if (p->tok.t == T_RPAREN)
                fail(p, p->tok.pos, "trailing commas not allowed in function call args");
        } else if (p->tok.t != T_RPAREN) {
            unexpected(p, "in call to function, expected \",\" or \")\"");
        }
    }
    n->end = (uint32_t)p->lx.pos;
    next(p);
    size_t got = n->u.call.n, min = (size_t)f->n_args;
    if (f->n_optional < 0) {
        if (got < min)
            fail(p, nt.pos, "expected at least %zu argument(s) in call to \"%s\", got %zu", min,
                 f->name, got);
    } else {
        size_t max = min + (size_t)f->n_optional;
        if (f->n_optional == 0 && got != min)
            fail(p, nt.pos, "expected %zu argument(s) in call to \"%s\", got %zu", min, f->name,
                 got);
        if (got < min)
            fail(p, nt.pos, "expected at least %zu argument(s) in call to \"%s\", got %zu", min,
                 f->name, got);
        if (got > max)
            fail(p, nt.pos, "expected at most %zu argument(s) in call to \"%s\", got %zu", max,
                 f->name, got);
    }
    for (size_t i = 0; i < got; i++) {
        size_t k = i < 5 ? i : 4;
        am_pql_type want = f->args[k];
        if (n->u.call.args[i]->type != want)
            fail(p, n->u.call.args[i]->pos, "expected type %s in call to function \"%s\", got %s",
                 am__pql_type_name(want), f->name, am__pql_type_name(n->u.call.args[i]->type));
    }
    if (strcmp(f->name, "label_replace") == 0) {
        /* compiled once here; a bad pattern fails each evaluation, as
           Prometheus reports it (not at load) */
        am_pql_node *re = unwrap(n->u.call.args[4]);
        char err[300];
        am_regex *r;
        am_err rc = am__regex_new(re->u.str.s, &r, err, sizeof err);
        if (rc == AM_ENOMEM)
            longjmp(*p->a->oom, 1);
        if (rc) {
            char msg[400];
            snprintf(msg, sizeof msg, "invalid regular expression in label_replace(): %s", err);
            n->u.call.re_err = am__arena_strdup(p->a, msg);
        } else {
            n->u.call.re = keep_re(p, r);
        }
    }
    return n;
}

static am_pql_node *parse_aggregation(parser *p)
{
    am_token ot = p->tok;
    am_pql_node *n = node(p, N_AGG, AM_PQL_VECTOR, ot.pos);
    n->u.agg.op = ot.t;
    next(p);
    if (p->tok.t == T_BY || p->tok.t == T_WITHOUT) {
        n->u.agg.without = p->tok.t == T_WITHOUT;
        n->u.agg.has_grouping = true;
        next(p);
        parse_labels(p, &n->u.agg.labels, &n->u.agg.n_labels, "in grouping opts");
    }
    if (p->tok.t != T_LPAREN)
        unexpected(p, "in aggregation");
    next(p);
    am_pql_node *args[3];
    size_t nargs = 0;
    while (p->tok.t != T_RPAREN) {
        am_pql_node *e = parse_expr(p, 1);
        if (nargs < 3)
            args[nargs] = e;
        nargs++;
        if (p->tok.t == T_COMMA) {
            next(p);
            if (p->tok.t == T_RPAREN)
                fail(p, p->tok.pos, "trailing commas not allowed in function call args");
        } else if (p->tok.t != T_RPAREN) {
            unexpected(p, "in aggregation, expected \",\" or \")\"");
        }
    }
    next(p);
    if (p->tok.t == T_BY || p->tok.t == T_WITHOUT) {
        if (n->u.agg.has_grouping)
            unexpected(p, "in aggregation");
        n->u.agg.without = p->tok.t == T_WITHOUT;
        n->u.agg.has_grouping = true;
        next(p);
        parse_labels(p, &n->u.agg.labels, &n->u.agg.n_labels, "in grouping opts");
    }
    n->end = (uint32_t)p->tok.pos;
    bool has_param =
        ot.t == T_TOPK || ot.t == T_BOTTOMK || ot.t == T_QUANTILE || ot.t == T_COUNT_VALUES;
    size_t want = has_param ? 2 : 1;
    if (nargs != want)
        fail(p, ot.pos,
             "wrong number of arguments for aggregate expression provided, expected %zu, got %zu",
             want, nargs);
    n->u.agg.expr = args[want - 1];
    deeper(p, n, n->u.agg.expr);
    if (has_param) {
        n->u.agg.param = args[0];
        deeper(p, n, args[0]);
    }
    if (n->u.agg.expr->type != AM_PQL_VECTOR)
        fail(p, n->u.agg.expr->pos,
             "expected type instant vector in aggregation expression, got %s",
             am__pql_type_name(n->u.agg.expr->type));
    if (has_param) {
        am_pql_type pt = ot.t == T_COUNT_VALUES ? AM_PQL_STRING : AM_PQL_SCALAR;
        if (n->u.agg.param->type != pt)
            fail(p, n->u.agg.param->pos, "expected type %s in aggregation parameter, got %s",
                 am__pql_type_name(pt), am__pql_type_name(n->u.agg.param->type));
        if (ot.t == T_COUNT_VALUES) {
            const char *l = unwrap(n->u.agg.param)->u.str.s;
            if (!am__label_name_ok(l))
                fail(p, n->u.agg.param->pos, "invalid label name %s", l);
        }
    }
    return n;
}

static bool is_selector(const am_pql_node *n)
{
    return n->kind == N_VSEL || n->kind == N_MSEL;
}

static am_pql_vsel *vsel_of(am_pql_node *n)
{
    return n->kind == N_VSEL ? &n->u.vs : &n->u.ms.vs->u.vs;
}

/* [range], offset and @ after a primary. */
static am_pql_node *parse_postfix(parser *p, am_pql_node *n)
{
    for (;;) {
        if (p->tok.t == T_LBRACKET) {
            size_t pos = p->tok.pos;
            next(p);
            if (p->tok.t != T_DURATION) {
                if (p->tok.t == T_COLON)
                    fail(p, p->tok.pos, "subqueries are not supported by agentmon's PromQL subset");
                unexpected(p, "in subquery or range selector, expected duration");
            }
            int64_t range = parse_duration(p, p->tok);
            next(p);
            if (p->tok.t == T_COLON)
                fail(p, p->tok.pos, "subqueries are not supported by agentmon's PromQL subset");
            if (p->tok.t != T_RBRACKET)
                unexpected(p, "in subquery or range selector, expected \"]\"");
            next(p);
            if (n->kind != N_VSEL)
                fail(p, pos,
                     n->kind == N_MSEL ? "subqueries are not supported by agentmon's "
                                         "PromQL subset"
                                       : "ranges only allowed for vector selectors");
            if (n->u.vs.offset_ms || n->u.vs.at)
                fail(p, pos, "no offset modifiers allowed before range");
            if (range <= 0)
                fail(p, pos, "range must be greater than 0");
            am_pql_node *m = node(p, N_MSEL, AM_PQL_MATRIX, n->pos);
            m->u.ms.vs = n;
            deeper(p, m, n);
            m->u.ms.range_ms = range;
            n = m;
            continue;
        }
        if (p->tok.t == T_OFFSET) {
            size_t pos = p->tok.pos;
            next(p);
            bool neg = false;
            if (p->tok.t == T_SUB || p->tok.t == T_ADD) {
                neg = p->tok.t == T_SUB;
                next(p);
            }
            if (p->tok.t != T_DURATION)
                unexpected(p, "in offset, expected duration");
            int64_t off = parse_duration(p, p->tok);
            next(p);
            if (!is_selector(n))
                fail(p, pos,
                     "offset modifier must be preceded by an instant vector selector or "
                     "range vector selector or a subquery");
            am_pql_vsel *vs = vsel_of(n);
            if (vs->offset_ms)
                fail(p, pos, "offset may not be set multiple times");
            vs->offset_ms = neg ? -off : off;
            continue;
        }
        if (p->tok.t == T_AT) {
            size_t pos = p->tok.pos;
            next(p);
            am_at_kind kind = AT_TIME;
            double ts = 0;
            if (p->tok.t == T_START || p->tok.t == T_END) {
                kind = p->tok.t == T_START ? AT_START : AT_END;
                next(p);
                expect(p, T_LPAREN, "in @");
                expect(p, T_RPAREN, "in @");
            } else {
                double sign = 1;
                if (p->tok.t == T_SUB || p->tok.t == T_ADD) {
                    sign = p->tok.t == T_SUB ? -1 : 1;
                    next(p);
                }
                if (p->tok.t != T_NUMBER)
                    unexpected(p, "in @, expected timestamp");
                ts = sign * parse_number(p, p->tok);
                next(p);
                if (!isfinite(ts) || fabs(ts * 1000) > 9.2e18)
                    fail(p, pos, "timestamp out of bounds for @ modifier: %f", ts);
            }
            if (!is_selector(n))
                fail(p, pos,
                     "@ modifier must be preceded by an instant vector selector or range "
                     "vector selector or a subquery");
            am_pql_vsel *vs = vsel_of(n);
            if (vs->at)
                fail(p, pos, "@ <timestamp> may not be set multiple times");
            vs->at = kind;
            vs->at_ms = (int64_t)llround(ts * 1000);
            p->q->uses_at = true;
            continue;
        }
        return n;
    }
}

static am_pql_node *parse_primary(parser *p)
{
    am_token t = p->tok;
    switch (t.t) {
    case T_NUMBER: {
        am_pql_node *n = node(p, N_NUMBER, AM_PQL_SCALAR, t.pos);
        n->u.num = parse_number(p, t);
        next(p);
        return n;
    }
    case T_STRING: {
        am_pql_node *n = node(p, N_STRING, AM_PQL_STRING, t.pos);
        n->u.str.s = parse_string(p, t);
        next(p);
        return n;
    }
    case T_LPAREN: {
        next(p);
        am_pql_node *e = parse_expr(p, 1);
        if (p->tok.t != T_RPAREN)
            unexpected(p, "in paren expression, expected \")\"");
        am_pql_node *n = node(p, N_PAREN, e->type, t.pos);
        n->u.paren.expr = e;
        deeper(p, n, e);
        next(p);
        return n;
    }
    case T_LBRACE:
    case T_METRIC_IDENT:
        return parse_selector(p);
    case T_IDENT: {
        am_lexer save = p->lx;
        am_token after = am__lex_next(&p->lx);
        p->lx = save;
        if (after.t == T_LPAREN)
            return parse_call(p);
        return parse_selector(p);
    }
    default:
        if (am__tok_is_aggregator(t.t))
            return parse_aggregation(p);
        if (t.t == T_DURATION)
            fail(p, t.pos, "unexpected duration \"%.*s\"", (int)t.len, p->lx.s + t.pos);
        unexpected(p, NULL);
    }
}

static am_pql_node *parse_unary(parser *p)
{
    if (p->tok.t == T_ADD || p->tok.t == T_SUB) {
        am_token op = p->tok;
        next(p);
        am_pql_node *e = parse_expr(p, 6);
        if (e->type != AM_PQL_SCALAR && e->type != AM_PQL_VECTOR)
            fail(p, op.pos,
                 "unary expression only allowed on expressions of type scalar or instant vector, "
                 "got %s",
                 am__pql_type_name(e->type));
        if (e->kind == N_NUMBER) { /* -1 is a literal, as in Prometheus */
            if (op.t == T_SUB)
                e->u.num = -e->u.num;
            e->pos = op.pos;
            return e;
        }
        am_pql_node *n = node(p, N_UNARY, e->type, op.pos);
        n->u.un.op = op.t;
        n->u.un.expr = e;
        deeper(p, n, e);
        return n;
    }
    return parse_postfix(p, parse_primary(p));
}

static am_pql_node *binary(parser *p, am_token op, am_pql_node *lhs, am_pql_node *rhs,
                           bool ret_bool, am_pql_match *vm)
{
    am_pql_type lt = lhs->type, rt = rhs->type;
    if (ret_bool && !am__tok_is_comparison(op.t))
        fail(p, op.pos, "bool modifier can only be used on comparison operators");
    if (am__tok_is_comparison(op.t) && !ret_bool && lt == AM_PQL_SCALAR && rt == AM_PQL_SCALAR)
        fail(p, op.pos, "comparisons between scalars must use BOOL modifier");
    if (am__tok_is_setop(op.t) && vm->card == CARD_ONE_TO_ONE)
        vm->card = CARD_MANY_TO_MANY;
    for (size_t i = 0; vm->on && i < vm->n_labels; i++)
        for (size_t k = 0; k < vm->n_include; k++)
            if (strcmp(vm->labels[i], vm->include[k]) == 0)
                fail(p, op.pos, "label \"%s\" must not occur in ON and GROUP clause at once",
                     vm->include[k]);
    if ((lt != AM_PQL_SCALAR && lt != AM_PQL_VECTOR) ||
        (rt != AM_PQL_SCALAR && rt != AM_PQL_VECTOR))
        fail(p, lt != AM_PQL_SCALAR && lt != AM_PQL_VECTOR ? lhs->pos : rhs->pos,
             "binary expression must contain only scalar and instant vector types");
    if (lt != AM_PQL_VECTOR || rt != AM_PQL_VECTOR) {
        if (vm->n_labels > 0)
            fail(p, op.pos, "vector matching only allowed between instant vectors");
        vm = NULL;
    } else if (am__tok_is_setop(op.t)) {
        if (vm->card == CARD_ONE_TO_MANY || vm->card == CARD_MANY_TO_ONE)
            fail(p, op.pos, "no grouping allowed for \"%s\" operation", am__tok_desc(op.t));
    }
    if ((lt == AM_PQL_SCALAR || rt == AM_PQL_SCALAR) && am__tok_is_setop(op.t))
        fail(p, op.pos, "set operator \"%s\" not allowed in binary scalar expression",
             am__tok_desc(op.t));
    am_pql_node *n =
        node(p, N_BINARY,
             lt == AM_PQL_SCALAR && rt == AM_PQL_SCALAR ? AM_PQL_SCALAR : AM_PQL_VECTOR, lhs->pos);
    n->end = rhs->end;
    n->u.bin.op = op.t;
    n->u.bin.lhs = lhs;
    n->u.bin.rhs = rhs;
    n->u.bin.ret_bool = ret_bool;
    n->u.bin.vm = vm;
    deeper(p, n, lhs);
    deeper(p, n, rhs);
    return n;
}

static am_pql_node *parse_expr(parser *p, int min_prec)
{
    if (++p->nesting > AM_PQL_MAX_DEPTH)
        fail(p, p->tok.pos, "expression nested too deeply (more than %d levels)", AM_PQL_MAX_DEPTH);
    am_pql_node *lhs = parse_unary(p);
    for (;;) {
        am_token op = p->tok;
        int pr = prec(op.t);
        if (pr == 0 || pr < min_prec) {
            p->nesting--;
            return lhs;
        }
        next(p);
        bool ret_bool = false;
        am_pql_match *vm = am__arena_zalloc(p->a, sizeof *vm);
        vm->card = CARD_ONE_TO_ONE;
        if (p->tok.t == T_BOOL) {
            ret_bool = true;
            next(p);
        }
        if (p->tok.t == T_ON || p->tok.t == T_IGNORING) {
            vm->on = p->tok.t == T_ON;
            next(p);
            parse_labels(p, &vm->labels, &vm->n_labels, "in grouping opts");
            if (p->tok.t == T_GROUP_LEFT || p->tok.t == T_GROUP_RIGHT) {
                vm->card = p->tok.t == T_GROUP_LEFT ? CARD_MANY_TO_ONE : CARD_ONE_TO_MANY;
                next(p);
                if (p->tok.t == T_LPAREN)
                    parse_labels(p, &vm->include, &vm->n_include, "in grouping opts");
            }
        }
        am_pql_node *rhs = parse_expr(p, op.t == T_POW ? pr : pr + 1);
        lhs = binary(p, op, lhs, rhs, ret_bool, vm);
    }
}

/* ------------------------------------------------------------ reach */

static void reach(am_promql *q, const am_pql_node *n)
{
    switch (n->kind) {
    case N_VSEL: {
        int64_t r = n->u.vs.offset_ms > 0 ? n->u.vs.offset_ms : 0;
        if (r > q->max_range_ms)
            q->max_range_ms = r;
        break;
    }
    case N_MSEL: {
        int64_t off = n->u.ms.vs->u.vs.offset_ms;
        int64_t r = n->u.ms.range_ms + (off > 0 ? off : 0);
        if (r > q->max_range_ms)
            q->max_range_ms = r;
        break;
    }
    case N_CALL:
        for (size_t i = 0; i < n->u.call.n; i++)
            reach(q, n->u.call.args[i]);
        break;
    case N_AGG:
        reach(q, n->u.agg.expr);
        if (n->u.agg.param)
            reach(q, n->u.agg.param);
        break;
    case N_BINARY:
        reach(q, n->u.bin.lhs);
        reach(q, n->u.bin.rhs);
        break;
    case N_UNARY:
        reach(q, n->u.un.expr);
        break;
    case N_PAREN:
        reach(q, n->u.paren.expr);
        break;
    default:
        break;
    }
}

/* ------------------------------------------------------------ API */

void am_promql_free(am_promql *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->n_regexes; i++)
        am__regex_free(q->regexes[i]);
    am__free(q->regexes);
    am__arena_free(&q->arena);
    am__free(q->text);
    am__free(q);
}

/* With the error buffer settled; the one place that sets the jmp_buf. */
static am_err parse_into(am_promql *q, parser *p)
{
    if (setjmp(p->jb))
        return p->code;
    size_t n = strlen(q->text);
    am__lex_init(&p->lx, q->text, n);
    next(p);
    if (p->tok.t == T_EOF)
        fail(p, 0, "no expression found in input");
    q->root = parse_expr(p, 1);
    if (p->tok.t != T_EOF)
        unexpected(p, NULL);
    reach(q, q->root);
    return AM_OK;
}

am_err am_promql_parse(const char *text, am_promql **out, char *err, size_t cap)
{
    char dummy[8];
    if (!err || !cap) {
        err = dummy;
        cap = sizeof dummy;
    }
    err[0] = '\0';
    if (!text || !out) {
        snprintf(err, cap, "no expression");
        return am__err(AM_EINVAL, "am_promql_parse: no expression");
    }
    am_promql *q = am__calloc(1, sizeof *q);
    parser *p = am__calloc(1, sizeof *p);
    if (q)
        q->text = am__strdup(text);
    if (!q || !p || !q->text) {
        if (q)
            am__free(q->text);
        am__free(q);
        am__free(p);
        snprintf(err, cap, "out of memory");
        return am__err(AM_ENOMEM, "out of memory");
    }
    p->q = q;
    p->a = &q->arena;
    p->err = err;
    p->errcap = cap;
    p->code = AM_ENOMEM;
    am__arena_init(&q->arena, &p->jb);
    am_err rc = parse_into(q, p);
    am__free(p);
    q->arena.oom = NULL;
    if (rc) {
        if (rc == AM_ENOMEM)
            snprintf(err, cap, "out of memory");
        am_promql_free(q);
        return am__err(rc, "%s", err);
    }
    *out = q;
    return AM_OK;
}

const char *am_promql_text(const am_promql *q)
{
    return q->text;
}

int64_t am_promql_reach_ms(const am_promql *q)
{
    return q->max_range_ms;
}
