/*
** rw_send.h: one remote_write POST (send.c), for the sender's shards.
*/
#ifndef AM_RW_SEND_H
#define AM_RW_SEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rw.h"

/* Where and how to send (strings borrowed from the sender). */
typedef struct am__rw_target {
    const char *url;
    const char *basic_user, *basic_password, *auth_type, *auth_credentials;
    const char *ca_file, *cert_file, *key_file;
    bool insecure_skip_verify;
    bool retry_on_429;
    double timeout_s;
} am__rw_target;

typedef enum { AM_RW_SENT, AM_RW_RETRY, AM_RW_DROP } am__rw_kind;

typedef struct am__rw_outcome {
    am__rw_kind kind;
    int status;             /* HTTP status; 0 for no answer */
    int64_t retry_after_ms; /* -1: none given */
    char error[256];        /* the reason, for the log */
} am__rw_outcome;

/* POST body[0..len) with *handle (an easy handle, created on first use). */
void am__rw_post(void **handle, const am__rw_target *t, const char *body, size_t len,
                 am__rw_outcome *out);
void am__rw_handle_free(void *handle);

#endif
