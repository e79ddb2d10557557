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
*/
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "../core/alloc.h"
#include "../core/error.h"
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
