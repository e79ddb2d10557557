/*
** rw_none.c: the collector's remote_write endpoints in a build without
** AM_WITH_REMOTE_WRITE (CMake picks this file instead of rw_export.c and
** rw_config.c): a config file with a remote_write: section is refused by
** name, so nothing configured silently does nothing.
*/
#include "../../util/error.h"
#include "rw_export.h"

am_err am__rw_export_start(const am_rw_export_opts *o, am_rw_export **out)
{
    *out = NULL;
    if (o->config_path)
        return am__err(AM_EINVAL,
                       "%s: remote_write: this agentmon was built without "
                       "AM_WITH_REMOTE_WRITE",
                       o->config_path);
    return AM_OK;
}

void am__rw_export_sample(am_rw_export *x, const char *name, const char *labels, double ts_s,
                          double v)
{
    (void)x;
    (void)name;
    (void)labels;
    (void)ts_s;
    (void)v;
}

void am__rw_export_stop(am_rw_export *x, double timeout_s)
{
    (void)x;
    (void)timeout_s;
}
