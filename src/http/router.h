/*
** router.h: the route table -- patterns, and matching a request to one.
**
** Pure functions over strings (no sockets), so they are unit-tested and
** fuzzed directly. The server holds the table under its own lock.
*/
#ifndef AM_HTTP_ROUTER_H
#define AM_HTTP_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "agentmon/http.h"
#include "auth.h"

#define AM_ROUTE_MAX_SEGS 32
#define AM_ROUTE_MAX_PARAMS 8

typedef struct am_route {
    unsigned methods;              /* AM_HTTP_* method bits */
    bool is_inline;                /* AM_HTTP_INLINE: run on the event loop */
    bool is_loop_small;            /* AM_HTTP_LOOP_SMALL: small bodies on the loop */
    char *pattern;                 /* as given; also the route's metric label */
    char *segs[AM_ROUTE_MAX_SEGS]; /* literal, or "{name}" (stored as "name" with is_param) */
    bool is_param[AM_ROUTE_MAX_SEGS];
    size_t n_segs;
    bool tail; /* ends with "*" */
    am_http_handler fn;
    void *ud;
    am_creds creds; /* any one lets a request in; none: open */
} am_route;

typedef struct am_router {
    am_route **v;
    size_t n, cap;
} am_router;

/* A parameter of a match: name from the route, value a slice of the path. */
typedef struct am_route_param {
    const char *name;
    size_t off, len;
} am_route_param;

typedef struct am_route_match {
    const am_route *route; /* NULL: see status */
    unsigned allowed;      /* methods of the routes whose path matched */
    am_route_param params[AM_ROUTE_MAX_PARAMS];
    size_t n_params;
} am_route_match;

/* The AM_HTTP_* bit of a method name; 0 for methods we do not route. */
unsigned am__http_method_bit(const char *method);

/* Parse pattern into a new route (owned; free with am__route_free).
   methods: AM_HTTP_* method bits, optionally with AM_HTTP_INLINE or
   AM_HTTP_LOOP_SMALL. */
am_err am__route_new(unsigned methods, const char *pattern, am_route **out);
void am__route_free(am_route *r);

am_err am__router_add(am_router *rt, am_route *r);
void am__router_free(am_router *rt);

/*
** Match method (an AM_HTTP_* bit) and path. Returns 200 (m->route set),
** 404 (no pattern matches the path), 405 (m->allowed lists the methods
** that would), or 400 (the path is not a valid origin-form path).
*/
int am__router_match(const am_router *rt, unsigned method, const char *path, am_route_match *m);

#endif
