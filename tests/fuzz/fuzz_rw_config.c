/*
** fuzz_rw_config.c: libFuzzer target -- any bytes as the remote_write:
** section of `agentmon serve --config` (src/serve/export/rw_config.c),
** then its write_relabel_configs applied to a few samples.
**
** WHAT IT CHECKS
**   AM_OK, AM_EINVAL or AM_ENOMEM only; refused: nothing returned and every
**   problem a "FILE:LINE: ..." line. Accepted: every endpoint has an http(s)
**   url and min_shards <= max_shards when both are set; relabeling keeps
**   the pairs within their room, each a non-empty name and a value.
** A violation prints what was wrong and traps.
*/
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "agentmon/agentmon.h"
#include "serve/export/rw_config.h"

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_rw_config: " __VA_ARGS__);                                       \
            fprintf(stderr, "\n  (errmsg: %s)\n", am_errmsg());                                    \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    am_buf errs;
    am_buf_init(&errs, 1u << 20);
    am_rw_config *c = (am_rw_config *)1;
    am_err rc = am__rw_config_parse("f.yml", (const char *)data, size, &c, &errs);
    CHECK(rc == AM_OK || rc == AM_EINVAL || rc == AM_ENOMEM, "returned %s", am_err_name(rc));
    if (rc) {
        CHECK(!c, "a result on error");
        CHECK(errs.len == 0 || strncmp(errs.p, "f.yml:", 6) == 0, "error line");
        am_buf_free(&errs);
        return 0;
    }
    am_buf_free(&errs);
    for (size_t i = 0; c && i < c->n; i++) {
        const am_rw_endpoint *ep = &c->eps[i];
        CHECK(ep->o.url &&
                  (strncmp(ep->o.url, "http://", 7) == 0 || strncmp(ep->o.url, "https://", 8) == 0),
              "url");
        CHECK(!ep->o.min_shards || !ep->o.max_shards || ep->o.min_shards <= ep->o.max_shards,
              "shards");
        am_label_pair p[8] = {
            {"__name__", "up"}, {"job", "api"}, {"instance", "a:1"}, {"le", "+Inf"}};
        size_t n = 4;
        char scratch[512];
        am__relabel_apply((void *)ep, p, &n, 8, scratch, sizeof scratch);
        CHECK(n <= 8, "pairs past their room");
        for (size_t k = 0; k < n; k++)
            CHECK(p[k].name && p[k].name[0] && p[k].value, "pair %zu", k);
    }
    am__rw_config_free(c);
    return 0;
}
