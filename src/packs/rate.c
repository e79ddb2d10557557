/*
** rate.c: the rate-limit pack -- metrics-exposure-story.md.
**
** One counter of decisions, "allowed" or "denied", by endpoint and
** workspace, as the story's middleware records them.
*/
#include "pack.h"

enum { HITS, N_DEFS };

const am_metric_def am__defs_rate[] = {
    [HITS] = {"ratelimit", AM_TYPE_COUNTER, "rate_limit_hits_total", NULL,
              "Rate limit enforcement events", NULL,
              AM_DEF_LABELS("endpoint", "workspace_id", "result"), NULL, 0, NULL,
              "metrics-exposure-story.md"},
};
const am_def_table am__table_rate = {am__defs_rate, N_DEFS};

am_err am_rate_pack_new(am_registry *r, am_rate_pack **out)
{
    return am__pack_new(r, am__defs_rate, N_DEFS, (am__pack **)out);
}

void am_rate_pack_free(am_rate_pack *p)
{
    am__pack_free(AM__PACK(p));
}

am_err am_rate_decision(am_rate_pack *rp, const char *endpoint, const char *workspace_id,
                        bool allowed)
{
    return am__pack_count(AM__PACK(rp), HITS,
                          AM_LABELS(endpoint, workspace_id, allowed ? "allowed" : "denied"), 1);
}
