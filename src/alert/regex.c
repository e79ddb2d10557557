/*
** regex.c: RE2-syntax patterns, anchored, on PCRE2 (regex.h).
**
** DESIGN
** Compilation wraps the pattern as Prometheus does ("^(?:" p ")$") and
** compiles with PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY:
** UTF-8 aware like Go, no error on a value that is not UTF-8, and "$" not
** matching before a final newline (Go's $ without (?m) is end of text).
** \d \s \w and \b stay ASCII (no PCRE2_UCP), as in Go. JIT is used when
** the library has it.
**
** Before compiling, a scan outside character classes refuses what RE2
** lacks, so PCRE2 never gives a pattern a meaning Prometheus would not.
**
** Matching uses a match-data block per thread (grown to the largest
** pattern seen), so compiled patterns are shared read-only between
** threads; a thread-specific key frees it when its thread exits. Match
** and depth limits bound the backtracking.
*/
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "../util/alloc.h"
#include "regex.h"

struct am_regex {
    pcre2_code *code;
    pcre2_match_context *mctx;
    uint32_t n_caps;
    char *pattern;
};

static __thread pcre2_match_data *t_md;
static __thread uint32_t t_md_pairs;
static pthread_key_t g_md_key; /* its destructor frees a thread's t_md */
static pthread_once_t g_md_once = PTHREAD_ONCE_INIT;

static void md_free(void *md)
{
    pcre2_match_data_free(md);
}

static void md_key_make(void)
{
    pthread_key_create(&g_md_key, md_free);
}

/* What RE2 refuses, found by a scan outside [...] classes. NULL when fine. */
static const char *re2_unsupported(const char *p)
{
    size_t n = strlen(p);
    bool in_class = false;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '\\') {
            if (i + 1 >= n)
                return NULL; /* PCRE2 reports the trailing backslash */
            char e = p[i + 1];
            if (e == 'Q') { /* \Q...\E: literal text */
                const char *end = strstr(p + i + 2, "\\E");
                if (!end)
                    return NULL;
                i = (size_t)(end - p) + 1;
                continue;
            }
            if (!in_class) {
                if (e >= '1' && e <= '9')
                    return "back-reference \\N";
                if (e == 'g' || e == 'k')
                    return "back-reference \\g or \\k";
                if (e == 'K')
                    return "\\K";
                if (e == 'C')
                    return "\\C";
                if (e == 'R' || e == 'X' || e == 'G' || e == 'Z' || e == 'h' || e == 'H' ||
                    e == 'N' || e == 'e' || e == 'c' || e == 'o' || e == 'u' || e == 'U' ||
                    e == 'l' || e == 'L' || e == 'E')
                    return "escape not in RE2";
            }
            i++;
            continue;
        }
        if (in_class) {
            if (c == ']')
                in_class = false;
            continue;
        }
        if (c == '[') {
            in_class = true;
            /* a ']' right after '[' or '[^' is a literal */
            if (i + 1 < n && p[i + 1] == '^')
                i++;
            if (i + 1 < n && p[i + 1] == ']')
                i++;
            continue;
        }
        if (c == '(' && i + 1 < n && p[i + 1] == '?') {
            char k = i + 2 < n ? p[i + 2] : '\0';
            if (k == '=' || k == '!')
                return "look-ahead (?= or (?!";
            if (k == '<' && i + 3 < n && (p[i + 3] == '=' || p[i + 3] == '!'))
                return "look-behind (?<= or (?<!";
            if (k == '>')
                return "atomic group (?>";
            if (k == '|')
                return "branch reset (?|";
            if (k == '(')
                return "conditional (?(";
            if (k == 'R' || k == '&' || (k >= '0' && k <= '9') || k == '+' || k == '-')
                return "recursion";
            if (k == 'C')
                return "callout (?C";
            if (k == '#')
                return "comment (?#";
            if (k == 'P' && i + 3 < n && (p[i + 3] == '=' || p[i + 3] == '>'))
                return "named back-reference or recursion (?P= (?P>";
        }
        if (c == '(' && i + 1 < n && p[i + 1] == '*')
            return "verb (*...)";
        if ((c == '*' || c == '+' || c == '?' || c == '}') && i + 1 < n && p[i + 1] == '+')
            return "possessive quantifier";
    }
    return NULL;
}

static am_err compile(const char *pattern, bool anchored, am_regex **out, char *err, size_t cap)
{
    const char *bad = re2_unsupported(pattern);
    if (bad) {
        snprintf(err, cap, "error parsing regexp: %s is not supported (RE2 syntax): `%s`", bad,
                 pattern);
        return AM_EINVAL;
    }
    size_t n = strlen(pattern);
    char *wrapped = am__malloc(n + 8);
    am_regex *re = am__calloc(1, sizeof *re);
    if (!wrapped || !re) {
        am__free(wrapped);
        am__free(re);
        snprintf(err, cap, "out of memory");
        return AM_ENOMEM;
    }
    size_t wl = n;
    if (anchored) {
        memcpy(wrapped, "^(?:", 4);
        memcpy(wrapped + 4, pattern, n);
        memcpy(wrapped + 4 + n, ")$", 3);
        wl = n + 6;
    } else {
        memcpy(wrapped, pattern, n + 1);
    }
    int ec;
    PCRE2_SIZE off;
    re->code =
        pcre2_compile((PCRE2_SPTR)wrapped, wl,
                      PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY, &ec, &off, NULL);
    am__free(wrapped);
    if (!re->code) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(ec, msg, sizeof msg);
        snprintf(err, cap, "error parsing regexp: %s: `%s`", (const char *)msg, pattern);
        am__free(re);
        return AM_EINVAL;
    }
    (void)pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE);
    re->mctx = pcre2_match_context_create(NULL);
    re->pattern = am__strdup(pattern);
    if (!re->mctx || !re->pattern) {
        am__regex_free(re);
        snprintf(err, cap, "out of memory");
        return AM_ENOMEM;
    }
    pcre2_set_match_limit(re->mctx, 1000000);
    pcre2_set_depth_limit(re->mctx, 10000);
    pcre2_pattern_info(re->code, PCRE2_INFO_CAPTURECOUNT, &re->n_caps);
    *out = re;
    return AM_OK;
}

am_err am__regex_new(const char *pattern, am_regex **out, char *err, size_t cap)
{
    return compile(pattern, true, out, err, cap);
}

am_err am__regex_new_find(const char *pattern, am_regex **out, char *err, size_t cap)
{
    return compile(pattern, false, out, err, cap);
}

void am__regex_free(am_regex *re)
{
    if (!re)
        return;
    pcre2_code_free(re->code);
    pcre2_match_context_free(re->mctx);
    am__free(re->pattern);
    am__free(re);
}

const char *am__regex_pattern(const am_regex *re)
{
    return re->pattern;
}

static pcre2_match_data *match_data(uint32_t pairs)
{
    if (!t_md || t_md_pairs < pairs) {
        uint32_t want = pairs < 16 ? 16 : pairs;
        pcre2_match_data *md = pcre2_match_data_create(want, NULL);
        if (!md)
            return NULL;
        pcre2_match_data_free(t_md);
        t_md = md;
        t_md_pairs = want;
        pthread_once(&g_md_once, md_key_make);
        pthread_setspecific(g_md_key, md);
    }
    return t_md;
}

static int run_at(const am_regex *re, const char *s, size_t n, size_t start, pcre2_match_data **mdp)
{
    pcre2_match_data *md = match_data(re->n_caps + 1);
    if (!md)
        return -1;
    *mdp = md;
    return pcre2_match(re->code, (PCRE2_SPTR)s, n, start, 0, md, re->mctx);
}

static int run(const am_regex *re, const char *s, size_t n, pcre2_match_data **mdp)
{
    return run_at(re, s, n, 0, mdp);
}

bool am__regex_match(const am_regex *re, const char *s, size_t n)
{
    pcre2_match_data *md;
    return run(re, s, n, &md) > 0;
}

/* Go's regexp extract(): a name after '$', braced or not. */
static bool extract(const char *t, const char **name, size_t *nlen, long *num, const char **rest)
{
    bool brace = false;
    if (*t == '{') {
        brace = true;
        t++;
    }
    size_t i = 0;
    while (t[i] && ((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= 'A' && t[i] <= 'Z') ||
                    (t[i] >= '0' && t[i] <= '9') || t[i] == '_' || (unsigned char)t[i] >= 0x80))
        i++;
    if (i == 0)
        return false;
    *name = t;
    *nlen = i;
    if (brace) {
        if (t[i] != '}')
            return false;
        i++;
    }
    long v = 0;
    for (size_t k = 0; k < *nlen; k++) {
        if (t[k] < '0' || t[k] > '9' || v >= 100000000) {
            v = -1;
            break;
        }
        v = v * 10 + (t[k] - '0');
    }
    if (t[0] == '0' && *nlen > 1)
        v = -1;
    *num = v;
    *rest = t + i;
    return true;
}

/* Append Go's expansion of tmpl for the match in ov (rc pairs set). */
static void expand_match(const am_regex *re, const char *s, const PCRE2_SIZE *ov, uint32_t pairs,
                         int rc, const char *tmpl, am_buf *out)
{
    const char *t = tmpl;
    for (;;) {
        const char *d = strchr(t, '$');
        if (!d) {
            am_buf_puts(out, t);
            break;
        }
        am_buf_append(out, t, (size_t)(d - t));
        t = d + 1;
        if (*t == '$') {
            am_buf_putc(out, '$');
            t++;
            continue;
        }
        const char *name, *rest;
        size_t nlen;
        long num;
        if (!extract(t, &name, &nlen, &num, &rest)) {
            am_buf_putc(out, '$');
            continue;
        }
        t = rest;
        long idx = num;
        if (idx < 0) {
            char nm[128];
            if (nlen >= sizeof nm)
                continue;
            memcpy(nm, name, nlen);
            nm[nlen] = '\0';
            int k = pcre2_substring_number_from_name(re->code, (PCRE2_SPTR)nm);
            if (k <= 0)
                continue;
            idx = k;
        }
        if ((uint32_t)idx < pairs && (int)idx < rc && ov[2 * idx] != PCRE2_UNSET)
            am_buf_append(out, s + ov[2 * idx], ov[2 * idx + 1] - ov[2 * idx]);
    }
}

bool am__regex_expand(const am_regex *re, const char *s, size_t n, const char *tmpl, am_buf *out)
{
    pcre2_match_data *md;
    int rc = run(re, s, n, &md);
    if (rc <= 0)
        return false;
    expand_match(re, s, pcre2_get_ovector_pointer(md), pcre2_get_ovector_count(md), rc, tmpl, out);
    return true;
}

static size_t rune_width(const char *s, size_t n, size_t at)
{
    if (at >= n)
        return 0;
    unsigned char c = (unsigned char)s[at];
    size_t w = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    return at + w <= n ? w : 1;
}

void am__regex_replace_all(const am_regex *re, const char *s, size_t n, const char *tmpl,
                           am_buf *out)
{
    size_t last_end = 0, pos = 0;
    while (pos <= n) {
        pcre2_match_data *md;
        int rc = run_at(re, s, n, pos, &md);
        if (rc <= 0)
            break;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t a0 = ov[0], a1 = ov[1];
        am_buf_append(out, s + last_end, a0 - last_end);
        /* no replacement for an empty match right after a match */
        if (a1 > last_end || a0 == 0)
            expand_match(re, s, ov, pcre2_get_ovector_count(md), rc, tmpl, out);
        last_end = a1;
        size_t w = rune_width(s, n, pos);
        if (pos + w > a1)
            pos += w;
        else if (pos + 1 > a1)
            pos++;
        else
            pos = a1;
        if (w == 0 && pos > n)
            break;
    }
    am_buf_append(out, s + last_end, n - last_end);
}
