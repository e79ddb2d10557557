/*
** rw_export.c: the collector's remote_write endpoints (see rw_export.h).
**
** DESIGN
** One sender (src/rw/sender.c) per remote_write: entry, started from the
** entry's options as rw_config.c read them, its write_relabel_configs as
** the sender's relabel hook, its log in dir/<remote name> (so a restart
** sends what the previous run could not), its metrics in the collector's
** registry. What it sends: the collector's registry (events' and StatsD's
** series, the packs', its own) sampled by each sender every interval_s --
** read through am_encode_samples, the walk the alerting window's feed
** uses -- and every sample a scrape brings, which the registry does not
** hold (serve.c hands them over as they come).
**
** THREADING: start and stop on the collector's main thread; _sample from
** the scraper's threads (the senders' appends are thread-safe).
*/
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "../../util/alloc.h"
#include "../../util/error.h"
#include "../../alert/ycfg.h"
#include "../store/labels.h"
#include "rw_config.h"
#include "rw_export.h"

struct am_rw_export {
    am_rw_config *cf;
    am_remote_write **rws;
    size_t n;
    am_registry *reg; /* the senders' registries array (they borrow it) */
};

static am_err mkdirs(const char *path)
{
    char p[4096];
    snprintf(p, sizeof p, "%s", path);
    for (char *s = p + 1;; s++) {
        char c = *s;
        if (c == '/' || c == '\0') {
            *s = '\0';
            if (mkdir(p, 0755) != 0 && errno != EEXIST)
                return am__err(AM_EIO, "remote_write: cannot create %s: %s", p, strerror(errno));
            *s = c;
        }
        if (!c)
            break;
    }
    return AM_OK;
}

am_err am__rw_export_start(const am_rw_export_opts *o, am_rw_export **out)
{
    *out = NULL;
    if (!o->config_path)
        return AM_OK;
    am_buf errs;
    am_buf_init(&errs, 1u << 20);
    am_rw_config *cf = NULL;
    am_err rc = am__rw_config_load(o->config_path, &cf, &errs);
    if (rc) {
        rc = am__ycfg_fail(rc, &errs);
        am_buf_free(&errs);
        return rc;
    }
    am_buf_free(&errs);
    if (!cf)
        return AM_OK;
    am_rw_export *x = am__calloc(1, sizeof *x);
    if (x)
        x->rws = am__calloc(cf->n, sizeof *x->rws);
    if (!x || !x->rws) {
        am__free(x);
        am__rw_config_free(cf);
        return am__err(AM_ENOMEM, "out of memory");
    }
    x->cf = cf;
    x->reg = o->registry;
    for (size_t i = 0; i < cf->n && !rc; i++) {
        am_rw_endpoint *ep = &cf->eps[i];
        am_remote_write_opts so = ep->o;
        char dir[4096], name[200];
        if (ep->name) {
            snprintf(name, sizeof name, "%s", ep->name);
        } else {
            const char *h = strstr(ep->url, "://") + 3;
            snprintf(name, sizeof name, "%.*s", (int)strcspn(h, "/?#"), h);
        }
        for (char *c = name; *c; c++)
            if (*c == '/' || *c == ':' || *c == '.')
                *c = '_';
        snprintf(dir, sizeof dir, "%s/%s", o->dir ? o->dir : "remote_write", name);
        rc = mkdirs(o->dir ? o->dir : "remote_write");
        so.wal_dir = dir;
        so.wal_max_bytes = o->max_bytes;
        so.registries = &x->reg;
        so.n_registries = 1;
        so.interval_s = o->interval_s;
        so.self_registry = o->registry;
        so.logger = o->logger;
        so.relabel = ep->n_rules ? am__relabel_apply : NULL;
        so.relabel_userdata = ep;
        if (!rc)
            rc = am_remote_write_new(&so, &x->rws[i]);
        if (!rc)
            x->n++;
    }
    if (rc) {
        char why[512];
        snprintf(why, sizeof why, "%s", am_errmsg());
        am__rw_export_stop(x, 0);
        return am__err(rc, "%s", why);
    }
    *out = x;
    return AM_OK;
}

void am__rw_export_sample(am_rw_export *x, const char *name, const char *labels, double ts_s,
                          double v)
{
    if (!x || !x->n)
        return;
    const char *names[AM_MAX_LABELS + 1], *values[AM_MAX_LABELS + 1];
    size_t n = 0, len = labels ? strlen(labels) : 0;
    char stack[2048], *scratch = len < sizeof stack ? stack : am__malloc(len + 1);
    if (!scratch || am__labels_split(labels ? labels : "", scratch, len + 1, names, values,
                                     AM_MAX_LABELS, &n)) {
        if (scratch != stack)
            am__free(scratch);
        return;
    }
    const char *pn[AM_MAX_LABELS + 2], *pv[AM_MAX_LABELS + 2];
    pn[0] = "__name__";
    pv[0] = name;
    for (size_t i = 0; i < n; i++) {
        pn[i + 1] = names[i];
        pv[i + 1] = values[i];
    }
    for (size_t k = 0; k < x->n; k++)
        am_remote_write_append(x->rws[k], pn, pv, n + 1, (int64_t)(ts_s * 1000), v);
    if (scratch != stack)
        am__free(scratch);
}

void am__rw_export_stop(am_rw_export *x, double timeout_s)
{
    if (!x)
        return;
    for (size_t i = 0; i < x->n; i++)
        am_remote_write_free(x->rws[i], timeout_s);
    am__free(x->rws);
    am__rw_config_free(x->cf);
    am__free(x);
}
