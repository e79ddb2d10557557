/*
** send.c: one remote_write request over libcurl, and what it means for
** the batch (see rw_send.h).
**
** DESIGN
** Each shard keeps one easy handle, so its connection stays open between
** batches (keep-alive), as Prometheus' shards keep theirs. The outcome is
** classified as Prometheus' queue manager classifies it: 2xx sent; 5xx,
** a transport error (refused, reset, timeout) and -- when allowed -- 429
** are recoverable and retried with backoff (Retry-After honoured for 429
** and 5xx as a lower bound); every other status is not recoverable and
** drops the batch. Messages name the status and the start of the
** receiver's answer, never the URL or credentials.
**
** THREADING: one handle per shard; nothing shared.
*/
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agentmon/version.h"
#include "../util/error.h"
#include "../util/curl.h"
#include "rw_send.h"

void am__rw_post(void **handle, const am__rw_target *t, const char *body, size_t len,
                 am__rw_outcome *out)
{
    memset(out, 0, sizeof *out);
    out->retry_after_ms = -1;
    if (am__curl_ready()) {
        out->kind = AM_RW_RETRY;
        snprintf(out->error, sizeof out->error, "libcurl is not initialised");
        return;
    }
    CURL *c = *handle;
    if (!c) {
        c = curl_easy_init();
        if (!c) {
            out->kind = AM_RW_RETRY;
            snprintf(out->error, sizeof out->error, "out of memory");
            return;
        }
        *handle = c;
    } else {
        curl_easy_reset(c);
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    am_buf resp;
    am_buf_init(&resp, 0);
    struct curl_slist *h = NULL;
    h = curl_slist_append(h, "Content-Type: application/x-protobuf");
    h = curl_slist_append(h, "Content-Encoding: snappy");
    h = curl_slist_append(h, "X-Prometheus-Remote-Write-Version: 0.1.0");
    h = curl_slist_append(h, "User-Agent: agentmon/" AM_VERSION_STRING);
    h = curl_slist_append(h, "Expect:");
    char auth[4200];
    if (t->auth_credentials) {
        snprintf(auth, sizeof auth, "Authorization: %s %s", t->auth_type ? t->auth_type : "Bearer",
                 t->auth_credentials);
        h = curl_slist_append(h, auth);
    }
    long timeout = (long)(t->timeout_s > 0 ? t->timeout_s * 1000 : 30000);
    curl_easy_setopt(c, CURLOPT_URL, t->url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, am__curl_keep_start);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, am__curl_retry_after);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &out->retry_after_ms);
    if (t->basic_user) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERNAME, t->basic_user);
        curl_easy_setopt(c, CURLOPT_PASSWORD, t->basic_password ? t->basic_password : "");
    }
    if (t->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, t->ca_file);
    if (t->cert_file)
        curl_easy_setopt(c, CURLOPT_SSLCERT, t->cert_file);
    if (t->key_file)
        curl_easy_setopt(c, CURLOPT_SSLKEY, t->key_file);
    if (t->insecure_skip_verify) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    if (cc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    out->status = (int)status;
    if (cc != CURLE_OK) {
        out->kind = AM_RW_RETRY;
        snprintf(out->error, sizeof out->error, "%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
    } else if (status >= 200 && status < 300) {
        out->kind = AM_RW_SENT;
    } else if (status >= 500 || (status == 429 && t->retry_on_429)) {
        out->kind = AM_RW_RETRY;
    } else {
        out->kind = AM_RW_DROP;
    }
    if (status && out->kind != AM_RW_SENT) {
        /* the receiver's reason, printable only */
        size_t k = resp.len < sizeof out->error - 1 ? resp.len : sizeof out->error - 1;
        for (size_t i = 0; i < k; i++) {
            char ch = resp.p[i];
            out->error[i] = (ch >= 0x20 && ch < 0x7f) ? ch : ' ';
        }
        out->error[k] = '\0';
    }
    curl_slist_free_all(h);
    am_buf_free(&resp);
}

void am__rw_handle_free(void *handle)
{
    if (handle)
        curl_easy_cleanup(handle);
}
