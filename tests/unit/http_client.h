/*
** http_client.h: one HTTP request with libcurl, for tests of servers:
** status, body and headers back, whatever the outcome (a transport error
** is a negative status: -CURLcode).
*/
#ifndef AM_TEST_HTTP_CLIENT_H
#define AM_TEST_HTTP_CLIENT_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct reply {
    long status;
    char *body;
    size_t len;
    char *headers;
    size_t hlen;
} reply;

typedef struct growbuf {
    char *p;
    size_t len;
} growbuf;

static size_t sink(char *p, size_t size, size_t n, void *ud)
{
    growbuf *g = ud;
    size_t add = size * n;
    g->p = realloc(g->p, g->len + add + 1);
    memcpy(g->p + g->len, p, add);
    g->len += add;
    g->p[g->len] = '\0';
    return add;
}

/* One request; headers is a NULL-terminated list; body of len bytes (it
   may hold NULs: a gzip body) or NULL. */
__attribute__((unused)) static reply fetch_n(const char *url, const char *method,
                                             const char *const *headers, const char *body,
                                             size_t len, int decode_gzip, const char *cafile)
{
    reply r = {0};
    growbuf b = {0}, h = {0};
    CURL *c = curl_easy_init();
    struct curl_slist *hl = NULL;
    for (size_t i = 0; headers && headers[i]; i++)
        hl = curl_slist_append(hl, headers[i]);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    if (decode_gzip)
        curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "gzip");
    if (cafile)
        curl_easy_setopt(c, CURLOPT_CAINFO, cafile);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "GET") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    }
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        r.status = -(long)rc;
    else
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    r.body = b.p ? b.p : strdup("");
    r.len = b.len;
    r.headers = h.p ? h.p : strdup("");
    r.hlen = h.len;
    return r;
}

__attribute__((unused)) static void reply_free(reply *r)
{
    free(r->body);
    free(r->headers);
}

/* fetch_n with a NUL-terminated body. */
__attribute__((unused)) static reply fetch(const char *url, const char *method,
                                           const char *const *headers, const char *body,
                                           int decode_gzip, const char *cafile)
{
    return fetch_n(url, method, headers, body, body ? strlen(body) : 0, decode_gzip, cafile);
}

/* fetch() on a thread of its own: fetch_start(), then pthread_join(f->t). */
typedef struct fetcher {
    pthread_t t;
    char url[160];
    const char *method; /* borrowed */
    const char *send;   /* the body to send (borrowed), or NULL */
    long status;
    char body[256]; /* the answer's, cut to fit */
} fetcher;

static void *fetch_thread(void *arg)
{
    fetcher *f = arg;
    reply r = fetch(f->url, f->method, NULL, f->send, 0, NULL);
    f->status = r.status;
    snprintf(f->body, sizeof f->body, "%s", r.body);
    reply_free(&r);
    return NULL;
}

__attribute__((unused)) static void fetch_start(fetcher *f, uint16_t port, const char *method,
                                                const char *path, const char *send)
{
    snprintf(f->url, sizeof f->url, "http://127.0.0.1:%u%s", port, path);
    f->method = method;
    f->send = send;
    pthread_create(&f->t, NULL, fetch_thread, f);
}

#endif
