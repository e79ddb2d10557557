/*
** curl.h: libcurl's one-time global initialisation, for every part that
** makes requests (push.c, the collector's scraper).
*/
#ifndef AM_HTTP_CURL_H
#define AM_HTTP_CURL_H

#include <stddef.h>

#include "agentmon/common.h"
#include "../util/buf.h"

/* AM_OK once libcurl is initialised; AM_ENOMEM or AM_EIO (a later call
   tries again). Thread-safe. */
am_err am__curl_ready(void);

/* CURLOPT_WRITEFUNCTION keeping the first 1024 bytes of a body in the
   am_buf ud (for the log), discarding the rest. */
size_t am__curl_keep_start(char *p, size_t size, size_t n, void *ud);

/* CURLOPT_HEADERFUNCTION setting the int64_t ud to Retry-After in ms
   (seconds or an HTTP date); ud is left alone when there is none. */
size_t am__curl_retry_after(char *p, size_t size, size_t n, void *ud);

#endif
