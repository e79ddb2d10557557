/*
** push.c: am_push() -- a registry to a Prometheus Pushgateway over libcurl.
**
** DESIGN
** An agent that lives for seconds cannot wait to be scraped, so it pushes
** its registry to a Pushgateway just before it exits (or every few seconds)
** and Prometheus scrapes the gateway. One call does the whole exchange:
** validate the options, build the group URL, encode the registries in
** Prometheus text 0.0.4, send one HTTP request, and turn the answer into an
** am_err. Nothing is kept between calls, so there is no handle to create or
** free and no state to share; connection reuse is not worth a handle for a
** process that pushes a handful of times in its life.
**
** The URL. The Pushgateway addresses a group as
** /metrics/job/<job>{/<label>/<value>}, percent-decodes each path segment,
** and accepts <label>@base64/<URL-safe base64> for values that a path
** segment cannot carry. We use base64 exactly where it is needed -- the
** value is empty (no segment at all), contains '/' (would split), or is "."
** or ".." (dot segments that curl and Go's ServeMux both collapse; the
** gateway answers 301) -- and percent-encode everything but RFC 3986's
** unreserved characters otherwise, so the common URL stays readable in
** logs. Base64 is unpadded, as the Go client writes it, and an empty value
** is the single "=" the gateway documents. Label names are validated as
** Prometheus label names, "job" is refused as a grouping label (it is the
** job), and duplicates are refused because the gateway would silently keep
** one of them.
**
** Errors. Bad options are AM_EINVAL before anything is sent. A transfer
** that got no answer is AM_EIO (AM_ETIMEDOUT for a timeout, AM_ENOMEM when
** libcurl ran out of memory) with libcurl's own sentence. An answer that is
** not 2xx is AM_EPROTO with "pushgateway answered <status>: <body>": the
** gateway explains itself in its body ("pushed metrics are invalid or
** inconsistent with existing metrics: ..."), so the first 200 bytes of it,
** cut on a UTF-8 boundary and with control characters blanked so the
** message stays one line, are the useful part. The body is collected into
** a fixed array on the stack, so reading an answer never allocates and a
** huge body costs nothing but the time to drain it.
**
** libcurl. Initialised by am__curl_ready() (curl.h) the first time a push
** needs it. Each push uses its own easy
** handle with CURLOPT_NOSIGNAL (no SIGALRM in a threaded program), a
** whole-request timeout, http/https only, no redirects, and "Expect:"
** cleared so a large body is not held back waiting for "100 Continue".
**
** THREADING
** am_push() may run on any number of threads at once and concurrently with
** metric updates: it shares nothing but the once-initialised libcurl global
** state, and am_encode() is itself safe against concurrent updates.
**
** OWNERSHIP
** Everything in am_push_opts is borrowed for the call. The URL and body are
** owned by the call and freed before it returns; am_push_url() hands its
** URL to the caller (am_free).
*/
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "agentmon/expose.h"
#include "agentmon/push.h"
#include "../util/alloc.h"
#include "../util/buf.h"
#include "../util/error.h"
#include "../util/validate.h"
#include "auth.h"
#include "../util/curl.h"

/* How much of a gateway's error body goes into am_errmsg(). */
#define BODY_SHOWN 200

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */

/*
** Check the gateway URL: http:// or https://, a host, printable ASCII, no
** query or fragment (the group path is appended to it). *base_len is the
** length without trailing slashes.
*/
static am_err check_url(const char *url, size_t *base_len)
{
    if (!url)
        return am__err(AM_EINVAL, "push url is NULL");
    size_t n = strnlen(url, AM_PUSH_MAX_URL + 1);
    if (n > AM_PUSH_MAX_URL)
        return am__err(AM_EINVAL, "push url is longer than %d bytes", AM_PUSH_MAX_URL);
    size_t scheme;
    if (strncasecmp(url, "http://", 7) == 0)
        scheme = 7;
    else if (strncasecmp(url, "https://", 8) == 0)
        scheme = 8;
    else
        return am__err(AM_EINVAL, "push url \"%.64s\" does not start with http:// or https://",
                       url);
    if (url[scheme] == '\0' || url[scheme] == '/')
        return am__err(AM_EINVAL, "push url \"%.64s\" has no host", url);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c >= 0x7f)
            return am__err(AM_EINVAL,
                           "push url has a space, control or non-ASCII byte at offset %zu", i);
        if (c == '?' || c == '#')
            return am__err(AM_EINVAL, "push url must not have a query or fragment ('%c' at %zu)", c,
                           i);
    }
    while (n > scheme && url[n - 1] == '/')
        n--;
    *base_len = n;
    return AM_OK;
}

static am_err check_grouping(const am_labels *g)
{
    if (g->n == 0)
        return AM_OK;
    if (g->n > AM_PUSH_MAX_GROUPING)
        return am__err(AM_EINVAL, "%zu grouping labels, more than %d", g->n, AM_PUSH_MAX_GROUPING);
    if (!g->names || !g->values)
        return am__err(AM_EINVAL, "grouping has %zu labels but NULL names or values", g->n);
    for (size_t i = 0; i < g->n; i++) {
        const char *name = g->names[i];
        am_err rc = am__check_label_name(name, "grouping label name");
        if (rc)
            return rc;
        if (strcmp(name, "job") == 0)
            return am__err(AM_EINVAL, "grouping label name \"job\" is taken: set the job option");
        for (size_t k = 0; k < i; k++)
            if (strcmp(g->names[k], name) == 0)
                return am__err(AM_EINVAL, "grouping label name \"%.64s\" appears twice", name);
        char what[96];
        snprintf(what, sizeof what, "value of grouping label \"%.64s\"", name);
        rc = am__check_text(g->values[i], AM_MAX_LABEL_VALUE, what);
        if (rc)
            return rc;
    }
    return AM_OK;
}

/* What both am_push() and am_push_url() need: url, job, grouping. */
static am_err check_target(const am_push_opts *o, size_t *base_len)
{
    if (!o)
        return am__err(AM_EINVAL, "push options are NULL");
    am_err rc = check_url(o->url, base_len);
    if (rc)
        return rc;
    if (!o->job)
        return am__err(AM_EINVAL, "push job is NULL");
    if (!o->job[0])
        return am__err(AM_EINVAL, "push job is empty");
    rc = am__check_text(o->job, AM_MAX_LABEL_VALUE, "push job");
    if (rc)
        return rc;
    return check_grouping(&o->grouping);
}

/* What only am_push() needs: method, registries, credentials. */
static am_err check_send(const am_push_opts *o, am_push_method m)
{
    if (m != AM_PUSH_PUT && m != AM_PUSH_POST && m != AM_PUSH_DELETE)
        return am__err(AM_EINVAL, "unknown push method %d", (int)m);
    if (o->n_registries && !o->registries)
        return am__err(AM_EINVAL, "n_registries is %zu but registries is NULL", o->n_registries);
    for (size_t i = 0; i < o->n_registries; i++)
        if (!o->registries[i])
            return am__err(AM_EINVAL, "registry %zu of the push is NULL", i);
    if (o->bearer_token) {
        if (o->username || o->password)
            return am__err(AM_EINVAL, "push has both a bearer token and basic auth");
        am_err rc = am__secret_check(o->bearer_token, "push bearer token", AM_SECRET_TOKEN);
        if (rc)
            return rc;
    }
    if (o->password && !o->username)
        return am__err(AM_EINVAL, "push password given without a username");
    if (o->username) {
        am_err rc =
            am__secret_check(o->username, "push username", AM_SECRET_USER | AM_SECRET_EMPTY_OK);
        if (!rc && o->password)
            rc = am__secret_check(o->password, "push password", AM_SECRET_EMPTY_OK);
        if (rc)
            return rc;
    }
    return AM_OK;
}

/* ------------------------------------------------------------------ */
/* The group URL                                                       */
/* ------------------------------------------------------------------ */

static bool needs_base64(const char *v)
{
    return v[0] == '\0' || strchr(v, '/') != NULL || strcmp(v, ".") == 0 || strcmp(v, "..") == 0;
}

/* RFC 4648 section 5 (URL- and file-name-safe), unpadded; "" as "=". */
static void put_base64url(am_buf *b, const char *s)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    if (n == 0) {
        am_buf_putc(b, '=');
        return;
    }
    char *w = am_buf_reserve(b, (n + 2) / 3 * 4);
    if (!w)
        return;
    size_t k = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        w[k++] = abc[v >> 18];
        w[k++] = abc[(v >> 12) & 63];
        w[k++] = abc[(v >> 6) & 63];
        w[k++] = abc[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        w[k++] = abc[v >> 18];
        w[k++] = abc[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        w[k++] = abc[v >> 18];
        w[k++] = abc[(v >> 12) & 63];
        w[k++] = abc[(v >> 6) & 63];
    }
    b->len += k;
    b->p[b->len] = '\0';
}

static bool is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static void put_pct(am_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (is_unreserved(*p)) {
            am_buf_putc(b, (char)*p);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            am_buf_append(b, e, 3);
        }
    }
}

/* "/name/value" or "/name@base64/encoded". */
static void put_pair(am_buf *b, const char *name, const char *value)
{
    am_buf_putc(b, '/');
    am_buf_puts(b, name);
    if (needs_base64(value)) {
        am_buf_append(b, "@base64/", 8);
        put_base64url(b, value);
    } else {
        am_buf_putc(b, '/');
        put_pct(b, value);
    }
}

static am_err build_url(const am_push_opts *o, size_t base_len, char **out)
{
    am_buf b;
    am_buf_init(&b, 0);
    am_buf_append(&b, o->url, base_len);
    am_buf_append(&b, "/metrics", 8);
    put_pair(&b, "job", o->job);
    for (size_t i = 0; i < o->grouping.n; i++)
        put_pair(&b, o->grouping.names[i], o->grouping.values[i]);
    if (am_buf_err(&b)) {
        am_buf_free(&b);
        return am__err(AM_ENOMEM, "out of memory building the push url");
    }
    *out = am_buf_take(&b, NULL);
    return *out ? AM_OK : am__err(AM_ENOMEM, "out of memory building the push url");
}

am_err am_push_url(const am_push_opts *o, char **out)
{
    if (!out)
        return am__err(AM_EINVAL, "out pointer is NULL");
    size_t base_len;
    am_err rc = check_target(o, &base_len);
    if (rc)
        return rc;
    return build_url(o, base_len, out);
}

/* ------------------------------------------------------------------ */
/* libcurl                                                             */
/* ------------------------------------------------------------------ */

static am_err map_curl(CURLcode cc)
{
    switch (cc) {
    case CURLE_OK:
        return AM_OK;
    case CURLE_OUT_OF_MEMORY:
        return AM_ENOMEM;
    case CURLE_OPERATION_TIMEDOUT:
        return AM_ETIMEDOUT;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return AM_EINVAL;
    default:
        return AM_EIO;
    }
}

/* The start of the answer's body; the rest is read and dropped. */
typedef struct reply {
    char head[BODY_SHOWN + 4]; /* a few more, to know where a character ends */
    size_t len;
    bool is_cut;
} reply;

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    reply *r = ud;
    size_t total = size * n;
    size_t room = sizeof r->head - 1 - r->len;
    size_t take = total < room ? total : room;
    memcpy(r->head + r->len, p, take);
    r->len += take;
    if (take < total)
        r->is_cut = true;
    return total;
}

/* r->head as one line of at most BODY_SHOWN bytes, ending on a character. */
static const char *reply_text(reply *r)
{
    size_t n = r->len;
    if (n > BODY_SHOWN) {
        n = BODY_SHOWN;
        while (n > 0 && ((unsigned char)r->head[n] & 0xc0) == 0x80)
            n--;
        r->is_cut = true;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)r->head[i] < 0x20 || r->head[i] == 0x7f)
            r->head[i] = ' ';
    while (n > 0 && r->head[n - 1] == ' ')
        n--;
    r->head[n] = '\0';
    return r->head;
}

static CURLcode set_protocols(CURL *h)
{
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
    return curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    return curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
}

/* Every option of the transfer; the first failure stops the rest. */
static CURLcode configure(CURL *h, const am_push_opts *o, am_push_method m, const char *url,
                          const char *body, size_t body_len, struct curl_slist *headers, reply *rep,
                          char *errbuf)
{
    long timeout = (long)(o->timeout_ms ? o->timeout_ms : AM_PUSH_DEFAULT_TIMEOUT_MS);
    CURLcode cc = curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    if (!cc)
        cc = curl_easy_setopt(h, CURLOPT_URL, url);
    if (!cc)
        cc = set_protocols(h);
    if (!cc)
        cc = curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (!cc)
        cc = curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout);
    if (!cc)
        cc = curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout);
    if (!cc)
        cc = curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    if (!cc)
        cc = curl_easy_setopt(h, CURLOPT_USERAGENT, "agentmon/" AM_VERSION_STRING);
    if (!cc)
        cc = curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    if (!cc)
        cc = curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    if (!cc)
        cc = curl_easy_setopt(h, CURLOPT_WRITEDATA, (void *)rep);
    if (m == AM_PUSH_DELETE) {
        if (!cc)
            cc = curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
    } else {
        if (!cc)
            cc = curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        if (!cc)
            cc = curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        if (!cc && m == AM_PUSH_PUT)
            cc = curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
    }
    if (o->bearer_token) {
        if (!cc)
            cc = curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
        if (!cc)
            cc = curl_easy_setopt(h, CURLOPT_XOAUTH2_BEARER, o->bearer_token);
    } else if (o->username) {
        if (!cc)
            cc = curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        if (!cc)
            cc = curl_easy_setopt(h, CURLOPT_USERNAME, o->username);
        if (!cc)
            cc = curl_easy_setopt(h, CURLOPT_PASSWORD, o->password ? o->password : "");
    }
    return cc;
}

/* The request headers: Content-Type for a body, and no "Expect: 100-continue". */
static am_err make_headers(am_push_method m, struct curl_slist **out)
{
    char ctype[96];
    snprintf(ctype, sizeof ctype, "Content-Type: %s", am_format_content_type(AM_FORMAT_PROMETHEUS));
    struct curl_slist *list = NULL, *t;
    if (m != AM_PUSH_DELETE) {
        list = curl_slist_append(NULL, ctype);
        if (!list)
            return am__err(AM_ENOMEM, "out of memory building push headers");
    }
    t = curl_slist_append(list, "Expect:");
    if (!t) {
        curl_slist_free_all(list);
        return am__err(AM_ENOMEM, "out of memory building push headers");
    }
    *out = t;
    return AM_OK;
}

static am_err transfer(const am_push_opts *o, size_t base_len, am_push_method m, const char *url,
                       const char *body, size_t body_len, int *status)
{
    struct curl_slist *headers = NULL;
    am_err rc = make_headers(m, &headers);
    if (rc)
        return rc;
    CURL *h = curl_easy_init();
    if (!h) {
        curl_slist_free_all(headers);
        return am__err(AM_ENOMEM, "out of memory starting a libcurl transfer");
    }
    char errbuf[CURL_ERROR_SIZE];
    errbuf[0] = '\0';
    reply rep;
    rep.len = 0;
    rep.is_cut = false;
    CURLcode cc = configure(h, o, m, url, body, body_len, headers, &rep, errbuf);
    if (!cc)
        cc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    if (status)
        *status = (int)code;
    if (cc) {
        rc = am__err(map_curl(cc), "push to %.*s: %s", (int)(base_len > 100 ? 100 : base_len),
                     o->url, errbuf[0] ? errbuf : curl_easy_strerror(cc));
    } else if (code < 200 || code > 299) {
        const char *text = reply_text(&rep);
        if (text[0])
            rc = am__err(AM_EPROTO, "pushgateway answered %ld: %s%s", code, text,
                         rep.is_cut ? "..." : "");
        else
            rc = am__err(AM_EPROTO, "pushgateway answered %ld with no body", code);
    }
    curl_easy_cleanup(h);
    curl_slist_free_all(headers);
    return rc;
}

am_err am_push(const am_push_opts *o, am_push_method m, int *status)
{
    if (status)
        *status = 0;
    size_t base_len;
    am_err rc = check_target(o, &base_len);
    if (!rc)
        rc = check_send(o, m);
    if (!rc)
        rc = am__curl_ready();
    if (rc)
        return rc;

    char *url = NULL, *body = NULL;
    size_t body_len = 0;
    rc = build_url(o, base_len, &url);
    if (!rc && m != AM_PUSH_DELETE) {
        if (o->n_registries)
            rc = am_encode(o->registries, o->n_registries, AM_FORMAT_PROMETHEUS, &body, &body_len);
        else
            rc = am_registry_encode(NULL, AM_FORMAT_PROMETHEUS, &body, &body_len);
    }
    if (!rc)
        rc = transfer(o, base_len, m, url, body, body_len, status);
    am__free(url);
    am_free(body); /* the exposition: the library may keep its block */
    return rc;
}
