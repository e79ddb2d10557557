/*
** auth.h: checking a request's Authorization header against a route's
** required credentials, and base64 for Basic auth.
*/
#ifndef AM_HTTP_AUTH_H
#define AM_HTTP_AUTH_H

#include <stdbool.h>
#include <stddef.h>

/* Whether header satisfies the credentials (bearer, or user + password).
   A route with neither always passes. */
bool am__auth_check(const char *bearer, const char *user, const char *password,
                    const char *header);

/* Decode standard base64 s[0..len) into out (room for len * 3 / 4 + 1);
   returns the length or (size_t)-1 when malformed. NUL-terminates. */
size_t am__base64_decode(const char *s, size_t len, char *out);

#endif
