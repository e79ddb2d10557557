/*
** send.c: one request of an integration (or of the Alertmanager client)
** with libcurl: an HTTP POST, or an email over SMTP.
**
** The outcome is what the retry loop needs: the HTTP status (or an SMTP
** failure as 0), whether trying again can help (a transport error, 429,
** 5xx; not 4xx, which a resend would not change), and Retry-After in ms
** (seconds or an HTTP date) when the server gave one. Error messages name
** the host and the status, never the URL's path or query (where webhook
** URLs and keys carry their secrets) nor credentials.
*/
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "agentmon/timer.h"
#include "agentmon/version.h"
#include "../../util/alloc.h"
#include "../../util/curl.h"
#include "send.h"

typedef struct upload {
    const char *p;
    size_t left;
} upload;

static size_t read_cb(char *buf, size_t size, size_t n, void *ud)
{
    upload *u = ud;
    size_t k = size * n < u->left ? size * n : u->left;
    memcpy(buf, u->p, k);
    u->p += k;
    u->left -= k;
    return k;
}

/* The host:port of a URL, for messages (never its path or query). */
static void host_of(const char *url, char *out, size_t cap)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    const char *at = strchr(p, '@'), *slash = strchr(p, '/');
    if (at && (!slash || at < slash))
        p = at + 1; /* user:password@ */
    size_t n = strcspn(p, "/?#");
    snprintf(out, cap, "%.*s", (int)(n < cap - 1 ? n : cap - 1), p);
}

void am__send(const am_httpcfg *h, const am_request *rq, int64_t timeout_ms, am_send_result *r)
{
    memset(r, 0, sizeof *r);
    r->retry_after_ms = -1;
    char host[256];
    host_of(rq->url, host, sizeof host);
    if (am__curl_ready()) {
        snprintf(r->error, sizeof r->error, "libcurl is not initialised");
        r->is_retryable = true;
        return;
    }
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(r->error, sizeof r->error, "out of memory");
        r->is_retryable = true;
        return;
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    am_buf resp;
    am_buf_init(&resp, 0);
    upload up = {rq->body.p ? rq->body.p : "", rq->body.len};
    struct curl_slist *hdrs = NULL, *rcpt = NULL;
    curl_easy_setopt(c, CURLOPT_URL, rq->url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(timeout_ms > 0 ? timeout_ms : 10000));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(timeout_ms > 0 ? timeout_ms : 10000));
    if (h) {
        if (h->ca_file)
            curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_file);
        if (h->cert_file)
            curl_easy_setopt(c, CURLOPT_SSLCERT, h->cert_file);
        if (h->key_file)
            curl_easy_setopt(c, CURLOPT_SSLKEY, h->key_file);
        if (h->insecure_skip_verify) {
            curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
            curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
        }
        if (h->proxy_url)
            curl_easy_setopt(c, CURLOPT_PROXY, h->proxy_url);
    }
    if (rq->is_smtp) {
        curl_easy_setopt(c, CURLOPT_MAIL_FROM, rq->mail_from);
        for (size_t i = 0; i < rq->n_rcpt; i++)
            rcpt = curl_slist_append(rcpt, rq->rcpt[i]);
        curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
        curl_easy_setopt(c, CURLOPT_READDATA, &up);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->body.len);
        /* EHLO says the URL's path (email.c puts hello there) */
        curl_easy_setopt(c, CURLOPT_USE_SSL,
                         rq->require_tls ? (long)CURLUSESSL_ALL : (long)CURLUSESSL_NONE);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
        if (rq->smtp_user) {
            curl_easy_setopt(c, CURLOPT_USERNAME, rq->smtp_user);
            curl_easy_setopt(c, CURLOPT_PASSWORD, rq->smtp_password ? rq->smtp_password : "");
        }
    } else {
        char ct[96];
        snprintf(ct, sizeof ct, "Content-Type: %s",
                 rq->content_type ? rq->content_type : "application/json");
        hdrs = curl_slist_append(hdrs, ct);
        char ua[64];
        snprintf(ua, sizeof ua, "User-Agent: agentmon/%s", am_version());
        hdrs = curl_slist_append(hdrs, ua);
        if (h && h->auth_credentials) {
            am_buf v;
            am_buf_init(&v, 0);
            am_buf_printf(&v, "Authorization: %s %s", h->auth_type ? h->auth_type : "Bearer",
                          h->auth_credentials);
            if (!am_buf_err(&v))
                hdrs = curl_slist_append(hdrs, v.p);
            am_buf_free(&v);
        }
        if (h && h->basic_user) {
            curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
            curl_easy_setopt(c, CURLOPT_USERNAME, h->basic_user);
            curl_easy_setopt(c, CURLOPT_PASSWORD, h->basic_password ? h->basic_password : "");
        }
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body.p ? rq->body.p : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body.len);
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, h && !h->follow_redirects ? 0L : 1L);
        curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, am__curl_retry_after);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->retry_after_ms);
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, am__curl_keep_start);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    r->status = status;
    if (cc != CURLE_OK) {
        r->is_retryable = true;
        snprintf(r->error, sizeof r->error, "%.200s: %s", host,
                 errbuf[0] ? errbuf : curl_easy_strerror(cc));
        /* an SMTP refusal (5xx reply) will not change by itself */
        if (rq->is_smtp && status >= 500)
            r->is_retryable = false;
    } else if (!rq->is_smtp && (status < 200 || status > 299)) {
        r->is_retryable = status == 429 || status >= 500;
        snprintf(r->error, sizeof r->error, "%s: HTTP %ld%s%.200s", host, status,
                 resp.len ? ": " : "", resp.p ? resp.p : "");
        for (char *p = r->error; *p; p++)
            if (*p == '\n' || *p == '\r')
                *p = ' ';
    } else {
        r->ok = true;
    }
    curl_slist_free_all(hdrs);
    curl_slist_free_all(rcpt);
    am_buf_free(&resp);
    curl_easy_cleanup(c);
}
