/*
** curl.h: libcurl's one-time global initialisation, for every part that
** makes requests (push.c, the collector's scraper).
*/
#ifndef AM_HTTP_CURL_H
#define AM_HTTP_CURL_H

#include "agentmon/common.h"

/* AM_OK once libcurl is initialised; AM_ENOMEM or AM_EIO (a later call
   tries again). Thread-safe. */
am_err am__curl_ready(void);

#endif
