/*
** template.c: Go text/template, the subset Prometheus' alert templates use
** (template.h): the parser. Execution is in template_run.c, the functions
** in template_funcs.c, what they share in template_int.h.
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

#include "../util/alloc.h"
#include "../util/fmt.h"
#include "promql.h"
#include "promql_fmt.h"
#include "regex.h"
#include "template_int.h"
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
    for (size_t i = 0; i < am__tmpl_n_funcs; i++)
        if (word_is(w, n, am__tmpl_funcs[i]))
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
            for (size_t i = 0; i < am__tmpl_n_other_funcs; i++)
                if (word_is(w, len, am__tmpl_other_funcs[i]))
                    perr(p, "function \"%.*s\" is not supported by agentmon's templates", (int)len,
                         w);
            perr(p, "function \"%.*s\" not defined", (int)len, w);
        }
        a->k = A_FUNC;
        a->fn = f;
        a->s = am__tmpl_funcs[f];
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
