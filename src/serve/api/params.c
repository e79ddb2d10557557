/*
** params.c: query parameters -> am_store_query / _summary / _series (see
** params.h). Each parameter is checked against the table description
** (schema.c), so an error names the parameter and, where it helps, what
** would have been accepted.
*/
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../util/alloc.h"
#include "../../util/civil.h"
#include "../../util/error.h"
#include "../../util/fmt.h"
#include "../../util/render.h"
#include "../../util/validate.h"
#include "params.h"

#define MAX_LIMIT 10000
#define MAX_POINTS 10000

static char *keep(am_params_mem *mem, size_t n)
{
    if (mem->n == sizeof mem->blocks / sizeof mem->blocks[0])
        return NULL;
    char *b = am__malloc(n ? n : 1);
    if (b)
        mem->blocks[mem->n++] = b;
    return b;
}

void am__params_free(am_params_mem *mem)
{
    for (size_t i = 0; i < mem->n; i++)
        am__free(mem->blocks[i]);
    mem->n = 0;
}

/* ---- values --------------------------------------------------------- */

static am_err time_param(const char *name, const char *v, double *out, bool *seen)
{
    if (*seen)
        return am__err(AM_EINVAL, "%s: given twice", name);
    *seen = true;
    return am__time_parse(v, strlen(v), name, out);
}

static am_err limit_param(const char *v, size_t *out)
{
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (!*v || *end || errno || n < 1 || n > MAX_LIMIT)
        return am__err(AM_EINVAL, "limit: \"%.32s\" is not a whole number in 1..%d", v, MAX_LIMIT);
    *out = (size_t)n;
    return AM_OK;
}

/* A filter's text, checked against its column's type; TIME values are
   rewritten as unix seconds, the form the store compares. */
static am_err add_filter(const am_table *t, am_store_query *q, const char *col, const char *v,
                         am_params_mem *mem)
{
    int c = am_table_col(t, col);
    if (c < 0)
        return am__err(AM_EINVAL,
                       "%s: not a parameter of /api/v1/metrics/%s (start, end, limit, cursor, "
                       "filters, or a column of the table)",
                       col, t->api_name);
    for (size_t i = 0; i < q->n_filters; i++)
        if (q->filters[i].col == c)
            return am__err(AM_EINVAL, "%s: filtered on twice", col);
    if (q->n_filters == AM_STORE_MAX_FILTERS)
        return am__err(AM_EINVAL, "%s: more than %d filters", col, AM_STORE_MAX_FILTERS);
    if (v) {
        char *end;
        errno = 0;
        switch (t->cols[c].type) {
        case AM_COL_TEXT:
            break;
        case AM_COL_INT:
            (void)strtoll(v, &end, 10);
            if (!*v || *end || errno)
                return am__err(AM_EINVAL, "%s: \"%.32s\" is not a whole number", col, v);
            break;
        case AM_COL_REAL: {
            double d = strtod(v, &end);
            if (!*v || *end || !isfinite(d))
                return am__err(AM_EINVAL, "%s: \"%.32s\" is not a number", col, v);
            break;
        }
        case AM_COL_TIME: {
            double d;
            am_err rc = am__time_parse(v, strlen(v), col, &d);
            if (rc)
                return rc;
            char *s = keep(mem, AM_FMT_MAX);
            if (!s)
                return am__err(AM_ENOMEM, "out of memory");
            am__fmt_real(s, d, AM_FMT_SQL);
            v = s;
            break;
        }
        }
    }
    q->filters[q->n_filters++] = (am_store_filter){c, v};
    return AM_OK;
}

/* filters={"col": value, ...}: the analytics slice client's form. */
static am_err json_filters(const am_table *t, am_store_query *q, const char *v, am_params_mem *mem)
{
    json_error_t err;
    json_t *o = json_loads(v, JSON_REJECT_DUPLICATES, &err);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return am__err(AM_EINVAL, "filters: must be a JSON object of column: value%s%s",
                       o ? "" : " (", o ? "" : err.text);
    }
    /* one block for every value's text: numbers need formatting */
    size_t need = 0;
    const char *k;
    json_t *jv;
    json_object_foreach(o, k, jv) need +=
        json_is_string(jv) ? json_string_length(jv) + 1 : AM_FMT_MAX;
    char *blk = keep(mem, need);
    am_err rc = blk ? AM_OK : am__err(AM_ENOMEM, "out of memory");
    size_t off = 0;
    json_object_foreach(o, k, jv)
    {
        if (rc)
            break;
        const char *text = NULL;
        if (json_is_string(jv)) {
            size_t l = json_string_length(jv);
            if (memchr(json_string_value(jv), '\0', l)) {
                rc = am__err(AM_EINVAL, "filters: the value of %s holds a NUL", k);
                break;
            }
            memcpy(blk + off, json_string_value(jv), l + 1);
            text = blk + off;
            off += l + 1;
        } else if (json_is_integer(jv)) {
            text = blk + off;
            off +=
                (size_t)snprintf(blk + off, 32, "%" JSON_INTEGER_FORMAT, json_integer_value(jv)) +
                1;
        } else if (json_is_real(jv)) {
            text = blk + off;
            off += am__fmt_real(blk + off, json_real_value(jv), AM_FMT_SQL) + 1;
        } else if (!json_is_null(jv)) {
            rc = am__err(AM_EINVAL, "filters: the value of %s must be a string, a number or null",
                         k);
            break;
        }
        /* "filters" names the parameter in add_filter's messages too */
        rc = add_filter(t, q, k, text, mem);
        if (rc && strncmp(am_errmsg(), "filters", 7) != 0)
            rc = am__err(rc, "filters: %s", am_errmsg());
    }
    json_decref(o);
    return rc;
}

/* ---- the three queries -------------------------------------------- */

static bool is(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

/* The parameters every query of a table takes; *used false when name is
   none of them. */
static am_err common(const am_table *t, const char *name, const char *v, am_store_query *q,
                     bool *seen_start, bool *seen_end, am_params_mem *mem, bool *used)
{
    *used = true;
    if (is(name, "start") || is(name, "start_time"))
        return time_param(name, v, &q->start, seen_start);
    if (is(name, "end") || is(name, "end_time"))
        return time_param(name, v, &q->end, seen_end);
    if (is(name, "filters"))
        return json_filters(t, q, v, mem);
    *used = false;
    return AM_OK;
}

static am_err check_range(const am_store_query *q)
{
    if (q->start > q->end)
        return am__err(AM_EINVAL, "end: %.3f is before start %.3f", q->end, q->start);
    return AM_OK;
}

am_err am__params_select(const am_table *t, const am_params *p, am_store_query *q,
                         am_params_mem *mem)
{
    memset(q, 0, sizeof *q);
    memset(mem, 0, sizeof *mem);
    q->table = t->id;
    q->start = q->end = NAN;
    q->limit = AM_PARAMS_DEFAULT_LIMIT;
    bool ss = false, se = false, sl = false, sc = false, used;
    am_err rc = AM_OK;
    for (size_t i = 0; i < p->n && !rc; i++) {
        const char *n = p->names[i], *v = p->values[i];
        if ((rc = common(t, n, v, q, &ss, &se, mem, &used)) || used)
            continue;
        if (is(n, "limit"))
            rc = sl ? am__err(AM_EINVAL, "limit: given twice") : limit_param(v, &q->limit);
        else if (is(n, "cursor"))
            rc = sc || !*v ? am__err(AM_EINVAL, "cursor: given twice or empty") : AM_OK;
        else
            rc = add_filter(t, q, n, v, mem);
        if (is(n, "cursor"))
            q->cursor = v, sc = true;
        sl |= is(n, "limit");
    }
    if (!rc && ss && se)
        rc = check_range(q);
    if (rc)
        am__params_free(mem);
    return rc;
}

/* Start and end of a summary or series: both finite, the last hour by
   default. */
static am_err default_range(double *start, double *end, bool ss, bool se, double now)
{
    if (!se)
        *end = ss && *start > now ? *start + AM_PARAMS_DEFAULT_RANGE : now;
    if (!ss)
        *start = *end - AM_PARAMS_DEFAULT_RANGE < 0 ? 0 : *end - AM_PARAMS_DEFAULT_RANGE;
    if (*start > *end)
        return am__err(AM_EINVAL, "end: %.3f is before start %.3f", *end, *start);
    return AM_OK;
}

static am_err step_param(const char *v, double *out, bool *seen)
{
    if (*seen)
        return am__err(AM_EINVAL, "step: given twice");
    *seen = true;
    return am__duration_parse(v, strlen(v), "step", out);
}

static am_err check_points(double start, double end, double step)
{
    if (step > 0 && (end - start) / step > MAX_POINTS)
        return am__err(AM_EINVAL,
                       "step: %gs over a range of %gs makes more than %d points; use a larger step",
                       step, end - start, MAX_POINTS);
    return AM_OK;
}

static am_err group_by(const am_table *t, const char *v, am_store_summary *q)
{
    const char *s = v;
    while (*s) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        char col[128];
        if (len == 0 || len >= sizeof col)
            return am__err(AM_EINVAL, "group_by: \"%.64s\" holds an empty or overlong name", v);
        memcpy(col, s, len);
        col[len] = '\0';
        int c = am_table_col(t, col);
        if (c < 0 || !t->cols[c].group_by) {
            char set[512];
            size_t o = 0;
            set[0] = '\0';
            for (size_t i = 0; i < t->n_cols && o < sizeof set; i++)
                if (t->cols[i].group_by)
                    o += (size_t)snprintf(set + o, sizeof set - o, "%s%s", o ? ", " : "",
                                          t->cols[i].name);
            return am__err(AM_EINVAL, "group_by: %s events cannot be grouped by \"%s\" (%s)",
                           t->api_name, col, set);
        }
        for (size_t i = 0; i < q->n_group_by; i++)
            if (q->group_by[i] == c)
                return am__err(AM_EINVAL, "group_by: \"%s\" given twice", col);
        if (q->n_group_by == AM_STORE_MAX_GROUP)
            return am__err(AM_EINVAL, "group_by: more than %d columns", AM_STORE_MAX_GROUP);
        q->group_by[q->n_group_by++] = c;
        s += len + (e ? 1 : 0);
        if (e && !*s)
            return am__err(AM_EINVAL, "group_by: \"%.64s\" ends with a comma", v);
    }
    if (!*v)
        return am__err(AM_EINVAL, "group_by: empty");
    return AM_OK;
}

am_err am__params_summary(const am_table *t, const am_params *p, am_store_summary *q,
                          am_params_mem *mem)
{
    memset(q, 0, sizeof *q);
    memset(mem, 0, sizeof *mem);
    q->q.table = t->id;
    q->step = 60;
    bool ss = false, se = false, st = false, used;
    am_err rc = AM_OK;
    for (size_t i = 0; i < p->n && !rc; i++) {
        const char *n = p->names[i], *v = p->values[i];
        if ((rc = common(t, n, v, &q->q, &ss, &se, mem, &used)) || used)
            continue;
        if (is(n, "step"))
            rc = step_param(v, &q->step, &st);
        else if (is(n, "group_by"))
            rc = group_by(t, v, q);
        else if (is(n, "limit") || is(n, "cursor"))
            rc = am__err(AM_EINVAL, "%s: not a parameter of a summary", n);
        else
            rc = add_filter(t, &q->q, n, v, mem);
    }
    if (!rc)
        rc = default_range(&q->q.start, &q->q.end, ss, se, p->now);
    if (!rc)
        rc = check_points(q->q.start, q->q.end, q->step);
    if (rc)
        am__params_free(mem);
    return rc;
}

/* ---- series selectors ---------------------------------------------- */

/* One match[] value into q's matchers (strings unescaped into *w). */
static am_err selector(const char *v, am_store_series *q, char **w)
{
    const char *s = v;
    size_t n = 0;
    while (s[n] && (s[n] == '_' || s[n] == ':' || (s[n] >= 'a' && s[n] <= 'z') ||
                    (s[n] >= 'A' && s[n] <= 'Z') || (n && s[n] >= '0' && s[n] <= '9')))
        n++;
    bool braces = s[n] == '{';
    if (n && !s[n]) { /* a bare metric name */
        if (am__check_metric_name(v, "match[]"))
            return AM_EINVAL;
        if (q->name && strcmp(q->name, v) != 0)
            return am__err(AM_EINVAL, "match[]: \"%.64s\" names another metric than %s", v,
                           q->name);
        q->name = v;
        return AM_OK;
    }
    if (braces && n) { /* name{...}: the metric's name */
        char *name = *w;
        memcpy(name, s, n);
        name[n] = '\0';
        *w += n + 1;
        if (am__check_metric_name(name, "match[]"))
            return AM_EINVAL;
        if (q->name && strcmp(q->name, name) != 0)
            return am__err(AM_EINVAL, "match[]: \"%.64s\" names another metric than %s", v,
                           q->name);
        q->name = name;
    }
    s = braces ? s + n + 1 : v;
    for (;;) {
        while (*s == ' ')
            s++;
        if (braces && *s == '}' && !s[1])
            return AM_OK;
        const char *ln = s;
        while (*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
               (s > ln && *s >= '0' && *s <= '9'))
            s++;
        if (s == ln)
            return am__err(AM_EINVAL, "match[]: \"%.64s\": a label name is expected at %zu", v,
                           (size_t)(ln - v));
        size_t lnlen = (size_t)(s - ln);
        while (*s == ' ')
            s++;
        if (*s != '=' || s[1] == '~' || s[1] == '=')
            return am__err(AM_EINVAL,
                           "match[]: \"%.64s\": only label=\"value\" matchers are "
                           "supported",
                           v);
        s++;
        while (*s == ' ')
            s++;
        if (q->n_match == AM_STORE_MAX_FILTERS)
            return am__err(AM_EINVAL, "match[]: more than %d matchers", AM_STORE_MAX_FILTERS);
        char *name = *w;
        memcpy(name, ln, lnlen);
        name[lnlen] = '\0';
        *w += lnlen + 1;
        char *val = *w, *o = val;
        if (*s == '"') {
            size_t len, end;
            if (am__unescape_label(val, s + 1, &len, &end) != AM_OK) {
                if (!s[1 + end])
                    return am__err(AM_EINVAL, "match[]: \"%.64s\": a quote is not closed", v);
                return am__err(AM_EINVAL, "match[]: \"%.64s\": bad escape", v);
            }
            o = val + len;
            s += 1 + end + 1;
        } else if (!braces) {
            while (*s)
                *o++ = *s++;
        } else {
            return am__err(AM_EINVAL, "match[]: \"%.64s\": a value must be quoted in braces", v);
        }
        *o = '\0';
        *w = o + 1;
        q->match_names[q->n_match] = name;
        q->match_values[q->n_match++] = val;
        while (*s == ' ')
            s++;
        if (!braces) {
            if (*s)
                return am__err(AM_EINVAL, "match[]: \"%.64s\": text after the value", v);
            return AM_OK;
        }
        if (*s == ',') {
            s++;
            continue;
        }
        if (*s == '}' && !s[1])
            return AM_OK;
        return am__err(AM_EINVAL, "match[]: \"%.64s\": expected , or } at %zu", v, (size_t)(s - v));
    }
}

am_err am__params_series(const am_params *p, am_store_series *q, am_params_mem *mem)
{
    memset(q, 0, sizeof *q);
    memset(mem, 0, sizeof *mem);
    bool ss = false, se = false, st = false, sn = false;
    size_t need = 1;
    for (size_t i = 0; i < p->n; i++)
        if (is(p->names[i], "match[]"))
            need += 2 * strlen(p->values[i]) + 4;
    char *w = keep(mem, need);
    if (!w)
        return am__err(AM_ENOMEM, "out of memory");
    am_err rc = AM_OK;
    for (size_t i = 0; i < p->n && !rc; i++) {
        const char *n = p->names[i], *v = p->values[i];
        if (is(n, "start"))
            rc = time_param(n, v, &q->start, &ss);
        else if (is(n, "end"))
            rc = time_param(n, v, &q->end, &se);
        else if (is(n, "step"))
            rc = step_param(v, &q->step, &st);
        else if (is(n, "name")) {
            if (sn || (q->name && strcmp(q->name, v) != 0))
                rc = am__err(AM_EINVAL, "name: given twice");
            else if ((rc = am__check_metric_name(v, "name")) == AM_OK)
                q->name = v;
            sn = true;
        } else if (is(n, "match[]"))
            rc = selector(v, q, &w);
        else
            rc = am__err(AM_EINVAL,
                         "%s: not a parameter of /api/v1/series (name, match[], start, end, step)",
                         n);
    }
    if (!rc && !q->name)
        rc = am__err(AM_EINVAL, "name: missing (or give it in match[] as name{...})");
    if (!rc)
        rc = default_range(&q->start, &q->end, ss, se, p->now);
    if (!rc)
        rc = check_points(q->start, q->end, q->step);
    if (rc)
        am__params_free(mem);
    return rc;
}
