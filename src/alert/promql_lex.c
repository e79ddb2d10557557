/*
** promql_lex.c: PromQL's tokens, as Prometheus' lexer (promql/parser/lex.go)
** cuts them.
**
** The lexer is context-sensitive in the same places: inside {...} words are
** label names and keywords are plain identifiers; inside [...] a number
** may carry a duration unit and ':' separates a subquery's step (which the
** parser then refuses). A number directly followed by letters is a
** duration (5m, 1h30m) wherever it appears; the parser says where one is
** not allowed. "Inf" and "NaN" in any case are numbers. '#' starts a
** comment to the end of the line.
**
** Strings keep their quotes in the token; am__pql_unquote() applies Go's
** escapes (\a \b \f \n \r \t \v \\ \xhh \ooo \uhhhh \Uhhhhhhhh and the
** quote of the string itself; backquoted strings have none).
*/
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../util/validate.h"
#include "promql.h"

static const struct {
    const char *w;
    am_tok t;
} KEYWORDS[] = {
    {"and", T_LAND},
    {"or", T_LOR},
    {"unless", T_LUNLESS},
    {"atan2", T_ATAN2},
    {"avg", T_AVG},
    {"bottomk", T_BOTTOMK},
    {"count", T_COUNT},
    {"count_values", T_COUNT_VALUES},
    {"group", T_GROUP},
    {"max", T_MAX},
    {"min", T_MIN},
    {"quantile", T_QUANTILE},
    {"stddev", T_STDDEV},
    {"stdvar", T_STDVAR},
    {"sum", T_SUM},
    {"topk", T_TOPK},
    {"bool", T_BOOL},
    {"by", T_BY},
    {"group_left", T_GROUP_LEFT},
    {"group_right", T_GROUP_RIGHT},
    {"ignoring", T_IGNORING},
    {"offset", T_OFFSET},
    {"on", T_ON},
    {"without", T_WITHOUT},
    {"start", T_START},
    {"end", T_END},
};

am_tok am__tok_keyword(const char *w, size_t n)
{
    char low[16];
    if (n >= sizeof low)
        return T_IDENT;
    for (size_t i = 0; i < n; i++)
        low[i] = (char)tolower((unsigned char)w[i]);
    low[n] = '\0';
    for (size_t i = 0; i < sizeof KEYWORDS / sizeof KEYWORDS[0]; i++)
        if (strcmp(KEYWORDS[i].w, low) == 0)
            return KEYWORDS[i].t;
    return T_IDENT;
}

const char *am__tok_desc(am_tok t)
{
    switch (t) {
    case T_EOF:
        return "end of input";
    case T_ERROR:
        return "error";
    case T_IDENT:
        return "identifier";
    case T_METRIC_IDENT:
        return "metric identifier";
    case T_NUMBER:
        return "number";
    case T_DURATION:
        return "duration";
    case T_STRING:
        return "string";
    case T_LPAREN:
        return "\"(\"";
    case T_RPAREN:
        return "\")\"";
    case T_LBRACE:
        return "\"{\"";
    case T_RBRACE:
        return "\"}\"";
    case T_LBRACKET:
        return "\"[\"";
    case T_RBRACKET:
        return "\"]\"";
    case T_COMMA:
        return "\",\"";
    case T_ASSIGN:
        return "\"=\"";
    case T_COLON:
        return "\":\"";
    case T_AT:
        return "\"@\"";
    case T_ADD:
        return "\"+\"";
    case T_SUB:
        return "\"-\"";
    case T_MUL:
        return "\"*\"";
    case T_DIV:
        return "\"/\"";
    case T_MOD:
        return "\"%\"";
    case T_POW:
        return "\"^\"";
    case T_EQLC:
        return "\"==\"";
    case T_NEQ:
        return "\"!=\"";
    case T_LTE:
        return "\"<=\"";
    case T_LSS:
        return "\"<\"";
    case T_GTE:
        return "\">=\"";
    case T_GTR:
        return "\">\"";
    case T_EQL_REGEX:
        return "\"=~\"";
    case T_NEQ_REGEX:
        return "\"!~\"";
    default:
        for (size_t i = 0; i < sizeof KEYWORDS / sizeof KEYWORDS[0]; i++)
            if (KEYWORDS[i].t == t)
                return KEYWORDS[i].w;
        return "token";
    }
}

bool am__tok_is_aggregator(am_tok t)
{
    return t >= T_AVG && t <= T_TOPK;
}

bool am__tok_is_comparison(am_tok t)
{
    return t >= T_EQLC && t <= T_GTR;
}

bool am__tok_is_setop(am_tok t)
{
    return t == T_LAND || t == T_LOR || t == T_LUNLESS;
}

bool am__tok_is_binop(am_tok t)
{
    return (t >= T_ADD && t <= T_GTR) || am__tok_is_setop(t) || t == T_ATAN2;
}

void am__lex_init(am_lexer *lx, const char *s, size_t n)
{
    memset(lx, 0, sizeof *lx);
    lx->s = s;
    lx->n = n;
}

static bool is_alpha(int c)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_alnum(int c)
{
    return is_alpha(c) || (c >= '0' && c <= '9');
}

static int peek(const am_lexer *lx, size_t k)
{
    return lx->pos + k < lx->n ? (unsigned char)lx->s[lx->pos + k] : -1;
}

static am_token tok(am_lexer *lx, am_tok t, size_t start)
{
    am_token k = {t, (uint32_t)start, (uint32_t)(lx->pos - start)};
    return k;
}

static am_token lex_error(am_lexer *lx, size_t start, const char *fmt, const char *arg)
{
    snprintf(lx->err, sizeof lx->err, fmt, arg);
    return tok(lx, T_ERROR, start);
}

/* [0-9]+ units, repeated: 1h30m. Returns the length, 0 when not one. */
static size_t duration_len(const char *s, size_t n)
{
    static const char *const UNITS[] = {"ms", "s", "m", "h", "d", "w", "y"};
    size_t i = 0;
    while (i < n) {
        size_t d = i;
        while (i < n && isdigit((unsigned char)s[i]))
            i++;
        if (i == d)
            break;
        size_t u = 0;
        for (size_t k = 0; k < sizeof UNITS / sizeof UNITS[0]; k++) {
            size_t ul = strlen(UNITS[k]);
            if (i + ul <= n && memcmp(s + i, UNITS[k], ul) == 0 && ul > u)
                u = ul;
        }
        if (!u)
            return 0;
        i += u;
    }
    if (i < n && is_alnum((unsigned char)s[i]))
        return 0;
    return i;
}

static am_token lex_number(am_lexer *lx, size_t start)
{
    const char *s = lx->s;
    size_t i = lx->pos, n = lx->n;
    size_t dl = duration_len(s + start, n - start);
    if (dl) {
        lx->pos = start + dl;
        return tok(lx, T_DURATION, start);
    }
    if (i + 1 < n && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
        i += 2;
        while (i < n && isxdigit((unsigned char)s[i]))
            i++;
    } else {
        while (i < n && isdigit((unsigned char)s[i]))
            i++;
        if (i < n && s[i] == '.') {
            i++;
            while (i < n && isdigit((unsigned char)s[i]))
                i++;
        }
        if (i < n && (s[i] == 'e' || s[i] == 'E')) {
            size_t e = i + 1;
            if (e < n && (s[e] == '+' || s[e] == '-'))
                e++;
            if (e < n && isdigit((unsigned char)s[e])) {
                i = e;
                while (i < n && isdigit((unsigned char)s[i]))
                    i++;
            }
        }
    }
    if (i < n && (is_alnum((unsigned char)s[i]) || s[i] == '.')) {
        while (i < n && (is_alnum((unsigned char)s[i]) || s[i] == '.'))
            i++;
        lx->pos = i;
        char word[64];
        size_t wl = i - start < sizeof word - 1 ? i - start : sizeof word - 1;
        memcpy(word, s + start, wl);
        word[wl] = '\0';
        return lex_error(lx, start, "bad number or duration syntax: \"%s\"", word);
    }
    lx->pos = i;
    return tok(lx, T_NUMBER, start);
}

static am_token lex_string(am_lexer *lx, size_t start, char q)
{
    lx->pos++;
    while (lx->pos < lx->n) {
        char c = lx->s[lx->pos];
        if (c == '\\' && q != '`') {
            lx->pos += 2;
            continue;
        }
        if (c == '\n' && q != '`')
            break;
        lx->pos++;
        if (c == q)
            return tok(lx, T_STRING, start);
    }
    lx->pos = lx->n < lx->pos ? lx->n : lx->pos;
    return lex_error(lx, start, "%s",
                     q == '`' ? "unterminated raw string" : "unterminated quoted string");
}

am_token am__lex_next(am_lexer *lx)
{
    for (;;) {
        int c = peek(lx, 0);
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            lx->pos++;
            continue;
        }
        if (c == '#') {
            while (lx->pos < lx->n && lx->s[lx->pos] != '\n')
                lx->pos++;
            continue;
        }
        break;
    }
    size_t start = lx->pos;
    int c = peek(lx, 0);
    if (c < 0)
        return tok(lx, T_EOF, start);
    int c1 = peek(lx, 1);
    if (isdigit(c) || (c == '.' && c1 >= 0 && isdigit(c1)))
        return lex_number(lx, start);
    if (c == '"' || c == '\'' || c == '`')
        return lex_string(lx, start, (char)c);
    if (is_alpha(c) || (c == ':' && !lx->in_bracket && lx->brace_depth == 0)) {
        bool colon = false;
        while (lx->pos < lx->n &&
               (is_alnum((unsigned char)lx->s[lx->pos]) ||
                (lx->s[lx->pos] == ':' && lx->brace_depth == 0 && !lx->in_bracket))) {
            colon |= lx->s[lx->pos] == ':';
            lx->pos++;
        }
        size_t len = lx->pos - start;
        if (lx->brace_depth > 0)
            return tok(lx, T_IDENT, start);
        if ((len == 3 && (strncasecmp(lx->s + start, "inf", 3) == 0 ||
                          strncasecmp(lx->s + start, "nan", 3) == 0)))
            return tok(lx, T_NUMBER, start);
        if (colon)
            return tok(lx, T_METRIC_IDENT, start);
        return tok(lx, am__tok_keyword(lx->s + start, len), start);
    }
    lx->pos++;
    switch (c) {
    case '(':
        return tok(lx, T_LPAREN, start);
    case ')':
        return tok(lx, T_RPAREN, start);
    case '{':
        lx->brace_depth++;
        return tok(lx, T_LBRACE, start);
    case '}':
        if (lx->brace_depth == 0)
            return lex_error(lx, start, "%s", "unexpected right brace");
        lx->brace_depth--;
        return tok(lx, T_RBRACE, start);
    case '[':
        if (lx->in_bracket)
            return lex_error(lx, start, "%s", "unexpected left bracket");
        lx->in_bracket = true;
        return tok(lx, T_LBRACKET, start);
    case ']':
        if (!lx->in_bracket)
            return lex_error(lx, start, "%s", "unexpected right bracket");
        lx->in_bracket = false;
        return tok(lx, T_RBRACKET, start);
    case ',':
        return tok(lx, T_COMMA, start);
    case ':':
        return tok(lx, T_COLON, start);
    case '@':
        return tok(lx, T_AT, start);
    case '+':
        return tok(lx, T_ADD, start);
    case '-':
        return tok(lx, T_SUB, start);
    case '*':
        return tok(lx, T_MUL, start);
    case '/':
        return tok(lx, T_DIV, start);
    case '%':
        return tok(lx, T_MOD, start);
    case '^':
        return tok(lx, T_POW, start);
    case '=':
        if (peek(lx, 0) == '=') {
            lx->pos++;
            return tok(lx, T_EQLC, start);
        }
        if (peek(lx, 0) == '~') {
            lx->pos++;
            return tok(lx, T_EQL_REGEX, start);
        }
        return tok(lx, T_ASSIGN, start);
    case '!':
        if (peek(lx, 0) == '=') {
            lx->pos++;
            return tok(lx, T_NEQ, start);
        }
        if (peek(lx, 0) == '~') {
            lx->pos++;
            return tok(lx, T_NEQ_REGEX, start);
        }
        return lex_error(lx, start, "%s", "unexpected character after '!'");
    case '<':
        if (peek(lx, 0) == '=') {
            lx->pos++;
            return tok(lx, T_LTE, start);
        }
        return tok(lx, T_LSS, start);
    case '>':
        if (peek(lx, 0) == '=') {
            lx->pos++;
            return tok(lx, T_GTE, start);
        }
        return tok(lx, T_GTR, start);
    default: {
        char ch[16];
        if (c >= 0x20 && c < 0x7f)
            snprintf(ch, sizeof ch, "%c", c);
        else
            snprintf(ch, sizeof ch, "\\x%02x", (unsigned)c & 0xffu);
        return lex_error(lx, start, "unexpected character: '%s'", ch);
    }
    }
}

/* ------------------------------------------------------------ unquoting */

static size_t put_utf8(char *w, uint32_t r)
{
    if (r < 0x80) {
        w[0] = (char)r;
        return 1;
    }
    if (r < 0x800) {
        w[0] = (char)(0xc0 | r >> 6);
        w[1] = (char)(0x80 | (r & 0x3f));
        return 2;
    }
    if (r < 0x10000) {
        w[0] = (char)(0xe0 | r >> 12);
        w[1] = (char)(0x80 | ((r >> 6) & 0x3f));
        w[2] = (char)(0x80 | (r & 0x3f));
        return 3;
    }
    w[0] = (char)(0xf0 | r >> 18);
    w[1] = (char)(0x80 | ((r >> 12) & 0x3f));
    w[2] = (char)(0x80 | ((r >> 6) & 0x3f));
    w[3] = (char)(0x80 | (r & 0x3f));
    return 4;
}

bool am__pql_unquote(const char *s, size_t n, am_arena *a, char **out, size_t *out_len)
{
    if (n < 2 || s[0] != s[n - 1])
        return false;
    char q = s[0];
    char *w = am__arena_alloc(a, n + 1);
    if (!w)
        return false;
    size_t o = 0;
    if (q == '`') {
        for (size_t i = 1; i + 1 < n; i++) {
            if (s[i] == '`')
                return false;
            if (s[i] != '\r') /* Go drops carriage returns from raw strings */
                w[o++] = s[i];
        }
        w[o] = '\0';
        *out = w;
        *out_len = o;
        return true;
    }
    for (size_t i = 1; i + 1 < n;) {
        char c = s[i];
        if (c == q || c == '\n')
            return false;
        if (c != '\\') {
            w[o++] = c;
            i++;
            continue;
        }
        if (i + 2 >= n)
            return false;
        char e = s[i + 1];
        i += 2;
        switch (e) {
        case 'a':
            w[o++] = '\a';
            break;
        case 'b':
            w[o++] = '\b';
            break;
        case 'f':
            w[o++] = '\f';
            break;
        case 'n':
            w[o++] = '\n';
            break;
        case 'r':
            w[o++] = '\r';
            break;
        case 't':
            w[o++] = '\t';
            break;
        case 'v':
            w[o++] = '\v';
            break;
        case '\\':
            w[o++] = '\\';
            break;
        case '\'':
        case '"':
            if (e != q)
                return false;
            w[o++] = e;
            break;
        case 'x': {
            if (i + 2 > n - 1)
                return false;
            int h1 = am__hexval((unsigned char)s[i]), h2 = am__hexval((unsigned char)s[i + 1]);
            if (h1 < 0 || h2 < 0)
                return false;
            w[o++] = (char)(h1 << 4 | h2);
            i += 2;
            break;
        }
        case 'u':
        case 'U': {
            size_t k = e == 'u' ? 4 : 8;
            if (i + k > n - 1)
                return false;
            uint32_t r = 0;
            for (size_t j = 0; j < k; j++) {
                int h = am__hexval((unsigned char)s[i + j]);
                if (h < 0)
                    return false;
                r = r << 4 | (uint32_t)h;
            }
            if (r > 0x10ffff || (r >= 0xd800 && r < 0xe000))
                return false;
            o += put_utf8(w + o, r);
            i += k;
            break;
        }
        default:
            if (e >= '0' && e <= '7') {
                if (i + 2 > n - 1)
                    return false;
                int v = e - '0';
                for (int j = 0; j < 2; j++) {
                    char d = s[i + (size_t)j];
                    if (d < '0' || d > '7')
                        return false;
                    v = v * 8 + (d - '0');
                }
                if (v > 255)
                    return false;
                w[o++] = (char)v;
                i += 2;
                break;
            }
            return false;
        }
    }
    w[o] = '\0';
    *out = w;
    *out_len = o;
    return true;
}
