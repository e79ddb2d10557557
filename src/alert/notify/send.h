/*
** send.h: one request of a notifier with libcurl (send.c).
*/
#ifndef AM_ALERT_NOTIFY_SEND_H
#define AM_ALERT_NOTIFY_SEND_H

#include "notify.h"

typedef struct am_send_result {
    bool ok;
    bool is_retryable;      /* a transport error, 429 or 5xx */
    long status;            /* HTTP status (0: none) */
    int64_t retry_after_ms; /* Retry-After, or -1 */
    char error[512];        /* host and status; never a URL's path, never a secret */
} am_send_result;

/* Send rq (h may be NULL) within timeout_ms; the outcome in *r. */
void am__send(const am_httpcfg *h, const am_request *rq, int64_t timeout_ms, am_send_result *r);

#endif
