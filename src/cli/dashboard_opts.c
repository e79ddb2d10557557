/*
** dashboard_opts.c: --llm-price for `agentmon serve` and `agentmon demo`
** (dashboard_opts.h). The values are read from argv after the command's
** own parse has accepted it (so the option is known and has a value); the
** price syntax is checked by am__dashboard_price_add(), which names what
** is wrong.
*/
#include <stdio.h>

#include "../util/error.h"
#include "args.h"
#include "dashboard_opts.h"

int cli_llm_prices(int argc, char **argv, const char *cmd, am_dashboard *d)
{
    const char *v[AM_DASHBOARD_MAX_PRICES + 1];
    size_t n = cli_all(argc, argv, "--llm-price", v, AM_DASHBOARD_MAX_PRICES + 1);
    if (n > AM_DASHBOARD_MAX_PRICES) {
        fprintf(stderr, "%s: at most %d --llm-price\n", cmd, AM_DASHBOARD_MAX_PRICES);
        return 2;
    }
    for (size_t i = 0; i < n; i++)
        if (am__dashboard_price_add(d, v[i])) {
            fprintf(stderr, "%s: %s\n", cmd, am_errmsg());
            return 2;
        }
    return 0;
}
