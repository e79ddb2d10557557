/*
** dashboard_opts.h: the options of the web dashboard (src/web/dashboard.h)
** that `agentmon serve` and `agentmon demo` share: --llm-price.
*/
#ifndef AM_CLI_DASHBOARD_OPTS_H
#define AM_CLI_DASHBOARD_OPTS_H

#include "../web/dashboard.h"

/* The help row, to put in a command's cli_opt table. */
#define CLI_DASHBOARD_OPTS                                                                         \
    {                                                                                              \
        "--llm-price", true,                                                                       \
            "PROVIDER/MODEL=IN,OUT: an LLM price per million tokens for the dashboard's cost "     \
            "(repeatable; default: example prices)",                                               \
            NULL                                                                                   \
    }

/* Every --llm-price of argv into d's table. 0, or 2 after printing
   "cmd: why" to stderr. */
int cli_llm_prices(int argc, char **argv, const char *cmd, am_dashboard *d);

#endif
