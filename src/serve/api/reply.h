/*
** reply.h: a route's answer built in an am_buf, sent as JSON.
*/
#ifndef AM_SERVE_API_REPLY_H
#define AM_SERVE_API_REPLY_H

#include "agentmon/http.h"
#include "../../util/buf.h"

/* Answer status with b's text as application/json; b is taken (freed or
   given to the response). A buffer that ran out of memory answers 500. */
void am__http_reply_json(am_http_resp *resp, unsigned status, am_buf *b);

#endif
