/*
** ycfg.c: the checks every YAML configuration section needs (ycfg.h).
**
** Messages follow the Go readers' wording (yaml.v2's "field X not found
** in T", Prometheus' duration errors), so a person who knows Prometheus
** or Alertmanager recognises them; the caller names its sections.
*/
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../util/alloc.h"
#include "../util/error.h"
#include "promql_fmt.h"
#include "ycfg.h"

am_err am__ycfg_load(const char *file, const char *text, size_t len, am_arena *a, am_ynode **root,
                     am_buf *errs)
{
    char err[400];
    am_err rc = am__yaml_load(text, len, a, root, err, sizeof err);
    if (!rc)
        return AM_OK;
    if (errs)
        am_buf_printf(errs, "%s:%s\n", file, err);
    am__arena_free(a);
    return am__err(rc == AM_ENOMEM ? AM_ENOMEM : AM_EINVAL, "%s: %s", file, err);
}

void am__ycfg_err(am_ycfg *c, const am_ynode *n, const char *fmt, ...)
{
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->errs)
        am_buf_printf(c->errs, "%s:%d: %s\n", c->file, n ? n->line : 0, msg);
    c->n_errs++;
}

am_err am__ycfg_fail(am_err rc, am_buf *errs)
{
    if (!rc || !errs->len)
        return rc;
    if (errs->p[errs->len - 1] == '\n')
        errs->p[--errs->len] = '\0';
    return am__err(rc, "%s", errs->p);
}

const char *am__ycfg_key(const am_ynode *k)
{
    return k && k->kind == AM_Y_SCALAR && k->str ? k->str : "";
}

bool am__ycfg_is_map(am_ycfg *c, const am_ynode *n, const char *what)
{
    if (n && n->kind == AM_Y_MAP)
        return true;
    if (!am__y_is_null(n))
        am__ycfg_err(c, n, "%s must be a mapping, not a %s", what, am__y_kind_name(n));
    return false;
}

void am__ycfg_keys(am_ycfg *c, const am_ynode *m, const char *what, const char *const *allowed,
                   const char *const *unsupported)
{
    for (size_t i = 0; m && m->kind == AM_Y_MAP && i < m->n; i++) {
        const am_ynode *k = m->items[2 * i];
        const char *name = am__ycfg_key(k);
        bool ok = false;
        for (size_t j = 0; unsupported && unsupported[j] && !ok; j++)
            if (strcmp(name, unsupported[j]) == 0) {
                /* an empty section of it asks for nothing */
                const am_ynode *v = m->items[2 * i + 1];
                if (!am__y_is_null(v) && !(v->kind != AM_Y_SCALAR && v->n == 0))
                    am__ycfg_err(c, k, "%s: %s is not supported by agentmon", what, name);
                ok = true;
            }
        for (size_t j = 0; allowed[j] && !ok; j++)
            ok = strcmp(name, allowed[j]) == 0;
        if (!ok)
            am__ycfg_err(c, k, "field %s not found in %s", name, what);
    }
}

const am_ynode *am__ycfg_scalar(am_ycfg *c, const am_ynode *m, const char *key)
{
    const am_ynode *v = am__y_get(m, key);
    if (!v || am__y_is_null(v))
        return NULL;
    if (v->kind != AM_Y_SCALAR) {
        am__ycfg_err(c, v, "%s must be a scalar, not a %s", key, am__y_kind_name(v));
        return NULL;
    }
    return v;
}

char *am__ycfg_str(am_ycfg *c, const am_ynode *m, const char *key)
{
    const am_ynode *v = am__ycfg_scalar(c, m, key);
    return v ? am__strdup(v->str) : NULL;
}

int64_t am__ycfg_duration_ms(am_ycfg *c, const am_ynode *m, const char *key, int64_t def)
{
    const am_ynode *v = am__ycfg_scalar(c, m, key);
    int64_t ms;
    if (!v)
        return def;
    if (!am__go_parse_duration(v->str, v->len, &ms) || ms < 0) {
        am__ycfg_err(c, v, "%s: not a valid duration string: \"%.64s\"", key, v->str);
        return def;
    }
    return ms;
}
