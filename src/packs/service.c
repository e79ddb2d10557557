/*
** service.c: the service Info metric of metrics-exposure-story.md
** (Info("agentos", "AgentOS service information")), exposed agentos_info.
*/
#include "../util/error.h"
#include "pack.h"

const am_metric_def am__defs_service[] = {
    {"service", AM_TYPE_INFO, "agentos", NULL, "AgentOS service information", NULL, NULL, NULL, 0,
     NULL, "metrics-exposure-story.md"},
};
const am_def_table am__table_service = {am__defs_service, 1};

am_err am_service_info(am_registry *r, const am_labels *pairs)
{
    am_info *info;
    am_err rc = am__def_register(r, &am__defs_service[0], (void **)&info);
    return rc ? rc : am_info_set(info, pairs);
}
