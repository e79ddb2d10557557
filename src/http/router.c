/*
** router.c: route patterns and request matching.
**
** A pattern is '/' followed by segments separated by '/': a literal, a
** "{name}" placeholder matching one non-empty segment, or a final "*"
** matching whatever follows (including nothing). Routes are tried in the
** order they were added and the first one whose path and method match
** wins; when paths match but no method does, the answer is 405 with the
** union of the methods that would have matched, which becomes the Allow
** header. A GET route answers HEAD as well, as HTTP requires.
**
** Paths are matched as sent, not percent-decoded, so "/a%2Fb" is one
** segment and can never be mistaken for two.
*/
#include <string.h>

#include "../util/alloc.h"
#include "../util/error.h"
#include "../util/validate.h"
#include "router.h"

unsigned am__http_method_bit(const char *m)
{
    static const struct {
        const char *name;
        unsigned bit;
    } t[] = {{"GET", AM_HTTP_GET},
             {"HEAD", AM_HTTP_HEAD},
             {"POST", AM_HTTP_POST},
             {"PUT", AM_HTTP_PUT},
             {"DELETE", AM_HTTP_DELETE}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(m, t[i].name) == 0)
            return t[i].bit;
    return 0;
}

void am__route_free(am_route *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_segs; i++)
        am__free(r->segs[i]);
    am__free(r->pattern);
    am__creds_free(&r->creds);
    am__free(r);
}

am_err am__route_new(unsigned methods, const char *pattern, am_route **out)
{
    const unsigned all = AM_HTTP_GET | AM_HTTP_HEAD | AM_HTTP_POST | AM_HTTP_PUT | AM_HTTP_DELETE;
    bool is_inline = (methods & AM_HTTP_INLINE) != 0;
    bool is_loop_small = (methods & AM_HTTP_LOOP_SMALL) != 0;
    methods &= ~(AM_HTTP_INLINE | AM_HTTP_LOOP_SMALL);
    if (!methods || (methods & ~all))
        return am__err(AM_EINVAL, "route methods 0x%x are not a set of AM_HTTP_* bits", methods);
    if (!pattern || pattern[0] != '/')
        return am__err(AM_EINVAL, "route pattern must start with '/'");
    size_t plen = strlen(pattern);
    if (plen > 1 && pattern[plen - 1] == '/')
        return am__err(AM_EINVAL, "route pattern \"%s\" must not end with '/'", pattern);
    am_route *r = am__calloc(1, sizeof *r);
    if (!r || !(r->pattern = am__strdup(pattern))) {
        am__free(r);
        return am__err(AM_ENOMEM, "out of memory adding a route");
    }
    r->methods = methods;
    r->is_inline = is_inline;
    r->is_loop_small = is_loop_small && !is_inline;
    if (methods & AM_HTTP_GET)
        r->methods |= AM_HTTP_HEAD;
    const char *p = pattern + 1;
    while (*p) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (r->tail) {
            am__route_free(r);
            return am__err(AM_EINVAL, "route \"%s\": \"*\" must be the last segment", pattern);
        }
        if (len == 1 && p[0] == '*') {
            r->tail = true;
        } else {
            if (r->n_segs == AM_ROUTE_MAX_SEGS) {
                am__route_free(r);
                return am__err(AM_EINVAL, "route \"%s\" has too many segments", pattern);
            }
            bool param = len >= 2 && p[0] == '{' && p[len - 1] == '}';
            const char *s = param ? p + 1 : p;
            size_t slen = param ? len - 2 : len;
            char *seg = am__strndup(s, slen);
            if (!seg) {
                am__route_free(r);
                return am__err(AM_ENOMEM, "out of memory adding a route");
            }
            r->segs[r->n_segs] = seg;
            r->is_param[r->n_segs++] = param;
            bool bad = memchr(seg, '{', slen) || memchr(seg, '}', slen) || memchr(seg, '*', slen) ||
                       memchr(seg, '?', slen) ||
                       (param && am__check_label_name(seg, "route "
                                                           "parameter"));
            if (bad || (slen == 0 && end)) {
                am__route_free(r);
                return am__err(AM_EINVAL, "route \"%s\": bad segment \"%.*s\"", pattern, (int)len,
                               p);
            }
        }
        if (!end)
            break;
        p = end + 1;
    }
    size_t n_params = 0;
    for (size_t i = 0; i < r->n_segs; i++)
        n_params += r->is_param[i];
    if (n_params > AM_ROUTE_MAX_PARAMS) {
        am__route_free(r);
        return am__err(AM_EINVAL, "route \"%s\" has more than %d parameters", pattern,
                       AM_ROUTE_MAX_PARAMS);
    }
    *out = r;
    return AM_OK;
}

am_err am__router_add(am_router *rt, am_route *r)
{
    am_route **v = am__grow(rt->v, &rt->cap, rt->n + 1, sizeof *v, 16);
    if (!v)
        return am__err(AM_ENOMEM, "out of memory adding a route");
    rt->v = v;
    rt->v[rt->n++] = r;
    return AM_OK;
}

void am__router_free(am_router *rt)
{
    for (size_t i = 0; i < rt->n; i++)
        am__route_free(rt->v[i]);
    am__free(rt->v);
    rt->v = NULL;
    rt->n = rt->cap = 0;
}

/* Match path against r; fill params on success. */
static bool path_matches(const am_route *r, const char *path, am_route_match *m)
{
    const char *p = path + 1;
    size_t n_params = 0;
    for (size_t i = 0; i < r->n_segs; i++) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (r->is_param[i]) {
            if (len == 0)
                return false;
            m->params[n_params].name = r->segs[i];
            m->params[n_params].off = (size_t)(p - path);
            m->params[n_params++].len = len;
        } else if (strlen(r->segs[i]) != len || memcmp(r->segs[i], p, len) != 0) {
            return false;
        }
        if (!end) {
            /* The path ended: only a pattern ending here (or in "*") fits. */
            if (i + 1 != r->n_segs)
                return false;
            m->n_params = n_params;
            return true;
        }
        p = end + 1;
    }
    if (r->tail || (r->n_segs == 0 && *p == '\0')) {
        m->n_params = n_params;
        return true;
    }
    return false;
}

int am__router_match(const am_router *rt, unsigned method, const char *path, am_route_match *m)
{
    memset(m, 0, sizeof *m);
    if (!path || path[0] != '/')
        return 400;
    for (const char *c = path; *c; c++)
        if ((unsigned char)*c <= 0x20 || *c == 0x7f || *c == '?' || *c == '#')
            return 400;
    for (size_t i = 0; i < rt->n; i++) {
        am_route_match cand;
        memset(&cand, 0, sizeof cand);
        if (!path_matches(rt->v[i], path, &cand))
            continue;
        m->allowed |= rt->v[i]->methods;
        if (!m->route && (rt->v[i]->methods & method)) {
            unsigned allowed = m->allowed;
            *m = cand;
            m->allowed = allowed;
            m->route = rt->v[i];
        }
    }
    if (m->route)
        return 200;
    return m->allowed ? 405 : 404;
}
