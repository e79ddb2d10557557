/*
** gzip.c: one-shot gzip with zlib, through the library's allocator.
**
** The output buffer is sized with deflateBound, so compression is a single
** deflate() call; zlib's own allocations go through am__malloc too, so the
** fault-injection test covers them.
*/
#include <zlib.h>

#include "../core/alloc.h"
#include "../core/error.h"
#include "gzip.h"

static voidpf zalloc(voidpf opaque, uInt items, uInt size)
{
    (void)opaque;
    return am__calloc(items, size);
}

static void zfree(voidpf opaque, voidpf p)
{
    (void)opaque;
    am__free(p);
}

am_err am__gzip(const char *in, size_t len, int level, char **out, size_t *out_len)
{
    z_stream z = {0};
    z.zalloc = zalloc;
    z.zfree = zfree;
    /* windowBits 15 + 16: a gzip header and trailer instead of zlib's. */
    int rc = deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    if (rc != Z_OK)
        return am__err(rc == Z_MEM_ERROR ? AM_ENOMEM : AM_EINVAL, "deflateInit2 failed (%d)", rc);
    uLong cap = deflateBound(&z, (uLong)len);
    char *buf = am__malloc(cap);
    if (!buf) {
        deflateEnd(&z);
        return am__err(AM_ENOMEM, "out of memory compressing a response");
    }
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)buf;
    z.avail_out = (uInt)cap;
    rc = deflate(&z, Z_FINISH);
    size_t n = (size_t)z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        am__free(buf);
        return am__err(AM_ENOMEM, "deflate did not finish (%d)", rc);
    }
    *out = buf;
    *out_len = n;
    return AM_OK;
}
