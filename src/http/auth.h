/*
** auth.h: a route's required credentials -- copied and checked from the
** public am_http_auth chain -- and matching a request's Authorization
** header against them; base64 for Basic auth.
*/
#ifndef AM_HTTP_AUTH_H
#define AM_HTTP_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "agentmon/http.h"

#define AM_AUTH_MAX 16 /* am_http_auth entries in one chain */

/* One accepted credential set: a bearer token, a Basic pair, or both. */
typedef struct am_cred {
    char *bearer;
    char *user, *password;
} am_cred;

/* Any one of v[0..n) lets a request in; n == 0: no credentials needed. */
typedef struct am_creds {
    am_cred *v;
    size_t n;
    bool has_bearer, has_basic; /* which challenges a 401 offers */
} am_creds;

/*
** Check the chain a (NULL: none) and copy it into *out. Returns AM_OK,
** AM_EINVAL (an empty or malformed secret, a password without a user or
** the reverse, an entry with nothing, more than AM_AUTH_MAX entries or a
** loop: am_errmsg() says which) or AM_ENOMEM. On error *out is empty.
*/
am_err am__creds_copy(const am_http_auth *a, am_creds *out);
void am__creds_free(am_creds *c);

/*
** Check one credential string before it is used in an Authorization
** header; what names it in the error ("push bearer token"). Refused:
** control characters; with AM_SECRET_TOKEN also spaces and non-ASCII
** bytes (a bearer token is visible ASCII); with AM_SECRET_USER also ':'
** (RFC 7617); "" unless AM_SECRET_EMPTY_OK. Returns AM_OK or AM_EINVAL.
*/
#define AM_SECRET_TOKEN 0x1u
#define AM_SECRET_USER 0x2u
#define AM_SECRET_EMPTY_OK 0x4u
am_err am__secret_check(const char *s, const char *what, unsigned flags);

/* Whether the Authorization header (NULL: absent) satisfies c. */
bool am__creds_check(const am_creds *c, const char *header);

/* Whether header satisfies one credential set: its bearer token, or its
   user and password. A set with neither always passes. */
bool am__auth_check(const char *bearer, const char *user, const char *password, const char *header);

/* Decode standard base64 s[0..len) into out (room for len * 3 / 4 + 1);
   returns the length or (size_t)-1 when malformed. NUL-terminates. */
size_t am__base64_decode(const char *s, size_t len, char *out);

#endif
