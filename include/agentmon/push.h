/*
** push.h: pushing registries to a Prometheus Pushgateway, for agents that
** live for seconds -- too short for Prometheus to scrape them.
**
**     am_push_opts o = AM_PUSH_OPTS_INIT;
**     o.url = "http://127.0.0.1:9091";
**     o.job = "planner";
**     const char *gn[] = {"instance"}, *gv[] = {"planner-7"};
**     o.grouping = (am_labels){gn, gv, 1};
**     int status;
**     if (am_push(&o, AM_PUSH_PUT, &status) != AM_OK)
**         fprintf(stderr, "push: %s\n", am_errmsg());
**                              e.g. "pushgateway answered 400: <its reason>"
**
** The group is addressed as the Pushgateway documents it:
** <url>/metrics/job/<job>{/<label>/<value>}. A job or value that is empty,
** contains '/', or is "." or ".." is sent in the Pushgateway's base64 form
** (<label>@base64/<URL-safe base64>); any other value is percent-encoded,
** so every UTF-8 value round-trips. The body is the registries in
** Prometheus text 0.0.4 (Content-Type "text/plain; version=0.0.4;
** charset=utf-8"), as am_encode() writes it.
**
** Transport: libcurl, one connection per call, no redirects followed, only
** http:// and https:// URLs. libcurl honours the usual proxy variables
** (http_proxy, no_proxy, ...) as curl(1) does. The library initialises
** libcurl once, on the first push, with curl_global_init_mem() so that
** libcurl's allocations go through am_set_allocator() too; it never calls
** curl_global_cleanup(). An application that also uses libcurl may call
** curl_global_init() itself first (libcurl counts the calls), but must not
** call curl_global_cleanup() while a push may run.
*/
#ifndef AGENTMON_PUSH_H
#define AGENTMON_PUSH_H

#include "metrics.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Used when am_push_opts.timeout_ms is 0. */
#define AM_PUSH_DEFAULT_TIMEOUT_MS 5000u

/* The most grouping labels a push may carry (besides job). */
#define AM_PUSH_MAX_GROUPING AM_MAX_LABELS

/* Longest gateway URL accepted, in bytes, before the group path is added. */
#define AM_PUSH_MAX_URL 2048

/* What a push does to the group (the Pushgateway's three verbs). */
typedef enum am_push_method {
    AM_PUSH_PUT = 0,   /* replace every metric of the group with the pushed ones */
    AM_PUSH_POST = 1,  /* replace only the metrics with the names pushed */
    AM_PUSH_DELETE = 2 /* delete the group; no registry is encoded or sent */
} am_push_method;

/*
** Where to push and what. Start from AM_PUSH_OPTS_INIT and set what you
** need. Every pointer is borrowed for the duration of the call only.
*/
typedef struct am_push_opts {
    /* Required. "http://host:port" or https://, optionally with a path
       prefix ("http://127.0.0.1:8080/pgw"); no query or fragment; trailing
       slashes are ignored. At most AM_PUSH_MAX_URL bytes. */
    const char *url;
    /* Required. Non-empty UTF-8, at most AM_MAX_LABEL_VALUE bytes. */
    const char *job;
    /* Optional further labels of the grouping key. Names are label names
       (not "job", no duplicates, at most AM_PUSH_MAX_GROUPING); values are
       any UTF-8 up to AM_MAX_LABEL_VALUE bytes, "" included. */
    am_labels grouping;
    /* What to push, merged as am_encode() merges them; n_registries 0
       means the default registry. Not used by AM_PUSH_DELETE. */
    am_registry *const *registries;
    size_t n_registries;
    /* The whole request, connecting included; 0 means
       AM_PUSH_DEFAULT_TIMEOUT_MS. */
    unsigned timeout_ms;
    /* Optional credentials, one kind at most. bearer_token is sent as
       "Authorization: Bearer <token>" (printable ASCII, no spaces);
       username/password as HTTP basic auth (no ':' in the username, no
       control characters; password NULL means ""). */
    const char *bearer_token;
    const char *username;
    const char *password;
    void *reserved[4];
} am_push_opts;

/* clang-format off */
#define AM_PUSH_OPTS_INIT {0}
/* clang-format on */

/*
** am_push: encode the registries and PUT or POST them to the group, or
** DELETE the group.
** METHOD: am_push   THREAD-SAFE: yes   Since: 0.1
**
** o        borrowed; see am_push_opts. Validated before anything is sent.
** m        AM_PUSH_PUT, AM_PUSH_POST or AM_PUSH_DELETE.
** status   optional (may be NULL): set to the gateway's HTTP status, or 0
**          when no response arrived (bad options, connection failure,
**          timeout).
**
** Returns
**   AM_OK         the gateway answered 2xx.
**   AM_EINVAL     bad options (NULL or non-http(s) url, empty job, bad
**                 grouping label name, invalid UTF-8, bad credentials ...);
**                 nothing was sent.
**   AM_EPROTO     the gateway answered another status; am_errmsg() reads
**                 "pushgateway answered 400: <start of its body>" (at most
**                 200 bytes of it, control characters shown as spaces).
**   AM_EIO        no answer: connection refused, reset, DNS, TLS ...;
**                 am_errmsg() holds libcurl's explanation.
**   AM_ETIMEDOUT  no complete answer within timeout_ms.
**   AM_ENOMEM     out of memory (encoding or inside libcurl).
** The call blocks for at most about timeout_ms. It may run concurrently
** with metric updates, encodes and other pushes (each push uses its own
** connection); the body is a consistent encode of the registries taken
** just before sending. Never prints, never aborts.
*/
AM_EXTERN am_err am_push(const am_push_opts *o, am_push_method m, int *status);

/*
** am_push_url: the URL am_push() would send to, after validating o exactly
** as am_push() does ("http://127.0.0.1:9091/metrics/job/planner/instance/p7").
** METHOD: am_push   THREAD-SAFE: yes   Since: 0.1
**
** o        borrowed; registries, timeout and credentials are not used.
** out      owned result, NUL-terminated, free with am_free(); set only on
**          AM_OK.
** Returns AM_OK, AM_EINVAL (as am_push) or AM_ENOMEM. Sends nothing.
*/
AM_EXTERN am_err am_push_url(const am_push_opts *o, char **out);

#ifdef __cplusplus
}
#endif
#endif
