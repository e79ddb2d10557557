/*
** regex.h: regular expressions as PromQL uses them (RE2 syntax, fully
** anchored), on PCRE2.
**
** Prometheus compiles a matcher's or label_replace()'s pattern p as Go's
** regexp "^(?:" + p + ")$". We compile the same string with PCRE2 (UTF,
** invalid UTF-8 tolerated, $ only at the very end) and refuse, at compile
** time, the Perl constructs RE2 does not have -- back-references,
** look-around, atomic groups, possessive quantifiers, recursion,
** conditionals, callouts, \C and \K -- so that a pattern either means what
** it means to Prometheus or is refused. See docs/ALERTING.md for what
** remains different. Matching is bounded (PCRE2 match and depth limits),
** since PCRE2 backtracks where RE2 does not; a match that hits the bound
** counts as no match.
**
** A compiled regex is immutable and may be used by any number of threads
** at once (each thread has its own match data).
*/
#ifndef AM_ALERT_REGEX_H
#define AM_ALERT_REGEX_H

#include <stdbool.h>
#include <stddef.h>

#include "../util/buf.h"
#include "agentmon/common.h"

typedef struct am_regex am_regex;

/*
** Compile pattern (copied) anchored as Prometheus anchors it. On failure
** returns AM_EINVAL and writes why into err (cap bytes, NUL-terminated).
** out: owned result, free with am__regex_free.
*/
am_err am__regex_new(const char *pattern, am_regex **out, char *err, size_t cap);
/* The same, not anchored: Go's regexp as templates use it (match,
   reReplaceAll), a match anywhere in the text. */
am_err am__regex_new_find(const char *pattern, am_regex **out, char *err, size_t cap);
void am__regex_free(am_regex *re);

/* Go's Regexp.ReplaceAllString(s, tmpl) for an unanchored regex. */
void am__regex_replace_all(const am_regex *re, const char *s, size_t n, const char *tmpl,
                           am_buf *out);

/* Whether s[0..n) matches the whole pattern (anywhere, unanchored). */
bool am__regex_match(const am_regex *re, const char *s, size_t n);

/*
** Match s[0..n) and, when it matches, append Go's Regexp.ExpandString of
** tmpl ($1, ${1}, $name, ${name}, $$) to out. Returns whether it matched.
*/
bool am__regex_expand(const am_regex *re, const char *s, size_t n, const char *tmpl, am_buf *out);

/* The pattern as given. */
const char *am__regex_pattern(const am_regex *re);

#endif
