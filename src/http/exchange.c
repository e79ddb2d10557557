/*
** exchange.c: what a handler sees -- request accessors and the response
** it fills.
**
** Everything a handler reads was parsed before it ran (query string, route
** parameters, body), so accessors only look things up; nothing here
** allocates except setting response headers and bodies. Headers are kept as
** NUL-separated pairs in one buffer and handed to libmicrohttpd when the
** response is built.
**
** A handler usually runs on a pool thread while its connection is
** suspended (pool.c); am_http_req_header() then reads the connection's
** header list from that thread. That is safe: libmicrohttpd does not
** process a suspended connection, so nothing writes the list meanwhile,
** and the suspension and resumption go through its mutex.
*/
#include <microhttpd.h>
#include <string.h>

#include "../util/alloc.h"
#include "../util/error.h"
#include "../util/render.h"
#include "server.h"

const char *am_http_req_method(const am_http_req *r)
{
    return r->method;
}

const char *am_http_req_path(const am_http_req *r)
{
    return r->path;
}

const char *am_http_req_header(const am_http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *am_http_req_query(const am_http_req *r, const char *name)
{
    for (size_t i = 0; i < r->query.n; i++)
        if (strcmp(r->query.names[i], name) == 0)
            return r->query.values[i];
    return NULL;
}

size_t am_http_req_query_all(const am_http_req *r, const char *name, const char **vals, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < r->query.n; i++) {
        if (strcmp(r->query.names[i], name) != 0)
            continue;
        if (n < max)
            vals[n] = r->query.values[i];
        n++;
    }
    return n;
}

size_t am_http_req_query_count(const am_http_req *r)
{
    return r->query.n;
}

const char *am_http_req_query_name(const am_http_req *r, size_t i)
{
    return i < r->query.n ? r->query.names[i] : NULL;
}

const char *am_http_req_query_value(const am_http_req *r, size_t i)
{
    return i < r->query.n ? r->query.values[i] : NULL;
}

const char *am_http_req_param(const am_http_req *r, const char *name)
{
    for (size_t i = 0; i < r->match.n_params; i++)
        if (strcmp(r->match.params[i].name, name) == 0)
            return r->params[i];
    return NULL;
}

const char *am_http_req_body(const am_http_req *r, size_t *len)
{
    if (len)
        *len = r->body.len;
    return r->body.len ? r->body.p : NULL;
}

char *am_http_req_body_mut(am_http_req *r, size_t *len)
{
    if (len)
        *len = r->body.len;
    return r->body.len ? r->body.p : NULL;
}

void am_http_resp_status(am_http_resp *r, unsigned status)
{
    r->status = status;
}

static bool has_crlf(const char *s)
{
    return strpbrk(s, "\r\n") != NULL;
}

am_err am_http_resp_header(am_http_resp *r, const char *name, const char *value)
{
    if (!name || !value || !*name || has_crlf(name) || has_crlf(value) || strchr(name, ':'))
        return am__err(AM_EINVAL, "response header name or value is empty or has CR, LF or ':'");
    size_t mark = r->headers.len;
    am_buf_append(&r->headers, name, strlen(name) + 1);
    am_buf_append(&r->headers, value, strlen(value) + 1);
    if (am_buf_err(&r->headers)) {
        r->headers.len = mark;
        r->headers.err = AM_OK;
        return am__err(AM_ENOMEM, "out of memory setting a response header");
    }
    return AM_OK;
}

static am_err set_type(am_http_resp *r, const char *content_type)
{
    am__free(r->ctype);
    r->ctype = NULL;
    if (content_type && !(r->ctype = am__strdup(content_type)))
        return am__err(AM_ENOMEM, "out of memory setting a response");
    return AM_OK;
}

static void drop_body(am_http_resp *r)
{
    am_free(r->body); /* a taken body is freed as am_http_resp_body_take() says */
    r->body = NULL;
    r->len = 0;
}

am_err am_http_resp_body_take(am_http_resp *r, const char *content_type, char *data, size_t len)
{
    drop_body(r);
    if (set_type(r, content_type) != AM_OK) {
        am_free(data);
        return AM_ENOMEM;
    }
    r->body = data;
    r->len = len;
    return AM_OK;
}

am_err am_http_resp_body(am_http_resp *r, const char *content_type, const void *data, size_t len)
{
    char *copy = am__malloc(len + 1);
    if (!copy)
        return am__err(AM_ENOMEM, "out of memory setting a response body");
    if (len)
        memcpy(copy, data, len);
    copy[len] = '\0';
    return am_http_resp_body_take(r, content_type, copy, len);
}

am_err am_http_resp_error(am_http_resp *r, unsigned status, const char *type, const char *message)
{
    am_buf b;
    am_buf_init(&b, 0);
    am_buf_puts(&b, "{\"status\":\"error\",\"errorType\":");
    am__buf_json_string(&b, type, strlen(type));
    am_buf_puts(&b, ",\"error\":");
    am__buf_json_string(&b, message, strlen(message));
    am_buf_puts(&b, "}\n");
    r->status = status;
    if (am_buf_err(&b)) {
        am_buf_free(&b);
        return am__err(AM_ENOMEM, "out of memory building an error response");
    }
    size_t len;
    char *text = am_buf_take(&b, &len);
    return am_http_resp_body_take(r, "application/json", text, len);
}

void am__http_resp_clear(am_http_resp *r)
{
    drop_body(r);
    am__free(r->ctype);
    r->ctype = NULL;
    am_buf_free(&r->headers);
    r->status = 200;
}
