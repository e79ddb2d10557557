/*
** gzip.h: compressing a response body, and decompressing a request's.
*/
#ifndef AM_HTTP_GZIP_H
#define AM_HTTP_GZIP_H

#include <stddef.h>

#include "agentmon/common.h"

/* Compress in[0..len) at level (1..12) into a gzip stream: owned result in
   *out (free with am__free), its length in *out_len. AM_OK, AM_EINVAL (level)
   or AM_ENOMEM. */
am_err am__gzip(const char *in, size_t len, int level, char **out, size_t *out_len);

/*
** Decompress the gzip stream in[0..len) (one member or several, as
** concatenated files are) into an owned *out (NUL-terminated, free with
** am__free), its length in *out_len. AM_EINVAL (not gzip, corrupt, or a
** bad checksum), AM_ELIMIT (would exceed max bytes: a decompression bomb
** stops there) or AM_ENOMEM; am_errmsg() says which.
*/
am_err am__gunzip(const char *in, size_t len, size_t max, char **out, size_t *out_len);

#endif
