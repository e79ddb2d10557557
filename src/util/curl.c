/*
** curl.c: libcurl's global initialisation (see curl.h).
**
** curl_global_init() must run before any other libcurl call and is not
** safe to race; we run it under a mutex the first time a part needs it,
** and again on a later call if it failed (a transient out-of-memory must
** not disable pushing or scraping for the life of the process, which is
** why this is a mutex and a flag rather than pthread_once). We use
** curl_global_init_mem() with the library's allocator wrappers, so every
** byte libcurl allocates for us goes through am_set_allocator() like the
** rest of the library, and the fault-injection test reaches inside libcurl
** too. (When the application initialised libcurl first, libcurl only counts
** our call and keeps the application's allocator.) We never call
** curl_global_cleanup(): other code in the process may still use libcurl,
** and its global state is a few bytes.
**
** Two callbacks every sender shares: the start of a response body kept for
** the log, and Retry-After read from the headers.
*/
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "agentmon/timer.h"

#include "../util/alloc.h"
#include "../util/error.h"
#include "curl.h"

static pthread_mutex_t g_curl_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool g_curl_ready;

am_err am__curl_ready(void)
{
    if (atomic_load_explicit(&g_curl_ready, memory_order_acquire))
        return AM_OK;
    pthread_mutex_lock(&g_curl_lock);
    CURLcode cc = CURLE_OK;
    if (!atomic_load_explicit(&g_curl_ready, memory_order_relaxed)) {
        cc = curl_global_init_mem(CURL_GLOBAL_DEFAULT, am__malloc, am__free, am__realloc,
                                  am__strdup, am__calloc);
        if (cc == CURLE_OK)
            atomic_store_explicit(&g_curl_ready, true, memory_order_release);
    }
    pthread_mutex_unlock(&g_curl_lock);
    if (cc == CURLE_OUT_OF_MEMORY)
        return am__err(AM_ENOMEM, "out of memory initialising libcurl");
    if (cc != CURLE_OK)
        return am__err(AM_EIO, "libcurl failed to initialise: %s", curl_easy_strerror(cc));
    return AM_OK;
}

size_t am__curl_keep_start(char *p, size_t size, size_t n, void *ud)
{
    am_buf *b = ud;
    if (b->len < 1024) /* keep the start of an error body for the log */
        am_buf_append(b, p, size * n < 1024 - b->len ? size * n : 1024 - b->len);
    return size * n;
}

size_t am__curl_retry_after(char *p, size_t size, size_t n, void *ud)
{
    int64_t *retry = ud;
    size_t len = size * n;
    if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
        char v[64];
        size_t k = len - 12 < sizeof v - 1 ? len - 12 : sizeof v - 1;
        memcpy(v, p + 12, k);
        v[k] = '\0';
        char *s = v;
        while (*s == ' ')
            s++;
        char *end;
        long secs = strtol(s, &end, 10);
        if (end != s && (*end == '\r' || *end == '\n' || !*end) && secs >= 0) {
            *retry = (int64_t)secs * 1000;
        } else {
            time_t t = curl_getdate(s, NULL);
            if (t > 0) {
                int64_t d = (int64_t)t * 1000 - (int64_t)(am_unix_time() * 1000);
                *retry = d > 0 ? d : 0;
            }
        }
    }
    return len;
}
