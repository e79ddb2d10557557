/*
** reply.c: a route's answer built in an am_buf, sent as JSON -- the one
** way every JSON route of the collector (the query API, alerts, PromQL,
** the dashboard's) hands its buffer to the response.
**
** Written against the public HTTP API (agentmon/http.h) only. The body's
** memory is taken by am_http_resp_body_take(): it comes from this copy of
** util's allocator and is freed by the library's; both are malloc in the
** program (core/common.c says why).
*/
#include "../../util/alloc.h"
#include "reply.h"

void am__http_reply_json(am_http_resp *resp, unsigned status, am_buf *b)
{
    if (am_buf_err(b)) {
        am_buf_free(b);
        am_http_resp_error(resp, 500, "internal", "out of memory writing the answer");
        return;
    }
    size_t len;
    char *p = am_buf_take(b, &len);
    am_http_resp_status(resp, status);
    am_http_resp_body_take(resp, "application/json", p ? p : am__strdup(""), p ? len : 0);
}
