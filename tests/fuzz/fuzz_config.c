/*
** fuzz_config.c: libFuzzer target -- any bytes as `agentmon serve
** --config` YAML (src/serve/config.c).
**
** WHAT IT CHECKS
**   AM_OK, AM_EINVAL or AM_ELIMIT only. Refused: the message starts
**   "config:" and nothing is left allocated. Accepted: every name is one
**   of the known options, only the list option appears more than once, and
**   no value holds a NUL before its end (each is a C string of the bytes
**   YAML gave).
** A violation prints what was wrong and traps.
*/
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "agentmon/agentmon.h"
#include "serve/config.h"

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_config: " __VA_ARGS__);                                          \
            fprintf(stderr, "\n  (errmsg: %s)\n", am_errmsg());                                    \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

static const char *const KNOWN[] = {"--listen", "--statsd", "--store", "--scrape", "--retention"};
static const char *const LISTS[] = {"--scrape"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    am_config c;
    am_err rc = am__config_parse((const char *)data, size, KNOWN, 5, LISTS, 1, &c);
    CHECK(rc == AM_OK || rc == AM_EINVAL || rc == AM_ELIMIT, "returned %s", am_err_name(rc));
    if (rc) {
        CHECK(strncmp(am_errmsg(), "config:", 7) == 0, "message");
        CHECK(c.n == 0 && !c.mem, "left allocated");
        return 0;
    }
    for (size_t i = 0; i < c.n; i++) {
        bool known = false;
        for (size_t k = 0; k < 5; k++)
            known |= strcmp(c.names[i], KNOWN[k]) == 0;
        CHECK(known, "unknown name %s", c.names[i]);
        if (strcmp(c.names[i], "--scrape") != 0)
            for (size_t j = 0; j < i; j++)
                CHECK(strcmp(c.names[i], c.names[j]) != 0, "%s twice", c.names[i]);
    }
    am__config_free(&c);
    return 0;
}
