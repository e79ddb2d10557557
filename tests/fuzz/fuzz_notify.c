/*
** fuzz_notify.c: libFuzzer target -- the notifier's parsers: any bytes as
** Alertmanager's configuration sections (src/alert/notify/config.c), as
** matchers (matchers.c), and as the query API's time and duration
** parameters (api_json.c). The first byte picks which.
**
** WHAT IT CHECKS
**   config: AM_OK (a configuration, or none), AM_EINVAL with at least one
**   "am.yml:LINE: ..." line of errors, or AM_EIO/AM_ENOMEM; an accepted
**   configuration's routes all name receivers that exist.
**   matchers: AM_OK or AM_EINVAL; accepted matchers have valid names and
**   match what they say they match (an = matcher its own value).
**   params: never crashes; an accepted time round-trips its seconds.
** A violation prints what was wrong and traps.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentmon/agentmon.h"
#include "alert/alert.h"
#include "alert/notify/notify.h"

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_notify: " __VA_ARGS__);                                          \
            fprintf(stderr, "\n  (errmsg: %s)\n", am_errmsg());                                    \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

static void routes_ok(const am_notify_config *c, const am_route *r)
{
    bool found = false;
    for (size_t i = 0; i < c->n_receivers && !found; i++)
        found = strcmp(c->receivers[i].name, r->receiver) == 0;
    CHECK(found, "route with unknown receiver %s", r->receiver);
    for (size_t i = 0; i < r->n_routes; i++)
        routes_ok(c, r->routes[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    char *text = malloc(size);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    switch (data[0] % 3) {
    case 0: {
        am_notify_config *c = NULL;
        am_buf errs;
        am_buf_init(&errs, 0);
        am_err rc = am__notify_config_parse("am.yml", text, size - 1, data[0] & 4, &c, &errs);
        CHECK(rc == AM_OK || rc == AM_EINVAL || rc == AM_EIO || rc == AM_ENOMEM, "returned %s",
              am_err_name(rc));
        if (rc == AM_EINVAL)
            CHECK(errs.p && strncmp(errs.p, "am.yml:", 7) == 0, "errors without file: %s",
                  errs.p ? errs.p : "(none)");
        if (!rc && c && c->root)
            routes_ok(c, c->root);
        if (rc)
            CHECK(!c, "a refused configuration was returned");
        am__notify_config_free(c);
        am_buf_free(&errs);
        break;
    }
    case 1: {
        am_amatcher *m = NULL;
        size_t n = 0;
        char err[256];
        am_err rc = am__amatchers_parse(text, &m, &n, err, sizeof err);
        CHECK(rc == AM_OK || rc == AM_EINVAL || rc == AM_ENOMEM, "returned %s", am_err_name(rc));
        for (size_t i = 0; !rc && i < n; i++) {
            CHECK(am__label_name_ok(m[i].name), "bad name %s", m[i].name);
            if (m[i].op == AM_AM_EQ) {
                am_label l = {m[i].name, m[i].value};
                am_lset *s = am__labels_raw(NULL, &l, 1);
                CHECK(am__amatchers_ok(&m[i], 1, s), "= does not match its own value");
                am__labels_free(s);
            }
        }
        am__amatchers_free(m, n);
        break;
    }
    default: {
        int64_t ms;
        if (am_promql_parse_time(text, &ms))
            CHECK(ms > INT64_MIN / 2 && ms < INT64_MAX / 2, "time out of range");
        (void)am_promql_parse_duration_param(text, &ms);
    }
    }
    free(text);
    return 0;
}
