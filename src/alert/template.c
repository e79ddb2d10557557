/*
** template.c: Go text/template, the subset Prometheus' alert templates use
** (template.h).
**
** DESIGN
** Parsing follows text/template/parse: text and actions between {{ }},
** trim markers "{{- " and " -}}", comments ("{{/" "* ... *" "/}}"), pipelines of
** commands separated by '|', where a command is a function with
** arguments or a single operand; control structures if/else if/else,
** with/else, range/else, each closed by {{end}}. Errors carry Go's text
** ("template: NAME:LINE: ...") so a rule file's refusal reads like
** promtool's. Unknown functions are refused at parse time, as Go does.
**
** Execution keeps a stack of variables (popped at the end of each
** control block, as Go scopes them) and evaluates to tagged values:
** nil, bool, int, float, string, a map of strings (label sets), query
** results and their samples, and the top-level alert data. Numbers
** without '.', 'e' or 'p' are ints, so `gt $value 100` fails with Go's
** "incompatible types for comparison" just as in Prometheus, and
** `gt $value 100.0` works. Prometheus sets missingkey=zero: a missing
** label prints as "".
**
** Values print as fmt.Fprint prints them: floats in Go's %v ('g',
** shortest), maps as map[k:v ...] with sorted keys. The humanize
** functions use %.4g, which C's printf rounds like Go except for the
** spelling of NaN/Inf, handled in promql_fmt.c.
**
** Everything a template allocates lives in an arena: the parse tree in
** the template's, an expansion's values in a per-call arena.
*/
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/alloc.h"
#include "../core/fmt.h"
#include "promql.h"
#include "promql_fmt.h"
#include "regex.h"
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

static const char *const FUNCS[] = {
    "and",
    "or",
    "not",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "len",
    "index",
    "print",
    "printf",
    "println",
    "html",
    "urlquery",
    "query",
    "first",
    "label",
    "value",
    "strvalue",
    "sortByLabel",
    "humanize",
    "humanize1024",
    "humanizeDuration",
    "humanizePercentage",
    "humanizeTimestamp",
    "title",
    "toUpper",
    "toLower",
    "match",
    "reReplaceAll",
    "safeHtml",
    "stripPort",
    "externalURL",
    "pathPrefix",
    "tableLink",
    "graphLink",
    "parseDuration",
    "args",
};
#define N_FUNCS (sizeof FUNCS / sizeof FUNCS[0])

/* Go's and Prometheus' other template functions: known, not ours. */
static const char *const OTHER_FUNCS[] = {"call",        "slice",  "js",
                                          "stripDomain", "toTime", "humanizeDurationMs"};

/* ------------------------------------------------------------ parser */

typedef struct tparser {
    am_tmpl *t;
    am_arena *a;
    const char *s;
    size_t n;
    size_t pos;     /* in s */
    size_t act_end; /* end of the current action's inside */
    int line;
    jmp_buf jb;
    char *err;
    size_t cap;
    int depth;
} tparser;

__attribute__((noreturn, format(printf, 2, 3))) static void perr(tparser *p, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(p->err, p->cap, "template: %s:%d: %s", p->t->name, p->line, msg);
    longjmp(p->jb, 1);
}

static int line_at(const tparser *p, size_t pos)
{
    int line = 1;
    for (size_t i = 0; i < pos && i < p->n; i++)
        line += p->s[i] == '\n';
    return line;
}

/* Within an action: skip spaces. */
static void skip_sp(tparser *p)
{
    while (p->pos < p->act_end && isspace((unsigned char)p->s[p->pos]))
        p->pos++;
}

static bool at_end(tparser *p)
{
    skip_sp(p);
    return p->pos >= p->act_end;
}

static bool is_ident_char(int c)
{
    return isalnum(c) || c == '_' || c >= 0x80;
}

static const char *word(tparser *p, size_t *len)
{
    size_t st = p->pos;
    while (p->pos < p->act_end && is_ident_char((unsigned char)p->s[p->pos]))
        p->pos++;
    *len = p->pos - st;
    return p->s + st;
}

static bool word_is(const char *w, size_t n, const char *k)
{
    return strlen(k) == n && memcmp(w, k, n) == 0;
}

static pipe *parse_pipe(tparser *p, bool in_parens);

/* A chain of .Field after an operand. */
static void parse_chain(tparser *p, arg *a)
{
    size_t cap = 0;
    while (p->pos < p->act_end && p->s[p->pos] == '.' && p->pos + 1 < p->act_end &&
           is_ident_char((unsigned char)p->s[p->pos + 1])) {
        p->pos++;
        size_t len;
        const char *w = word(p, &len);
        a->chain = am__arena_grow(p->a, a->chain, &cap, a->n_chain + 1, sizeof *a->chain);
        a->chain[a->n_chain++] = am__arena_strndup(p->a, w, len);
    }
}

static char *parse_go_string(tparser *p)
{
    size_t st = p->pos;
    char q = p->s[p->pos++];
    while (p->pos < p->act_end && p->s[p->pos] != q) {
        if (p->s[p->pos] == '\\' && q != '`')
            p->pos++;
        if (p->s[p->pos] == '\n' && q != '`')
            perr(p, "unterminated quoted string");
        p->pos++;
    }
    if (p->pos >= p->act_end)
        perr(p, q == '`' ? "unterminated raw quoted string" : "unterminated quoted string");
    p->pos++;
    char *out;
    size_t len;
    if (!am__pql_unquote(p->s + st, p->pos - st, p->a, &out, &len))
        perr(p, "invalid syntax in %.*s", (int)(p->pos - st), p->s + st);
    return out;
}

static void parse_number(tparser *p, arg *a)
{
    size_t st = p->pos;
    if (p->s[p->pos] == '+' || p->s[p->pos] == '-')
        p->pos++;
    while (p->pos < p->act_end &&
           (isalnum((unsigned char)p->s[p->pos]) || p->s[p->pos] == '.' || p->s[p->pos] == '_' ||
            ((p->s[p->pos] == '+' || p->s[p->pos] == '-') && strchr("eEpP", p->s[p->pos - 1]))))
        p->pos++;
    size_t n = p->pos - st;
    char buf[64];
    if (n >= sizeof buf)
        perr(p, "bad number syntax: \"%.*s\"", (int)n, p->s + st);
    memcpy(buf, p->s + st, n);
    buf[n] = '\0';
    const char *digits = buf[0] == '-' || buf[0] == '+' ? buf + 1 : buf;
    bool hex = digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X');
    bool floaty = !hex && strpbrk(digits, ".eE") != NULL;
    if (!floaty) {
        char *end;
        errno = 0;
        long long v = strtoll(buf, &end, 0);
        if (*end == '\0' && !errno) {
            a->k = A_INT;
            a->i = v;
            a->f = (double)v;
            return;
        }
    }
    double f;
    if (!am__go_parse_float(buf, n, &f))
        perr(p, "bad number syntax: \"%s\"", buf);
    a->k = A_FLOAT;
    a->f = f;
}

static int find_func(const char *w, size_t n)
{
    for (size_t i = 0; i < N_FUNCS; i++)
        if (word_is(w, n, FUNCS[i]))
            return (int)i;
    return -1;
}

/* One operand (or function name) of a command; false at '|' or the end. */
static bool parse_arg(tparser *p, arg *a)
{
    skip_sp(p);
    if (p->pos >= p->act_end)
        return false;
    memset(a, 0, sizeof *a);
    char c = p->s[p->pos];
    if (c == '|' || c == ')')
        return false;
    if (c == '(') {
        p->pos++;
        a->k = A_PIPE;
        a->p = parse_pipe(p, true);
        skip_sp(p);
        if (p->pos >= p->act_end || p->s[p->pos] != ')')
            perr(p, "unclosed left paren");
        p->pos++;
        parse_chain(p, a);
        return true;
    }
    if (c == '"' || c == '`') {
        a->k = A_STR;
        a->s = parse_go_string(p);
        return true;
    }
    if (c == '\'') {
        size_t st = p->pos++;
        while (p->pos < p->act_end && p->s[p->pos] != '\'') {
            if (p->s[p->pos] == '\\')
                p->pos++;
            p->pos++;
        }
        if (p->pos >= p->act_end)
            perr(p, "unterminated character constant");
        p->pos++;
        /* 'x' as a Go rune: its code point */
        char *out;
        size_t len;
        char tmp[16];
        size_t k = p->pos - st;
        if (k >= sizeof tmp)
            perr(p, "malformed character constant");
        memcpy(tmp, p->s + st, k);
        tmp[0] = tmp[k - 1] = '"';
        if (!am__pql_unquote(tmp, k, p->a, &out, &len) || len == 0)
            perr(p, "malformed character constant: %.*s", (int)k, p->s + st);
        unsigned char b0 = (unsigned char)out[0];
        int64_t r = b0;
        if (b0 >= 0xc0 && len >= 2) {
            size_t m = b0 >= 0xf0 ? 4 : b0 >= 0xe0 ? 3 : 2;
            r = b0 & (0x3f >> (m - 1));
            for (size_t i = 1; i < m && i < len; i++)
                r = r << 6 | (out[i] & 0x3f);
        }
        a->k = A_INT;
        a->i = r;
        a->f = (double)r;
        return true;
    }
    if (c == '.') {
        if (p->pos + 1 < p->act_end && is_ident_char((unsigned char)p->s[p->pos + 1]) &&
            !isdigit((unsigned char)p->s[p->pos + 1])) {
            a->k = A_FIELD;
            parse_chain(p, a);
            return true;
        }
        if (p->pos + 1 < p->act_end && isdigit((unsigned char)p->s[p->pos + 1])) {
            parse_number(p, a);
            return true;
        }
        p->pos++;
        a->k = A_DOT;
        return true;
    }
    if (c == '$') {
        p->pos++;
        size_t len;
        const char *w = word(p, &len);
        a->k = A_VAR;
        char *name = am__arena_alloc(p->a, len + 2);
        name[0] = '$';
        memcpy(name + 1, w, len);
        name[len + 1] = '\0';
        a->s = name;
        parse_chain(p, a);
        return true;
    }
    if (isdigit((unsigned char)c) ||
        ((c == '-' || c == '+') && p->pos + 1 < p->act_end &&
         (isdigit((unsigned char)p->s[p->pos + 1]) || p->s[p->pos + 1] == '.'))) {
        parse_number(p, a);
        return true;
    }
    if (is_ident_char((unsigned char)c)) {
        size_t len;
        const char *w = word(p, &len);
        if (word_is(w, len, "true") || word_is(w, len, "false")) {
            a->k = A_BOOL;
            a->b = w[0] == 't';
            return true;
        }
        if (word_is(w, len, "nil")) {
            a->k = A_NIL;
            return true;
        }
        if (word_is(w, len, "if") || word_is(w, len, "else") || word_is(w, len, "end") ||
            word_is(w, len, "range") || word_is(w, len, "with") || word_is(w, len, "define") ||
            word_is(w, len, "template") || word_is(w, len, "block") || word_is(w, len, "break") ||
            word_is(w, len, "continue"))
            perr(p, "unexpected <%.*s> in command", (int)len, w);
        int f = find_func(w, len);
        if (f < 0) {
            for (size_t i = 0; i < sizeof OTHER_FUNCS / sizeof OTHER_FUNCS[0]; i++)
                if (word_is(w, len, OTHER_FUNCS[i]))
                    perr(p, "function \"%.*s\" is not supported by agentmon's templates", (int)len,
                         w);
            perr(p, "function \"%.*s\" not defined", (int)len, w);
        }
        a->k = A_FUNC;
        a->fn = f;
        a->s = FUNCS[f];
        return true;
    }
    perr(p, "unexpected \"%c\" in command", c);
}

static pipe *parse_pipe(tparser *p, bool in_parens)
{
    if (++p->depth > 100)
        perr(p, "nested too deeply");
    pipe *pp = am__arena_zalloc(p->a, sizeof *pp);
    pp->line = p->line;
    /* declarations: $x := or $x = or $i, $e := */
    size_t save = p->pos;
    skip_sp(p);
    if (p->pos < p->act_end && p->s[p->pos] == '$') {
        const char *names[2];
        size_t nn = 0;
        bool ok = false;
        for (;;) {
            if (p->s[p->pos] != '$')
                break;
            p->pos++;
            size_t len;
            const char *w = word(p, &len);
            char *name = am__arena_alloc(p->a, len + 2);
            name[0] = '$';
            memcpy(name + 1, w, len);
            name[len + 1] = '\0';
            names[nn++] = name;
            skip_sp(p);
            if (p->pos + 1 < p->act_end && p->s[p->pos] == ':' && p->s[p->pos + 1] == '=') {
                p->pos += 2;
                ok = true;
                break;
            }
            if (p->pos < p->act_end && p->s[p->pos] == '=' &&
                (p->pos + 1 >= p->act_end || p->s[p->pos + 1] != '=')) {
                p->pos++;
                ok = true;
                pp->is_assign = true;
                break;
            }
            if (nn == 1 && p->pos < p->act_end && p->s[p->pos] == ',') {
                p->pos++;
                skip_sp(p);
                continue;
            }
            break;
        }
        if (ok) {
            pp->n_decl = nn;
            pp->decl[0] = names[0];
            pp->decl[1] = nn > 1 ? names[1] : NULL;
        } else {
            p->pos = save;
        }
    }
    size_t cap = 0;
    for (;;) {
        cmd c = {0};
        size_t acap = 0;
        arg a;
        while (parse_arg(p, &a)) {
            c.args = am__arena_grow(p->a, c.args, &acap, c.n + 1, sizeof *c.args);
            c.args[c.n++] = a;
        }
        if (c.n == 0)
            perr(p, "missing value for command");
        if (c.args[0].k == A_NIL)
            perr(p, "nil is not a command");
        pp->cmds = am__arena_grow(p->a, pp->cmds, &cap, pp->n + 1, sizeof *pp->cmds);
        pp->cmds[pp->n++] = c;
        skip_sp(p);
        if (p->pos < p->act_end && p->s[p->pos] == '|') {
            p->pos++;
            continue;
        }
        if (p->pos < p->act_end && p->s[p->pos] == ')' && in_parens)
            break;
        if (p->pos < p->act_end)
            perr(p, "unexpected \"%c\" in operand", p->s[p->pos]);
        break;
    }
    p->depth--;
    return pp;
}

/*
** The text cut into items first: text runs (already trimmed by the
** neighbouring markers) and actions (the bytes between the delimiters and
** markers). Comments are dropped here.
*/
typedef struct item {
    bool is_action;
    const char *text;
    size_t len;
    size_t in_start;
    size_t in_end;
    int line;
} item;

static void add_item(tparser *p, item **v, size_t *n, size_t *cap, item it)
{
    *v = am__arena_grow(p->a, *v, cap, *n + 1, sizeof **v);
    (*v)[(*n)++] = it;
}

static item *scan(tparser *p, size_t *count)
{
    item *v = NULL;
    size_t n = 0, cap = 0, pos = 0;
    bool trim_next = false;
    for (;;) {
        const char *open = strstr(p->s + pos, "{{");
        size_t o = open ? (size_t)(open - p->s) : p->n;
        size_t ts = pos, te = o;
        if (trim_next)
            while (ts < te && isspace((unsigned char)p->s[ts]))
                ts++;
        size_t st = o + 2;
        bool ltrim =
            open && st + 1 < p->n && p->s[st] == '-' && isspace((unsigned char)p->s[st + 1]);
        if (ltrim) {
            st += 2;
            while (te > ts && isspace((unsigned char)p->s[te - 1]))
                te--;
        }
        if (te > ts) {
            item it = {false, p->s + ts, te - ts, 0, 0, line_at(p, ts)};
            add_item(p, &v, &n, &cap, it);
        }
        if (!open)
            break;
        p->line = line_at(p, o);
        size_t c = st;
        while (ltrim && c < p->n && isspace((unsigned char)p->s[c]))
            c++;
        if (c + 1 < p->n && p->s[c] == '/' && p->s[c + 1] == '*') {
            const char *ce = strstr(p->s + c + 2, "*/");
            if (!ce)
                perr(p, "unclosed comment");
            size_t k = (size_t)(ce - p->s) + 2;
            bool rtrim = k + 1 < p->n && p->s[k] == ' ' && p->s[k + 1] == '-';
            if (rtrim)
                k += 2;
            if (k + 1 >= p->n || p->s[k] != '}' || p->s[k + 1] != '}')
                perr(p, "comment ends before closing delimiter");
            pos = k + 2;
            trim_next = rtrim;
            continue;
        }
        size_t i = st, close = 0;
        bool found = false;
        while (i + 1 < p->n) {
            char ch = p->s[i];
            if (ch == '"' || ch == '`' || ch == '\'') {
                i++;
                while (i < p->n && p->s[i] != ch) {
                    if (p->s[i] == '\\' && ch != '`')
                        i++;
                    i++;
                }
                i++;
                continue;
            }
            if (ch == '}' && p->s[i + 1] == '}') {
                close = i;
                found = true;
                break;
            }
            i++;
        }
        if (!found)
            perr(p, "unclosed action");
        size_t e = close;
        bool rtrim = e >= st + 2 && p->s[e - 1] == '-' && isspace((unsigned char)p->s[e - 2]);
        if (rtrim)
            e -= 2;
        item it = {true, NULL, 0, st, e, p->line};
        add_item(p, &v, &n, &cap, it);
        pos = close + 2;
        trim_next = rtrim;
    }
    *count = n;
    return v;
}

typedef struct walker {
    item *items;
    size_t n;
    size_t i;
} walker;

static tnode *new_node(tparser *p, tkind k)
{
    tnode *n = am__arena_zalloc(p->a, sizeof *n);
    n->k = k;
    n->line = p->line;
    return n;
}

/* The keyword an action starts with ("" for a pipeline); pos after it. */
static const char *action_keyword(tparser *p)
{
    skip_sp(p);
    size_t save = p->pos, len;
    const char *w = word(p, &len);
    static const char *const KW[] = {"if",     "else",     "end",   "range", "with",
                                     "define", "template", "block", "break", "continue"};
    for (size_t i = 0; i < sizeof KW / sizeof KW[0]; i++)
        if (word_is(w, len, KW[i]))
            return KW[i];
    p->pos = save;
    return "";
}

static void enter(tparser *p, const item *it)
{
    p->pos = it->in_start;
    p->act_end = it->in_end;
    p->line = it->line;
}

/*
** Nodes up to the end of the items (top level) or an {{end}} / {{else}};
** *stop says which, with pos just after the keyword in that action.
*/
static tnode *parse_list(tparser *p, walker *w, const char **stop, bool top)
{
    tnode *head = NULL, **tail = &head;
    if (++p->depth > 100)
        perr(p, "nested too deeply");
    for (; w->i < w->n; w->i++) {
        item *it = &w->items[w->i];
        if (!it->is_action) {
            tnode *t = new_node(p, TN_TEXT);
            t->text = it->text;
            t->len = it->len;
            *tail = t;
            tail = &t->next;
            continue;
        }
        enter(p, it);
        if (at_end(p))
            perr(p, "missing value for command");
        const char *kw = action_keyword(p);
        if (strcmp(kw, "end") == 0 || strcmp(kw, "else") == 0) {
            if (top)
                perr(p, "unexpected {{%s}}", kw);
            *stop = kw;
            p->depth--;
            return head;
        }
        if (strcmp(kw, "define") == 0 || strcmp(kw, "template") == 0 || strcmp(kw, "block") == 0 ||
            strcmp(kw, "break") == 0 || strcmp(kw, "continue") == 0)
            perr(p, "{{%s}} is not supported by agentmon's templates", kw);
        if (!kw[0]) {
            tnode *n = new_node(p, TN_ACTION);
            n->p = parse_pipe(p, false);
            *tail = n;
            tail = &n->next;
            continue;
        }
        tkind k = strcmp(kw, "if") == 0 ? TN_IF : strcmp(kw, "with") == 0 ? TN_WITH : TN_RANGE;
        tnode *n = new_node(p, k), *cur = n;
        if (at_end(p))
            perr(p, "missing value for %s", kw);
        n->p = parse_pipe(p, false);
        w->i++;
        const char *st = "";
        n->list = parse_list(p, w, &st, false);
        while (strcmp(st, "else") == 0) {
            if (at_end(p)) { /* plain {{else}}: the last branch */
                w->i++;
                cur->else_list = parse_list(p, w, &st, false);
                if (strcmp(st, "end") != 0)
                    perr(p, "expected end; found {{else}}");
                break;
            }
            const char *kw2 = action_keyword(p);
            if (!((strcmp(kw2, "if") == 0 && k == TN_IF) ||
                  (strcmp(kw2, "with") == 0 && k == TN_WITH)))
                perr(p, "unexpected %s in else", kw2[0] ? kw2 : "operand");
            tnode *e = new_node(p, k);
            if (at_end(p))
                perr(p, "missing value for %s", kw2);
            e->p = parse_pipe(p, false);
            w->i++;
            e->list = parse_list(p, w, &st, false);
            cur->else_list = e;
            cur = e;
        }
        if (strcmp(st, "end") != 0)
            perr(p, "unexpected EOF");
        if (!at_end(p))
            perr(p, "unexpected operand after end");
        *tail = n;
        tail = &n->next;
    }
    if (!top)
        perr(p, "unexpected EOF");
    *stop = "";
    p->depth--;
    return head;
}

void am__tmpl_free(am_tmpl *t)
{
    if (!t)
        return;
    am__arena_free(&t->arena);
    am__free(t);
}

static const char DEFS[] = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}"
                           "{{$externalURL := .ExternalURL}}{{$value := .Value}}";

static am_err tmpl_parse_into(am_tmpl *t, tparser *p)
{
    if (setjmp(p->jb))
        return AM_EINVAL;
    walker w = {NULL, 0, 0};
    w.items = scan(p, &w.n);
    const char *stop;
    t->root = parse_list(p, &w, &stop, true);
    return AM_OK;
}

am_err am__tmpl_parse(const char *name, const char *text, am_tmpl **out, char *err, size_t cap)
{
    am_tmpl *t = am__calloc(1, sizeof *t);
    tparser *p = am__calloc(1, sizeof *p);
    if (!t || !p) {
        am__free(t);
        am__free(p);
        snprintf(err, cap, "out of memory");
        return AM_ENOMEM;
    }
    am__arena_init(&t->arena, NULL);
    size_t nl = strlen(DEFS) + strlen(text);
    t->name = am__arena_strdup(&t->arena, name);
    t->text = am__arena_alloc(&t->arena, nl + 1);
    if (!t->name || !t->text) {
        am__tmpl_free(t);
        am__free(p);
        snprintf(err, cap, "out of memory");
        return AM_ENOMEM;
    }
    memcpy(t->text, DEFS, strlen(DEFS));
    memcpy(t->text + strlen(DEFS), text, strlen(text) + 1);
    p->t = t;
    p->a = &t->arena;
    p->s = t->text;
    p->n = nl;
    p->line = 1;
    p->err = err;
    p->cap = cap;
    jmp_buf oom;
    t->arena.oom = &oom;
    am_err rc;
    if (setjmp(oom)) {
        snprintf(err, cap, "out of memory");
        rc = AM_ENOMEM;
    } else {
        rc = tmpl_parse_into(t, p);
    }
    t->arena.oom = NULL;
    am__free(p);
    if (rc) {
        am__tmpl_free(t);
        return rc;
    }
    *out = t;
    return AM_OK;
}

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

__attribute__((noreturn, format(printf, 2, 3))) static void xerr(exec *x, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(x->err, x->cap, "template: %s:%d: executing \"%s\": %s", x->t->name, x->line,
             x->t->name, msg);
    longjmp(x->jb, 1);
}

static tval v_str(const char *s)
{
    tval v = {V_STR, false, 0, 0, s, NULL, NULL, 0};
    return v;
}

static tval v_float(double f)
{
    tval v = {V_FLOAT, false, 0, f, NULL, NULL, NULL, 0};
    return v;
}

static tval v_bool(bool b)
{
    tval v = {V_BOOL, b, 0, 0, NULL, NULL, NULL, 0};
    return v;
}

static const char *type_name(const tval *v)
{
    switch (v->k) {
    case V_NIL:
        return "nil";
    case V_BOOL:
        return "bool";
    case V_INT:
        return "int";
    case V_FLOAT:
        return "float64";
    case V_STR:
        return "string";
    case V_MAP:
        return "map[string]string";
    case V_SAMPLES:
        return "template.queryResult";
    case V_SAMPLE:
        return "*template.sample";
    default:
        return "struct";
    }
}

static bool truth(const tval *v)
{
    switch (v->k) {
    case V_NIL:
        return false;
    case V_BOOL:
        return v->b;
    case V_INT:
        return v->i != 0;
    case V_FLOAT:
        return v->f != 0;
    case V_STR:
        return v->s[0] != '\0';
    case V_MAP:
        return v->map->n > 0;
    case V_SAMPLES:
        return v->n > 0;
    default:
        return true;
    }
}

/* fmt's %v of a value. */
static void print_val(exec *x, am_buf *b, const tval *v)
{
    char tmp[AM_GOFMT_MAX];
    switch (v->k) {
    case V_NIL:
        am_buf_puts(b, "<nil>");
        break;
    case V_BOOL:
        am_buf_puts(b, v->b ? "true" : "false");
        break;
    case V_INT:
        am__buf_int(b, v->i);
        break;
    case V_FLOAT:
        if (v->f == 0 && signbit(v->f))
            am_buf_puts(b, "-0");
        else
            am_buf_append(b, tmp, am__fmt_double(tmp, v->f));
        break;
    case V_STR:
        am_buf_puts(b, v->s);
        break;
    case V_MAP:
        am_buf_puts(b, "map[");
        for (uint32_t i = 0; i < v->map->n; i++) {
            if (i)
                am_buf_putc(b, ' ');
            am_buf_puts(b, v->map->l[i].name);
            am_buf_putc(b, ':');
            am_buf_puts(b, v->map->l[i].value);
        }
        am_buf_putc(b, ']');
        break;
    case V_SAMPLE:
        am_buf_puts(b, "&{");
        tval m = {V_MAP, false, 0, 0, NULL, v->samples[0].labels, NULL, 0};
        print_val(x, b, &m);
        am_buf_putc(b, ' ');
        am_buf_append(b, tmp, am__fmt_double(tmp, v->samples[0].value));
        am_buf_putc(b, '}');
        break;
    case V_SAMPLES:
        am_buf_putc(b, '[');
        for (size_t i = 0; i < v->n; i++) {
            if (i)
                am_buf_putc(b, ' ');
            tval s = {V_SAMPLE, false, 0, 0, NULL, NULL, &v->samples[i], 1};
            print_val(x, b, &s);
        }
        am_buf_putc(b, ']');
        break;
    case V_DATA:
        am_buf_puts(b, "{...}");
        break;
    }
}

static const char *to_string(exec *x, const tval *v)
{
    if (v->k == V_STR)
        return v->s;
    am_buf b;
    am_buf_init(&b, 0);
    print_val(x, &b, v);
    const char *s = am__arena_strdup(&x->a, b.p ? b.p : "");
    am_buf_free(&b);
    return s;
}

/* Prometheus' convertToFloat. */
static double to_float(exec *x, const char *fn, const tval *v)
{
    switch (v->k) {
    case V_FLOAT:
        return v->f;
    case V_INT:
        return (double)v->i;
    case V_STR: {
        double f;
        if (!am__go_parse_float(v->s, strlen(v->s), &f))
            xerr(x, "error calling %s: strconv.ParseFloat: parsing \"%s\": invalid syntax", fn,
                 v->s);
        return f;
    }
    default:
        xerr(x, "error calling %s: can't convert %s to float", fn, type_name(v));
    }
}

/* ------------------------------------------------------------ variables */

static void var_push(exec *x, const char *name, tval v)
{
    x->vars = am__arena_grow(&x->a, x->vars, &x->cap_vars, x->n_vars + 1, sizeof *x->vars);
    x->vars[x->n_vars].name = name;
    x->vars[x->n_vars].v = v;
    x->n_vars++;
}

static tvar *var_find(exec *x, const char *name)
{
    for (size_t i = x->n_vars; i-- > 0;)
        if (strcmp(x->vars[i].name, name) == 0)
            return &x->vars[i];
    return NULL;
}

/* ------------------------------------------------------------ evaluation */

static tval eval_pipe(exec *x, const pipe *pp, const tval *dot);

static tval field(exec *x, const tval *v, const char *name)
{
    switch (v->k) {
    case V_DATA: {
        const am_tmpl_data *d = x->d;
        if (strcmp(name, "Labels") == 0) {
            tval m = {V_MAP, false, 0, 0, NULL, d->labels ? d->labels : &am__labels_empty, NULL, 0};
            return m;
        }
        if (strcmp(name, "ExternalLabels") == 0) {
            tval m = {V_MAP, false, 0,
                      0,     NULL,  d->external_labels ? d->external_labels : &am__labels_empty,
                      NULL,  0};
            return m;
        }
        if (strcmp(name, "ExternalURL") == 0)
            return v_str(d->external_url ? d->external_url : "");
        if (strcmp(name, "Value") == 0)
            return v_float(d->value);
        xerr(x,
             "can't evaluate field %s in type struct { Labels map[string]string; "
             "ExternalLabels map[string]string; ExternalURL string; Value interface {} }",
             name);
    }
    case V_MAP:
        return v_str(am__labels_val(v->map, name)); /* missingkey=zero */
    case V_SAMPLE:
        if (strcmp(name, "Labels") == 0) {
            tval m = {V_MAP, false, 0, 0, NULL, v->samples[0].labels, NULL, 0};
            return m;
        }
        if (strcmp(name, "Value") == 0)
            return v_float(v->samples[0].value);
        xerr(x, "can't evaluate field %s in type *template.sample", name);
    case V_NIL:
        xerr(x, "nil pointer evaluating interface {}.%s", name);
    default:
        xerr(x, "can't evaluate field %s in type %s", name, type_name(v));
    }
}

static tval chain(exec *x, tval v, const arg *a)
{
    for (size_t i = 0; i < a->n_chain; i++)
        v = field(x, &v, a->chain[i]);
    return v;
}

static tval call(exec *x, int fn, const arg *args, size_t n, const tval *piped, const tval *dot);

static tval eval_arg(exec *x, const arg *a, const tval *dot)
{
    tval v = {V_NIL, false, 0, 0, NULL, NULL, NULL, 0};
    switch (a->k) {
    case A_DOT:
        return *dot;
    case A_FIELD:
        return chain(x, *dot, a);
    case A_VAR: {
        tvar *var = var_find(x, a->s);
        if (!var)
            xerr(x, "undefined variable: %s", a->s);
        return chain(x, var->v, a);
    }
    case A_STR:
        return v_str(a->s);
    case A_INT:
        v.k = V_INT;
        v.i = a->i;
        return v;
    case A_FLOAT:
        return v_float(a->f);
    case A_BOOL:
        return v_bool(a->b);
    case A_NIL:
        return v;
    case A_PIPE:
        return chain(x, eval_pipe(x, a->p, dot), a);
    case A_FUNC:
        return call(x, a->fn, NULL, 0, NULL, dot);
    }
    return v;
}

static tval eval_cmd(exec *x, const cmd *c, const tval *piped, const tval *dot)
{
    if (c->args[0].k == A_FUNC)
        return call(x, c->args[0].fn, c->args + 1, c->n - 1, piped, dot);
    if (c->n > 1)
        xerr(x, "can't give argument to non-function %s", "operand");
    if (piped)
        xerr(x, "can't give argument to non-function %s", "operand");
    return eval_arg(x, &c->args[0], dot);
}

static tval eval_pipe(exec *x, const pipe *pp, const tval *dot)
{
    if (++x->depth > 200)
        xerr(x, "exceeded maximum template depth (200)");
    tval v = {V_NIL, false, 0, 0, NULL, NULL, NULL, 0};
    x->line = pp->line;
    for (size_t i = 0; i < pp->n; i++)
        v = eval_cmd(x, &pp->cmds[i], i ? &v : NULL, dot);
    if (pp->n_decl) {
        if (pp->is_assign) {
            tvar *var = var_find(x, pp->decl[0]);
            if (!var)
                xerr(x, "undefined variable: %s", pp->decl[0]);
            var->v = v;
        } else {
            var_push(x, pp->decl[0], v);
        }
    }
    x->depth--;
    return v;
}

/* ------------------------------------------------------------ builtins */

typedef enum { K_INVALID, K_BOOL, K_INT, K_FLOAT, K_STRING } bkind;

static bkind basic(const tval *v)
{
    switch (v->k) {
    case V_BOOL:
        return K_BOOL;
    case V_INT:
        return K_INT;
    case V_FLOAT:
        return K_FLOAT;
    case V_STR:
        return K_STRING;
    default:
        return K_INVALID;
    }
}

static bool equal(exec *x, const char *fn, const tval *a, const tval *b)
{
    bkind ka = basic(a), kb = basic(b);
    if (ka != kb) {
        if (a->k != V_NIL && b->k != V_NIL)
            xerr(x, "error calling %s: incompatible types for comparison", fn);
        return false;
    }
    switch (ka) {
    case K_BOOL:
        return a->b == b->b;
    case K_INT:
        return a->i == b->i;
    case K_FLOAT:
        return a->f == b->f;
    case K_STRING:
        return strcmp(a->s, b->s) == 0;
    default:
        xerr(x, "error calling %s: invalid type for comparison", fn);
    }
}

static bool less(exec *x, const char *fn, const tval *a, const tval *b)
{
    bkind ka = basic(a), kb = basic(b);
    if (ka == K_INVALID || kb == K_INVALID || ka == K_BOOL || kb == K_BOOL)
        xerr(x, "error calling %s: invalid type for comparison", fn);
    if (ka != kb)
        xerr(x, "error calling %s: incompatible types for comparison", fn);
    switch (ka) {
    case K_INT:
        return a->i < b->i;
    case K_FLOAT:
        return a->f < b->f;
    default:
        return strcmp(a->s, b->s) < 0;
    }
}

static void go_printf(exec *x, am_buf *b, const char *f, const tval *args, size_t n)
{
    size_t ai = 0;
    for (const char *p = f; *p; p++) {
        if (*p != '%') {
            am_buf_putc(b, *p);
            continue;
        }
        p++;
        if (*p == '%') {
            am_buf_putc(b, '%');
            continue;
        }
        /* flags, width, precision, as fmt reads them; widths and
           precisions past 10000 are refused (Go's limit is 1e6) */
        char spec[48];
        size_t sl = 0;
        spec[sl++] = '%';
        while (*p && strchr("+- #0", *p)) {
            if (sl < 8)
                spec[sl++] = *p;
            p++;
        }
        long width = -1, prec = -1;
        bool bad = false;
        if (isdigit((unsigned char)*p)) {
            width = 0;
            while (isdigit((unsigned char)*p)) {
                if (width <= 10000)
                    width = width * 10 + (*p - '0');
                p++;
            }
            bad |= width > 10000;
        }
        if (*p == '.') {
            p++;
            prec = 0;
            while (isdigit((unsigned char)*p)) {
                if (prec <= 10000)
                    prec = prec * 10 + (*p - '0');
                p++;
            }
            bad |= prec > 10000;
        }
        if (bad) {
            am_buf_puts(b, "%!(BADWIDTH)");
            if (!*p)
                break;
            continue;
        }
        if (width >= 0)
            sl += (size_t)snprintf(spec + sl, sizeof spec - sl, "%ld", width);
        if (prec >= 0)
            sl += (size_t)snprintf(spec + sl, sizeof spec - sl, ".%ld", prec);
        char verb = *p;
        if (!verb) {
            am_buf_puts(b, "%!(NOVERB)");
            break;
        }
        if (ai >= n) {
            am_buf_printf(b, "%%!%c(MISSING)", verb);
            continue;
        }
        const tval *a = &args[ai++];
        char out[AM_GOFMT_MAX + 64];
        switch (verb) {
        case 'v':
        case 's':
            if (verb == 's' && (a->k == V_INT || a->k == V_FLOAT)) {
                am_buf_printf(b, "%%!s(%s=", type_name(a));
                print_val(x, b, a);
                am_buf_putc(b, ')');
            } else {
                spec[sl++] = 's';
                spec[sl] = '\0';
                am_buf_printf(b, spec, to_string(x, a));
            }
            break;
        case 'd':
        case 'x':
        case 'X':
        case 'o':
            if (a->k == V_INT) {
                spec[sl++] = 'l';
                spec[sl++] = 'l';
                spec[sl++] = verb;
                spec[sl] = '\0';
                am_buf_printf(b, spec, (long long)a->i);
            } else if ((verb == 'x' || verb == 'X') && a->k == V_STR) {
                for (const char *c = a->s; *c; c++)
                    am_buf_printf(b, verb == 'x' ? "%02x" : "%02X", (unsigned char)*c);
            } else {
                am_buf_printf(b, "%%!%c(%s=", verb, type_name(a));
                print_val(x, b, a);
                am_buf_putc(b, ')');
            }
            break;
        case 'f':
        case 'F':
        case 'e':
        case 'E':
        case 'g':
        case 'G':
            if (a->k == V_FLOAT || a->k == V_INT) {
                double v = a->k == V_FLOAT ? a->f : (double)a->i;
                if (a->k == V_INT) {
                    am_buf_printf(b, "%%!%c(int=%lld)", verb, (long long)a->i);
                    break;
                }
                if (!isfinite(v)) {
                    am_buf_puts(b, isnan(v) ? "NaN"
                                   : v > 0  ? (strchr(spec, '+') ? "+Inf" : "+Inf")
                                            : "-Inf");
                    break;
                }
                spec[sl++] = verb;
                spec[sl] = '\0';
                snprintf(out, sizeof out, spec, v);
                am_buf_puts(b, out);
            } else {
                am_buf_printf(b, "%%!%c(%s=", verb, type_name(a));
                print_val(x, b, a);
                am_buf_putc(b, ')');
            }
            break;
        case 'q':
            if (a->k == V_STR)
                am__go_quote(b, a->s, strlen(a->s));
            else {
                am_buf_printf(b, "%%!q(%s=", type_name(a));
                print_val(x, b, a);
                am_buf_putc(b, ')');
            }
            break;
        case 't':
            if (a->k == V_BOOL)
                am_buf_puts(b, a->b ? "true" : "false");
            else {
                am_buf_printf(b, "%%!t(%s=", type_name(a));
                print_val(x, b, a);
                am_buf_putc(b, ')');
            }
            break;
        default:
            am_buf_printf(b, "%%!%c(%s=", verb, type_name(a));
            print_val(x, b, a);
            am_buf_putc(b, ')');
        }
    }
    if (ai < n) {
        am_buf_puts(b, "%!(EXTRA ");
        for (size_t i = ai; i < n; i++) {
            if (i > ai)
                am_buf_puts(b, ", ");
            am_buf_printf(b, "%s=", type_name(&args[i]));
            print_val(x, b, &args[i]);
        }
        am_buf_putc(b, ')');
    }
}

/* %.4g as Go writes it. */
static void g4(am_buf *b, double v)
{
    char out[AM_GOFMT_MAX];
    am_buf_append(b, out, am__fmt_go_prec(out, sizeof out, v, 'g', 4));
}

/*
** v with an SI (or binary) prefix, as Prometheus' humanize functions
** scale: up by base while |v| >= base, or down by 1000 while |v| < 1.
** %.4g of the scaled value, then the prefix.
*/
static void scaled(am_buf *b, double v, double base, bool down)
{
    static const char *const UP[] = {"k", "M", "G", "T", "P", "E", "Z", "Y"};
    static const char *const BIN[] = {"ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"};
    static const char *const DOWN[] = {"m", "u", "n", "p", "f", "a", "z", "y"};
    const char *prefix = "";
    for (size_t i = 0; i < 8; i++) {
        if (down ? fabs(v) >= 1 : fabs(v) < base)
            break;
        prefix = down ? DOWN[i] : base == 1024 ? BIN[i] : UP[i];
        v = down ? v * 1000 : v / base;
    }
    g4(b, v);
    am_buf_puts(b, prefix);
}

static const char *humanize(exec *x, double v, bool k1024)
{
    am_buf b;
    am_buf_init(&b, 0);
    if (k1024 && (fabs(v) <= 1 || isnan(v) || isinf(v)))
        g4(&b, v);
    else if (k1024)
        scaled(&b, v, 1024, false);
    else if (v == 0 || isnan(v) || isinf(v))
        g4(&b, v);
    else
        scaled(&b, v, 1000, fabs(v) < 1);
    const char *s = am__arena_strdup(&x->a, b.p ? b.p : "");
    am_buf_free(&b);
    return s;
}

static const char *humanize_duration(exec *x, double v)
{
    am_buf b;
    am_buf_init(&b, 0);
    if (isnan(v) || isinf(v)) {
        g4(&b, v);
    } else if (v == 0) {
        g4(&b, v);
        am_buf_putc(&b, 's');
    } else if (fabs(v) >= 1) {
        const char *sign = "";
        if (v < 0) {
            sign = "-";
            v = -v;
        }
        int64_t d = (int64_t)v;
        int64_t sec = d % 60, min = (d / 60) % 60, hour = (d / 3600) % 24, days = d / 86400;
        if (days)
            am_buf_printf(&b, "%s%lldd %lldh %lldm %llds", sign, (long long)days, (long long)hour,
                          (long long)min, (long long)sec);
        else if (hour)
            am_buf_printf(&b, "%s%lldh %lldm %llds", sign, (long long)hour, (long long)min,
                          (long long)sec);
        else if (min)
            am_buf_printf(&b, "%s%lldm %llds", sign, (long long)min, (long long)sec);
        else {
            am_buf_puts(&b, sign);
            g4(&b, v);
            am_buf_putc(&b, 's');
        }
    } else {
        scaled(&b, v, 1000, true);
        am_buf_putc(&b, 's');
    }
    const char *s = am__arena_strdup(&x->a, b.p ? b.p : "");
    am_buf_free(&b);
    return s;
}

/* time.Time.String() of a UTC time with ms precision. */
static const char *humanize_timestamp(exec *x, double v)
{
    double ns = v * 1e9;
    if (isfinite(v) && (ns > 9.2233720368547758e18 || ns < -9.2233720368547758e18))
        xerr(x,
             "error calling humanizeTimestamp: %g cannot be represented as a nanoseconds "
             "timestamp since it overflows int64",
             v);
    am_buf b;
    am_buf_init(&b, 0);
    if (isnan(v) || isinf(v)) {
        g4(&b, v);
    } else {
        int64_t ms = (int64_t)ns / 1000000;
        int64_t s = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
        int64_t frac = ms - s * 1000;
        time_t tt = (time_t)s;
        struct tm tm;
        gmtime_r(&tt, &tm);
        am_buf_printf(&b, "%04d-%02d-%02d %02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                      tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        if (frac) {
            char f[24];
            snprintf(f, sizeof f, ".%03lld", (long long)frac);
            size_t l = strlen(f);
            while (l > 1 && f[l - 1] == '0')
                f[--l] = '\0';
            am_buf_puts(&b, f);
        }
        am_buf_puts(&b, " +0000 UTC");
    }
    const char *s = am__arena_strdup(&x->a, b.p ? b.p : "");
    am_buf_free(&b);
    return s;
}

static tval run_query(exec *x, const char *q)
{
    if (!x->d->db)
        xerr(x, "error calling query: no query engine here");
    am_promql *pq;
    char err[400];
    if (am_promql_parse(q, &pq, err, sizeof err))
        xerr(x, "error calling query: %s", err);
    am_promql_result *r;
    am_promql_opts def = AM_PROMQL_OPTS_INIT;
    am_err rc = am_promql_eval(x->d->db, pq, x->d->ts_ms, x->d->qopts ? x->d->qopts : &def, &r, err,
                               sizeof err);
    if (rc) {
        am_promql_free(pq);
        xerr(x, "error calling query: %s", err);
    }
    tval v = {V_SAMPLES, false, 0, 0, NULL, NULL, NULL, 0};
    const am_value *rv = am__promql_result_value(r);
    if (rv->type == AM_PQL_SCALAR) {
        v.samples = am__arena_alloc(&x->a, sizeof *v.samples);
        v.samples[0].labels = &am__labels_empty;
        v.samples[0].value = rv->scalar;
        v.n = 1;
    } else if (rv->type == AM_PQL_VECTOR) {
        v.samples = am__arena_alloc(&x->a, (rv->vec.n ? rv->vec.n : 1) * sizeof *v.samples);
        for (size_t i = 0; i < rv->vec.n; i++) {
            v.samples[i].labels = am__labels_copy(&x->a, rv->vec.s[i].l);
            v.samples[i].value = rv->vec.s[i].v;
        }
        v.n = rv->vec.n;
    } else {
        am_promql_result_free(r);
        am_promql_free(pq);
        xerr(x, "error calling query: rule result is not a vector or scalar");
    }
    am_promql_result_free(r);
    am_promql_free(pq);
    return v;
}

static const char *title(exec *x, const char *s)
{
    char *o = am__arena_strdup(&x->a, s);
    bool prev_sep = true;
    for (char *c = o; *c; c++) {
        unsigned char u = (unsigned char)*c;
        bool sep = !(isalnum(u) || u == '_' || u >= 0x80);
        if (prev_sep && !sep)
            *c = (char)toupper(u);
        prev_sep = sep;
    }
    return o;
}

static tval *need(exec *x, const char *fn, tval *v, size_t n, size_t want)
{
    if (n != want)
        xerr(x, "wrong number of args for %s: want %zu got %zu", fn, want, n);
    return v;
}

static const char *str_of(exec *x, const char *fn, const tval *v)
{
    if (v->k != V_STR)
        xerr(x, "error calling %s: wrong type for value; expected string; got %s", fn,
             type_name(v));
    return v->s;
}

static tval call(exec *x, int fn, const arg *args, size_t n, const tval *piped, const tval *dot)
{
    const char *name = FUNCS[fn];
    if (++x->steps > 100000)
        xerr(x, "template too expensive");
    /* and / or evaluate lazily, as Go 1.18+ */
    if (fn == F_AND || fn == F_OR) {
        size_t total = n + (piped ? 1 : 0);
        if (total < 1)
            xerr(x, "wrong number of args for %s: want at least 1 got 0", name);
        tval v = {V_NIL, false, 0, 0, NULL, NULL, NULL, 0};
        for (size_t i = 0; i < total; i++) {
            v = i < n ? eval_arg(x, &args[i], dot) : *piped;
            if (truth(&v) == (fn == F_OR))
                return v;
        }
        return v;
    }
    size_t total = n + (piped ? 1 : 0);
    tval *a = am__arena_alloc(&x->a, (total ? total : 1) * sizeof *a);
    for (size_t i = 0; i < n; i++)
        a[i] = eval_arg(x, &args[i], dot);
    if (piped)
        a[n] = *piped;
    tval r = {V_NIL, false, 0, 0, NULL, NULL, NULL, 0};
    am_buf b;
    switch ((fid)fn) {
    case F_NOT:
        return v_bool(!truth(need(x, name, a, total, 1)));
    case F_EQ: {
        if (total < 2)
            xerr(x, "error calling eq: missing argument for comparison");
        for (size_t i = 1; i < total; i++)
            if (equal(x, name, &a[0], &a[i]))
                return v_bool(true);
        return v_bool(false);
    }
    case F_NE:
        need(x, name, a, total, 2);
        return v_bool(!equal(x, name, &a[0], &a[1]));
    case F_LT:
        need(x, name, a, total, 2);
        return v_bool(less(x, name, &a[0], &a[1]));
    case F_LE:
        need(x, name, a, total, 2);
        return v_bool(less(x, name, &a[0], &a[1]) || equal(x, name, &a[0], &a[1]));
    case F_GT:
        need(x, name, a, total, 2);
        return v_bool(!less(x, name, &a[0], &a[1]) && !equal(x, name, &a[0], &a[1]));
    case F_GE:
        need(x, name, a, total, 2);
        return v_bool(!less(x, name, &a[0], &a[1]));
    case F_LEN: {
        tval v = *need(x, name, a, total, 1);
        r.k = V_INT;
        if (v.k == V_STR)
            r.i = (int64_t)strlen(v.s);
        else if (v.k == V_MAP)
            r.i = v.map->n;
        else if (v.k == V_SAMPLES)
            r.i = (int64_t)v.n;
        else
            xerr(x, "error calling len: len of type %s", type_name(&v));
        return r;
    }
    case F_INDEX: {
        if (total < 1)
            xerr(x, "wrong number of args for index: want at least 1 got 0");
        tval v = a[0];
        for (size_t i = 1; i < total; i++) {
            if (v.k == V_MAP && a[i].k == V_STR)
                v = v_str(am__labels_val(v.map, a[i].s));
            else if (v.k == V_SAMPLES && a[i].k == V_INT) {
                if (a[i].i < 0 || (size_t)a[i].i >= v.n)
                    xerr(x, "error calling index: index out of range: %lld", (long long)a[i].i);
                tval s = {V_SAMPLE, false, 0, 0, NULL, NULL, &v.samples[a[i].i], 1};
                v = s;
            } else
                xerr(x, "error calling index: cannot index %s with %s", type_name(&v),
                     type_name(&a[i]));
        }
        return v;
    }
    case F_PRINT:
    case F_PRINTLN:
        am_buf_init(&b, 0);
        for (size_t i = 0; i < total; i++) {
            if (i && (fn == F_PRINTLN || (a[i].k != V_STR && a[i - 1].k != V_STR)))
                am_buf_putc(&b, ' ');
            print_val(x, &b, &a[i]);
        }
        if (fn == F_PRINTLN)
            am_buf_putc(&b, '\n');
        r = v_str(am__arena_strdup(&x->a, b.p ? b.p : ""));
        am_buf_free(&b);
        return r;
    case F_PRINTF:
        if (total < 1)
            xerr(x, "wrong number of args for printf: want at least 1 got 0");
        am_buf_init(&b, 0);
        go_printf(x, &b, str_of(x, name, &a[0]), a + 1, total - 1);
        r = v_str(am__arena_strdup(&x->a, b.p ? b.p : ""));
        am_buf_free(&b);
        return r;
    case F_HTML:
    case F_SAFEHTML: {
        am_buf_init(&b, 0);
        for (size_t i = 0; i < total; i++) {
            const char *s = to_string(x, &a[i]);
            if (fn == F_SAFEHTML) {
                am_buf_puts(&b, s);
                continue;
            }
            for (const char *c = s; *c; c++) {
                switch (*c) {
                case '<':
                    am_buf_puts(&b, "&lt;");
                    break;
                case '>':
                    am_buf_puts(&b, "&gt;");
                    break;
                case '&':
                    am_buf_puts(&b, "&amp;");
                    break;
                case '\'':
                    am_buf_puts(&b, "&#39;");
                    break;
                case '"':
                    am_buf_puts(&b, "&#34;");
                    break;
                default:
                    am_buf_putc(&b, *c);
                }
            }
        }
        r = v_str(am__arena_strdup(&x->a, b.p ? b.p : ""));
        am_buf_free(&b);
        return r;
    }
    case F_URLQUERY:
    case F_TABLELINK:
    case F_GRAPHLINK: {
        am_buf_init(&b, 0);
        const char *s = total ? to_string(x, &a[0]) : "";
        if (fn == F_TABLELINK || fn == F_GRAPHLINK)
            am_buf_puts(&b, "/graph?g0.expr=");
        for (const char *c = s; *c; c++) {
            unsigned char u = (unsigned char)*c;
            if (isalnum(u) || strchr("-_.~", u))
                am_buf_putc(&b, (char)u);
            else if (u == ' ')
                am_buf_putc(&b, '+');
            else
                am_buf_printf(&b, "%%%02X", u);
        }
        if (fn == F_TABLELINK)
            am_buf_puts(&b, "&g0.tab=1");
        else if (fn == F_GRAPHLINK)
            am_buf_puts(&b, "&g0.tab=0");
        r = v_str(am__arena_strdup(&x->a, b.p ? b.p : ""));
        am_buf_free(&b);
        return r;
    }
    case F_QUERY:
        return run_query(x, str_of(x, name, need(x, name, a, total, 1)));
    case F_FIRST: {
        tval v = *need(x, name, a, total, 1);
        if (v.k != V_SAMPLES)
            xerr(x,
                 "error calling first: wrong type for value; expected template.queryResult; "
                 "got %s",
                 type_name(&v));
        if (!v.n)
            xerr(x, "error calling first: first() called on vector with no elements");
        tval s = {V_SAMPLE, false, 0, 0, NULL, NULL, v.samples, 1};
        return s;
    }
    case F_LABEL: {
        if (total != 2)
            xerr(x, "wrong number of args for label: want 2 got %zu", total);
        if (a[1].k != V_SAMPLE)
            xerr(x, "error calling label: wrong type for value; expected *template.sample; got %s",
                 type_name(&a[1]));
        return v_str(am__labels_val(a[1].samples[0].labels, str_of(x, name, &a[0])));
    }
    case F_VALUE:
    case F_STRVALUE: {
        tval v = *need(x, name, a, total, 1);
        if (v.k != V_SAMPLE)
            xerr(x, "error calling %s: wrong type for value; expected *template.sample; got %s",
                 name, type_name(&v));
        if (fn == F_STRVALUE)
            return v_str(am__labels_val(v.samples[0].labels, "__value__"));
        return v_float(v.samples[0].value);
    }
    case F_SORTBYLABEL: {
        if (total != 2 || a[1].k != V_SAMPLES)
            xerr(x, "error calling sortByLabel: wrong arguments");
        const char *l = str_of(x, name, &a[0]);
        tval v = a[1];
        tsample *s = am__arena_alloc(&x->a, (v.n ? v.n : 1) * sizeof *s);
        if (v.n)
            memcpy(s, v.samples, v.n * sizeof *s);
        for (size_t i = 1; i < v.n; i++)
            for (size_t j = i; j > 0 && strcmp(am__labels_val(s[j].labels, l),
                                               am__labels_val(s[j - 1].labels, l)) < 0;
                 j--) {
                tsample t = s[j];
                s[j] = s[j - 1];
                s[j - 1] = t;
            }
        v.samples = s;
        return v;
    }
    case F_HUMANIZE:
    case F_HUMANIZE1024:
        return v_str(
            humanize(x, to_float(x, name, need(x, name, a, total, 1)), fn == F_HUMANIZE1024));
    case F_HUMANIZEDURATION:
        return v_str(humanize_duration(x, to_float(x, name, need(x, name, a, total, 1))));
    case F_HUMANIZEPERCENTAGE: {
        double v = to_float(x, name, need(x, name, a, total, 1)) * 100;
        am_buf_init(&b, 0);
        g4(&b, v);
        am_buf_putc(&b, '%');
        r = v_str(am__arena_strdup(&x->a, b.p ? b.p : ""));
        am_buf_free(&b);
        return r;
    }
    case F_HUMANIZETIMESTAMP:
        return v_str(humanize_timestamp(x, to_float(x, name, need(x, name, a, total, 1))));
    case F_TITLE:
        return v_str(title(x, str_of(x, name, need(x, name, a, total, 1))));
    case F_TOUPPER:
    case F_TOLOWER: {
        char *s = am__arena_strdup(&x->a, str_of(x, name, need(x, name, a, total, 1)));
        for (char *c = s; *c; c++)
            *c = (char)(fn == F_TOUPPER ? toupper((unsigned char)*c) : tolower((unsigned char)*c));
        return v_str(s);
    }
    case F_MATCH:
    case F_REREPLACEALL: {
        size_t want = fn == F_MATCH ? 2 : 3;
        if (total != want)
            xerr(x, "wrong number of args for %s: want %zu got %zu", name, want, total);
        /* every argument checked before the regex exists: an error
           longjmps, and the regex is not in the arena */
        const char *pat = str_of(x, name, &a[0]);
        const char *s = str_of(x, name, &a[fn == F_MATCH ? 1 : 2]);
        const char *repl = fn == F_MATCH ? NULL : str_of(x, name, &a[1]);
        am_regex *re;
        char err[300];
        if (am__regex_new_find(pat, &re, err, sizeof err))
            xerr(x, "error calling %s: %s", name, err);
        if (fn == F_MATCH) {
            bool m = am__regex_match(re, s, strlen(s));
            am__regex_free(re);
            return v_bool(m);
        }
        am_buf_init(&b, 0);
        am__regex_replace_all(re, s, strlen(s), repl, &b);
        am__regex_free(re);
        r = v_str(am__arena_strdup(&x->a, b.p ? b.p : ""));
        am_buf_free(&b);
        return r;
    }
    case F_STRIPPORT: {
        const char *s = str_of(x, name, need(x, name, a, total, 1));
        const char *c = strrchr(s, ':');
        if (!c)
            return v_str(s);
        if (s[0] == '[') {
            const char *e = strchr(s, ']');
            if (e)
                return v_str(am__arena_strndup(&x->a, s + 1, (size_t)(e - s - 1)));
        }
        return v_str(am__arena_strndup(&x->a, s, (size_t)(c - s)));
    }
    case F_EXTERNALURL:
        return v_str(x->d->external_url ? x->d->external_url : "");
    case F_PATHPREFIX: {
        const char *u = x->d->external_url ? x->d->external_url : "";
        const char *p = strstr(u, "://");
        p = p ? strchr(p + 3, '/') : NULL;
        return v_str(p ? p : "");
    }
    case F_PARSEDURATION: {
        const char *s = str_of(x, name, need(x, name, a, total, 1));
        int64_t ms;
        if (!am__go_parse_duration(s, strlen(s), &ms))
            xerr(x, "error calling parseDuration: not a valid duration string: \"%s\"", s);
        return v_float((double)ms / 1000);
    }
    case F_ARGS: {
        /* map[arg0:.. arg1:..]: a label set of the printed arguments */
        am_label *p = am__arena_alloc(&x->a, (total ? total : 1) * sizeof *p);
        for (size_t i = 0; i < total; i++) {
            char *k = am__arena_alloc(&x->a, 32);
            snprintf(k, 32, "arg%zu", i);
            p[i].name = k;
            p[i].value = to_string(x, &a[i]);
        }
        tval m = {V_MAP, false, 0, 0, NULL, am__labels_new(&x->a, p, total), NULL, 0};
        return m;
    }
    default:
        xerr(x, "function %s not implemented", name);
    }
}

/* ------------------------------------------------------------ execution */

static void run_list(exec *x, const tnode *n, const tval *dot);

static void run_node(exec *x, const tnode *n, const tval *dot)
{
    x->line = n->line;
    size_t mark = x->n_vars;
    switch (n->k) {
    case TN_TEXT:
        am_buf_append(x->out, n->text, n->len);
        break;
    case TN_ACTION: {
        tval v = eval_pipe(x, n->p, dot);
        if (!n->p->n_decl) {
            if (v.k == V_NIL)
                am_buf_puts(x->out, "<no value>");
            else
                print_val(x, x->out, &v);
        }
        return; /* declarations stay in scope to the end of the block */
    }
    case TN_IF:
    case TN_WITH: {
        tval v = eval_pipe(x, n->p, dot);
        if (truth(&v))
            run_list(x, n->list, n->k == TN_WITH ? &v : dot);
        else if (n->else_list)
            run_list(x, n->else_list, dot);
        break;
    }
    case TN_RANGE: {
        size_t decl = n->p->n_decl;
        pipe tmp = *n->p;
        tmp.n_decl = 0;
        tval v = eval_pipe(x, &tmp, dot);
        size_t count = v.k == V_SAMPLES ? v.n : v.k == V_MAP ? v.map->n : 0;
        if (v.k != V_SAMPLES && v.k != V_MAP && v.k != V_NIL)
            xerr(x, "range can't iterate over %s", type_name(&v));
        for (size_t i = 0; i < count; i++) {
            tval e, key;
            if (v.k == V_SAMPLES) {
                tval s = {V_SAMPLE, false, 0, 0, NULL, NULL, &v.samples[i], 1};
                e = s;
                key.k = V_INT;
                key.i = (int64_t)i;
            } else {
                e = v_str(v.map->l[i].value);
                key = v_str(v.map->l[i].name);
            }
            size_t m = x->n_vars;
            if (decl == 1)
                var_push(x, n->p->decl[0], e);
            else if (decl == 2) {
                var_push(x, n->p->decl[0], key);
                var_push(x, n->p->decl[1], e);
            }
            run_list(x, n->list, &e);
            x->n_vars = m;
        }
        if (!count && n->else_list)
            run_list(x, n->else_list, dot);
        break;
    }
    }
    x->n_vars = mark;
}

static void run_list(exec *x, const tnode *n, const tval *dot)
{
    size_t mark = x->n_vars;
    if (++x->depth > 200)
        xerr(x, "exceeded maximum template depth (200)");
    for (; n; n = n->next) {
        if (++x->steps > 100000)
            xerr(x, "template too expensive");
        run_node(x, n, dot);
    }
    x->depth--;
    x->n_vars = mark;
}

static am_err expand_run(exec *x)
{
    if (setjmp(x->jb))
        return AM_EINVAL;
    tval dot = {V_DATA, false, 0, 0, NULL, NULL, NULL, 0};
    run_list(x, x->t->root, &dot);
    return AM_OK;
}

am_err am__tmpl_expand(const am_tmpl *t, const am_tmpl_data *d, am_buf *out, char *err, size_t cap)
{
    exec *x = am__calloc(1, sizeof *x);
    if (!x) {
        snprintf(err, cap, "out of memory");
        return AM_ENOMEM;
    }
    x->t = t;
    x->d = d;
    x->out = out;
    x->err = err;
    x->cap = cap;
    am__arena_init(&x->a, &x->jb);
    am_err rc = expand_run(x);
    if (rc && !err[0])
        snprintf(err, cap, "out of memory");
    am__arena_free(&x->a);
    am__free(x);
    return rc;
}
