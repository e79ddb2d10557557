/*
** fuzz_http.c: the request parsers every byte from the network reaches --
** the router (path and method), the query-string parser, Accept and
** Accept-Encoding negotiation, the Authorization check with base64, the
** Content-Length / Transfer-Encoding framing check -- and the credential
** lists a route is given (am_http_auth chains).
**
** Input: a selector byte, then the rest split at the first '\n' into a
** path-or-header and a query. Invariants checked (a violation traps):
**   - routing answers 200, 400, 404 or 405; a match's parameters are
**     slices inside the path; 405 comes with a non-empty Allow set;
**   - a parsed query has at most AM_QUERY_MAX_PARAMS pairs, every name and
**     value valid UTF-8 without NUL, and decoding never grows the input;
**     a refused one leaves nothing allocated and says why;
**   - negotiation returns one of the two formats whatever the header;
**   - auth never accepts a header that differs from the credentials;
**   - framing answers 0, 400 or 501, a reason with every refusal, and
**     accepts only what libmicrohttpd frames the same way: no
**     Transfer-Encoding and one Content-Length number, or exactly one
**     "chunked" field and no Content-Length in HTTP/1.1;
**   - a credential list is copied whole or refused with a reason; every
**     token copied has no space or control byte and lets "Bearer <token>"
**     in, and a list of credentials never lets a request without any in.
** The input's lines after the first, up to 8, are the framing fields
** ('L' first: Content-Length, else Transfer-Encoding) and the credentials
** ('b' first: a bearer token, else "user:password").
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agentmon/agentmon.h"
#include "util/validate.h"
#include "http/auth.h"
#include "http/framing.h"
#include "http/negotiate.h"
#include "util/query.h"
#include "http/router.h"

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

static void noop(am_http_req *req, am_http_resp *resp, void *ud)
{
    (void)req;
    (void)resp;
    (void)ud;
}

static am_router g_rt;

static void init_routes(void)
{
    static const struct {
        unsigned m;
        const char *p;
    } routes[] = {
        {AM_HTTP_GET, "/"},
        {AM_HTTP_GET, "/metrics"},
        {AM_HTTP_GET | AM_HTTP_POST, "/api/v1/events"},
        {AM_HTTP_GET, "/api/v1/metrics/{type}"},
        {AM_HTTP_GET, "/api/v1/metrics/{type}/summary"},
        {AM_HTTP_DELETE, "/static/*"},
        {AM_HTTP_PUT, "/{a}/{b}/{c}"},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        am_route *r;
        if (am__route_new(routes[i].m, routes[i].p, &r) != AM_OK)
            __builtin_trap();
        r->fn = noop;
        am__router_add(&g_rt, r);
    }
}

static char *cstr(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

#define MAX_FIELDS 8

static bool all_digits_same(const char *const *cl, size_t n)
{
    long long first = -1;
    for (size_t i = 0; i < n; i++) {
        const char *p = cl[i];
        while (*p) {
            while (*p == ' ' || *p == '\t')
                p++;
            if (*p < '0' || *p > '9')
                return false;
            long long v = strtoll(p, (char **)&p, 10);
            if (first >= 0 && v != first)
                return false;
            first = v;
            while (*p == ' ' || *p == '\t')
                p++;
            if (*p == ',')
                p++;
            else if (*p)
                return false;
        }
    }
    return true;
}

/* Framing and credentials from the lines of the input after the first. */
static void fields(uint8_t sel, const uint8_t *p, size_t n)
{
    char *line[MAX_FIELDS];
    size_t n_lines = 0;
    while (n_lines < MAX_FIELDS && n) {
        const uint8_t *nl = memchr(p, '\n', n);
        size_t len = nl ? (size_t)(nl - p) : n;
        line[n_lines++] = cstr(p, len);
        p += len + (nl ? 1 : 0);
        n -= len + (nl ? 1 : 0);
    }
    const char *cl[MAX_FIELDS], *te[MAX_FIELDS];
    size_t n_cl = 0, n_te = 0;
    for (size_t i = 0; i < n_lines; i++) {
        if (line[i][0] == 'L')
            cl[n_cl++] = line[i] + 1;
        else if (line[i][0])
            te[n_te++] = line[i] + 1;
    }
    const char *why = NULL;
    bool http10 = sel & 0x80;
    unsigned st = am__http_framing(http10, cl, n_cl, te, n_te, &why);
    CHECK(st == 0 || st == 400 || st == 501);
    if (st)
        CHECK(why && why[0]);
    else if (n_te)
        CHECK(n_te == 1 && !n_cl && !http10 && strcasecmp(te[0], "chunked") == 0);
    else
        CHECK(all_digits_same(cl, n_cl));

    am_http_auth a[MAX_FIELDS];
    memset(a, 0, sizeof a);
    for (size_t i = 0; i < n_lines; i++) {
        char *colon = strchr(line[i], ':');
        if (line[i][0] == 'b') {
            a[i].bearer_token = line[i] + 1;
        } else if (colon) {
            *colon = '\0'; /* the framing check is done with the lines */
            a[i].basic_user = line[i];
            a[i].basic_password = colon + 1;
        }
        a[i].next = i + 1 < n_lines ? &a[i + 1] : NULL;
    }
    am_creds c;
    am_err rc = am__creds_copy(n_lines ? &a[0] : NULL, &c);
    if (rc != AM_OK) {
        CHECK(rc == AM_EINVAL && am_errmsg()[0] && c.n == 0);
    } else {
        for (size_t i = 0; i < c.n; i++) {
            if (!c.v[i].bearer)
                continue;
            CHECK(am__secret_check(c.v[i].bearer, "t", AM_SECRET_TOKEN) == AM_OK);
            char h[600];
            if (strlen(c.v[i].bearer) < 500) {
                snprintf(h, sizeof h, "Bearer %s", c.v[i].bearer);
                CHECK(am__creds_check(&c, h));
            }
        }
        if (c.n)
            CHECK(!am__creds_check(&c, NULL) && !am__creds_check(&c, "Bearer "));
        am__creds_free(&c);
    }
    for (size_t i = 0; i < n_lines; i++)
        free(line[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_rt.n)
        init_routes();
    if (size < 1)
        return 0;
    uint8_t sel = data[0];
    data++;
    size--;
    const uint8_t *nl = memchr(data, '\n', size);
    size_t n1 = nl ? (size_t)(nl - data) : size;
    char *a = cstr(data, n1);
    const uint8_t *rest = nl ? nl + 1 : data + size;
    size_t n2 = nl ? size - n1 - 1 : 0;

    /* Routing: paths with NULs are cut by the C string, as they would be. */
    static const unsigned methods[] = {0,           AM_HTTP_GET,   AM_HTTP_HEAD, AM_HTTP_POST,
                                       AM_HTTP_PUT, AM_HTTP_DELETE};
    am_route_match m;
    int st = am__router_match(&g_rt, methods[sel % 6], a, &m);
    CHECK(st == 200 || st == 400 || st == 404 || st == 405);
    if (st == 200) {
        CHECK(m.route && (m.route->methods & methods[sel % 6]));
        size_t plen = strlen(a);
        for (size_t i = 0; i < m.n_params; i++)
            CHECK(m.params[i].len > 0 && m.params[i].off + m.params[i].len <= plen);
    }
    if (st == 405)
        CHECK(m.allowed != 0 && !m.route);

    /* The query string (any bytes, NULs included). */
    am_query q;
    am_err rc = am__query_parse((const char *)rest, n2, &q);
    if (rc == AM_OK) {
        CHECK(q.n <= AM_QUERY_MAX_PARAMS);
        size_t total = 0;
        for (size_t i = 0; i < q.n; i++) {
            size_t ln = strlen(q.names[i]), lv = strlen(q.values[i]);
            CHECK(am__utf8_valid(q.names[i], ln, NULL) && am__utf8_valid(q.values[i], lv, NULL));
            total += ln + lv;
        }
        CHECK(total <= n2);
        am__query_free(&q);
    } else {
        CHECK(rc == AM_EINVAL && am_errmsg()[0] && q.n == 0 && !q.mem);
    }

    /* Headers. */
    am_format f = am__negotiate_format(a);
    CHECK(f == AM_FORMAT_PROMETHEUS || f == AM_FORMAT_OPENMETRICS);
    (void)am__accepts_gzip(a);
    if (am__auth_check("tok", NULL, NULL, a)) {
        /* Only "Bearer" (any case), spaces, then exactly the token. */
        const char *t = a;
        while (*t == ' ')
            t++;
        t += 7;
        while (*t == ' ')
            t++;
        CHECK(strcmp(t, "tok") == 0);
    }
    if (am__auth_check(NULL, "u", "p", a)) {
        const char *b = strstr(a, " ");
        CHECK(b != NULL);
    }
    fields(sel, rest, n2);
    char *dec = malloc(n1 + 1);
    size_t dn = am__base64_decode(a, strlen(a), dec);
    CHECK(dn == (size_t)-1 || dn <= strlen(a));
    free(dec);
    free(a);
    return 0;
}
