/*
** rw_config.c: the remote_write: section of the collector's config file,
** read as Prometheus 2.42 reads it, and write_relabel_configs applied
** (see rw_config.h).
**
** DESIGN
** The file is loaded as a YAML tree (src/alert/yamltree.c) and only its
** remote_write key is read: the rest of the file is the collector's own
** options (src/serve/config.c, which skips this section) and the
** alerting sections (the notifier's). Checks are Prometheus': unknown keys
** are refused ("field X not found in type config.RemoteWriteConfig"),
** url is required and must be http(s), names are unique, durations parse
** as model.Duration, queue_config numbers are integers, relabel actions
** are known and their regexes compile (RE2 syntax on PCRE2, anchored,
** src/alert/regex.c). What agentmon does not have -- oauth2, sigv4,
** azuread, headers, the hashmod/labelmap/lowercase/... actions -- is
** refused by name rather than ignored, so nothing configured silently
** does nothing; settings that change nothing here (metadata_config,
** send_exemplars, send_native_histograms, follow_redirects,
** enable_http2) are accepted. The HTTP client fields (basic_auth,
** authorization, bearer_token_file, tls_config) are read by the notifier's
** reader (am__httpcfg_parse), which reads the *_file secrets.
**
** Relabeling follows relabel.Process: the source labels' values joined
** by separator are matched against the anchored regex; replace writes the
** expanded replacement to the (expanded) target label, or removes it when
** the result is empty; keep and drop keep or drop the sample; labelkeep
** and labeldrop match label names.
**
** THREADING: parsing is single-threaded; am__relabel_apply only reads the
** configuration and may run on any number of threads.
*/
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../alert/promql_fmt.h"
#include "../../alert/rules.h"
#include "../../alert/yamltree.h"
#include "../../alert/ycfg.h"
#include "../../util/alloc.h"
#include "../../util/error.h"
#include "rw_config.h"

/* A non-negative integer up to max (0 when absent: the default). */
static unsigned long long integer(am_ycfg *c, const am_ynode *m, const char *key,
                                  unsigned long long max)
{
    const am_ynode *v = am__ycfg_scalar(c, m, key);
    if (!v)
        return 0;
    char *end;
    errno = 0;
    long long x = strtoll(v->str, &end, 10);
    if (end == v->str || *end || errno || x < 0 || (unsigned long long)x > max) {
        am__ycfg_err(c, v, "%s: \"%.64s\" is not an integer from 0 to %llu", key, v->str, max);
        return 0;
    }
    return (unsigned long long)x;
}

static bool label_name_ok(const char *s)
{
    if (!*s)
        return false;
    for (const char *p = s; *p; p++) {
        char ch = *p;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
              (p > s && ch >= '0' && ch <= '9')))
            return false;
    }
    return true;
}

/* ---- write_relabel_configs ------------------------------------------- */

static void relabel(am_ycfg *c, const am_ynode *m, am_relabel *r)
{
    static const char *const KEYS[] = {"source_labels", "separator", "regex",   "target_label",
                                       "replacement",   "action",    "modulus", NULL};
    am__ycfg_keys(c, m, "type relabel.Config", KEYS, NULL);
    r->action = AM_RL_REPLACE;
    const am_ynode *a = am__ycfg_scalar(c, m, "action");
    if (a) {
        static const char *const NAMES[] = {"replace", "keep", "drop", "labelkeep", "labeldrop"};
        bool found = false;
        for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0] && !found; i++)
            if (strcmp(a->str, NAMES[i]) == 0) {
                r->action = (am_rl_action)i;
                found = true;
            }
        if (!found) {
            static const char *const OTHERS[] = {"hashmod",   "labelmap",  "lowercase",
                                                 "uppercase", "keepequal", "dropequal"};
            bool known = false;
            for (size_t i = 0; i < sizeof OTHERS / sizeof OTHERS[0]; i++)
                known = known || strcmp(a->str, OTHERS[i]) == 0;
            if (known)
                am__ycfg_err(c, a, "relabel action %s is not supported by agentmon", a->str);
            else
                am__ycfg_err(c, a, "unknown relabel action \"%.64s\"", a->str);
        }
    }
    if (am__y_get(m, "modulus") && !am__y_is_null(am__y_get(m, "modulus")))
        am__ycfg_err(c, m, "modulus is only for hashmod, which agentmon does not support");
    const am_ynode *sl = am__y_get(m, "source_labels");
    if (sl && sl->kind == AM_Y_SEQ) {
        r->src = am__calloc(sl->n ? sl->n : 1, sizeof *r->src);
        for (size_t i = 0; r->src && i < sl->n; i++) {
            const am_ynode *it = sl->items[i];
            if (it->kind != AM_Y_SCALAR || !label_name_ok(it->str)) {
                am__ycfg_err(c, it, "\"%.64s\" is not a valid label name",
                             it->kind == AM_Y_SCALAR ? it->str : "");
                continue;
            }
            r->src[r->n_src++] = am__strdup(it->str);
        }
    } else if (!am__y_is_null(sl)) {
        am__ycfg_err(c, sl, "source_labels must be a list, not a %s", am__y_kind_name(sl));
    }
    const am_ynode *sep = am__y_get(m, "separator");
    r->sep = am__strdup(sep && sep->kind == AM_Y_SCALAR ? sep->str : ";");
    r->target = am__ycfg_str(c, m, "target_label");
    const am_ynode *rep = am__y_get(m, "replacement");
    r->replacement = am__strdup(rep && rep->kind == AM_Y_SCALAR ? rep->str : "$1");
    const am_ynode *re = am__ycfg_scalar(c, m, "regex");
    char err[256];
    if (am__regex_new(re ? re->str : "(.*)", &r->re, err, sizeof err))
        am__ycfg_err(c, re ? re : m, "\"%.64s\" is not a valid regex: %s", re ? re->str : "", err);
    if (r->action == AM_RL_REPLACE && !r->target)
        am__ycfg_err(c, m,
                     "relabel configuration for replace action requires 'target_label' value");
    if ((r->action == AM_RL_LABELKEEP || r->action == AM_RL_LABELDROP) && (r->n_src || r->target))
        am__ycfg_err(c, m, "%s action requires only 'regex', and no other fields",
                     r->action == AM_RL_LABELKEEP ? "labelkeep" : "labeldrop");
}

static void relabel_free(am_relabel *r)
{
    for (size_t i = 0; i < r->n_src; i++)
        am__free(r->src[i]);
    am__free(r->src);
    am__free(r->sep);
    am__regex_free(r->re);
    am__free(r->target);
    am__free(r->replacement);
}

/* ---- one endpoint ------------------------------------------------------ */

static void queue_config(am_ycfg *c, const am_ynode *q, am_remote_write_opts *o)
{
    static const char *const KEYS[] = {"capacity",
                                       "max_shards",
                                       "min_shards",
                                       "max_samples_per_send",
                                       "batch_send_deadline",
                                       "min_backoff",
                                       "max_backoff",
                                       "retry_on_http_429",
                                       "sample_age_limit",
                                       NULL};
    am__ycfg_keys(c, q, "type config.QueueConfig", KEYS, NULL);
    o->capacity = (unsigned)integer(c, q, "capacity", 10000000);
    o->max_shards = (unsigned)integer(c, q, "max_shards", 10000);
    o->min_shards = (unsigned)integer(c, q, "min_shards", 10000);
    o->max_samples_per_send = (unsigned)integer(c, q, "max_samples_per_send", 1000000);
    o->batch_send_deadline_s = am__ycfg_duration_ms(c, q, "batch_send_deadline", 0) / 1000.0;
    o->min_backoff_s = am__ycfg_duration_ms(c, q, "min_backoff", 0) / 1000.0;
    o->max_backoff_s = am__ycfg_duration_ms(c, q, "max_backoff", 0) / 1000.0;
    const am_ynode *r = am__ycfg_scalar(c, q, "retry_on_http_429");
    if (r) {
        if (strcmp(r->str, "true") == 0)
            o->retry_on_http_429 = 1;
        else if (strcmp(r->str, "false") == 0)
            o->retry_on_http_429 = -1;
        else
            am__ycfg_err(c, r, "retry_on_http_429: cannot unmarshal \"%.64s\" into bool", r->str);
    }
    if (o->min_shards && o->max_shards && o->min_shards > o->max_shards)
        am__ycfg_err(c, q, "min_shards (%u) is over max_shards (%u)", o->min_shards, o->max_shards);
}

static void endpoint(am_ycfg *c, const am_ynode *m, am_rw_endpoint *ep)
{
    static const char *const KEYS[] = {"url",
                                       "name",
                                       "remote_timeout",
                                       "write_relabel_configs",
                                       "queue_config",
                                       "metadata_config",
                                       "send_exemplars",
                                       "send_native_histograms",
                                       "basic_auth",
                                       "authorization",
                                       "bearer_token",
                                       "bearer_token_file",
                                       "tls_config",
                                       "proxy_url",
                                       "follow_redirects",
                                       "enable_http2",
                                       "no_proxy",
                                       "proxy_from_environment",
                                       "proxy_connect_header",
                                       NULL};
    static const char *const NO[] = {"headers", "oauth2", "sigv4", "azuread", NULL};
    ep->line = m->line;
    am__ycfg_keys(c, m, "type config.RemoteWriteConfig", KEYS, NO);
    ep->url = am__ycfg_str(c, m, "url");
    if (!ep->url)
        am__ycfg_err(c, m, "url for remote_write is empty");
    else if (strncmp(ep->url, "http://", 7) != 0 && strncmp(ep->url, "https://", 8) != 0)
        am__ycfg_err(c, am__y_get(m, "url"), "url: scheme must be http or https");
    ep->name = am__ycfg_str(c, m, "name");
    ep->o.remote_timeout_s = am__ycfg_duration_ms(c, m, "remote_timeout", 30000) / 1000.0;
    const am_ynode *q = am__y_get(m, "queue_config");
    if (am__ycfg_is_map(c, q, "queue_config"))
        queue_config(c, q, &ep->o);
    const am_ynode *md = am__y_get(m, "metadata_config");
    if (!am__y_is_null(md))
        am__ycfg_is_map(c, md, "metadata_config"); /* accepted: agentmon sends no metadata */
    c->n_errs += am__httpcfg_parse(c->file, m, &ep->http, c->errs);
    if (ep->http.proxy_url)
        am__ycfg_err(c, m, "proxy_url is not supported by agentmon");
    const am_ynode *wr = am__y_get(m, "write_relabel_configs");
    if (wr && wr->kind == AM_Y_SEQ) {
        ep->rules = am__calloc(wr->n ? wr->n : 1, sizeof *ep->rules);
        for (size_t i = 0; ep->rules && i < wr->n; i++) {
            if (!am__ycfg_is_map(c, wr->items[i], "a relabel config"))
                continue;
            relabel(c, wr->items[i], &ep->rules[ep->n_rules++]);
        }
    } else if (!am__y_is_null(wr)) {
        am__ycfg_err(c, wr, "write_relabel_configs must be a list, not a %s", am__y_kind_name(wr));
    }
    am_remote_write_opts *o = &ep->o;
    o->url = ep->url;
    o->name = ep->name;
    o->basic_user = ep->http.basic_user;
    o->basic_password = ep->http.basic_password;
    o->auth_type = ep->http.auth_type;
    o->auth_credentials = ep->http.auth_credentials;
    o->ca_file = ep->http.ca_file;
    o->cert_file = ep->http.cert_file;
    o->key_file = ep->http.key_file;
    o->server_name = ep->http.server_name;
    o->insecure_skip_verify = ep->http.insecure_skip_verify;
}

/* The name Prometheus' metrics would carry: name:, else host:port. */
static void name_of(const am_rw_endpoint *ep, char *out, size_t cap)
{
    if (ep->name) {
        snprintf(out, cap, "%s", ep->name);
        return;
    }
    const char *h = ep->url ? strstr(ep->url, "://") : NULL;
    h = h ? h + 3 : "";
    snprintf(out, cap, "%.*s", (int)strcspn(h, "/?#"), h);
}

void am__rw_config_free(am_rw_config *cf)
{
    if (!cf)
        return;
    for (size_t i = 0; i < cf->n; i++) {
        am_rw_endpoint *ep = &cf->eps[i];
        am__free(ep->url);
        am__free(ep->name);
        am__httpcfg_free(&ep->http);
        for (size_t j = 0; j < ep->n_rules; j++)
            relabel_free(&ep->rules[j]);
        am__free(ep->rules);
    }
    am__free(cf->eps);
    am__free(cf);
}

am_err am__rw_config_parse(const char *file, const char *text, size_t len, am_rw_config **out,
                           am_buf *errs)
{
    *out = NULL;
    am_arena a;
    am__arena_init(&a, NULL);
    am_ynode *root = NULL;
    am_err rc = am__ycfg_load(file, text, len, &a, &root, errs);
    if (rc)
        return rc;
    am_ycfg c = {file, errs, 0};
    const am_ynode *rw = root && root->kind == AM_Y_MAP ? am__y_get(root, "remote_write") : NULL;
    if (am__y_is_null(rw) || (rw->kind == AM_Y_SEQ && rw->n == 0)) {
        am__arena_free(&a);
        return AM_OK;
    }
    if (rw->kind != AM_Y_SEQ) {
        am__ycfg_err(&c, rw, "remote_write must be a list, not a %s", am__y_kind_name(rw));
        am__arena_free(&a);
        return am__err(AM_EINVAL, "%s: the remote_write section is refused", file);
    }
    am_rw_config *cf = am__calloc(1, sizeof *cf);
    if (cf)
        cf->eps = am__calloc(rw->n, sizeof *cf->eps);
    if (!cf || !cf->eps) {
        am__free(cf);
        am__arena_free(&a);
        return am__err(AM_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < rw->n; i++) {
        if (!am__ycfg_is_map(&c, rw->items[i], "a remote_write entry"))
            continue;
        endpoint(&c, rw->items[i], &cf->eps[cf->n++]);
        char ni[256], nj[256];
        name_of(&cf->eps[cf->n - 1], ni, sizeof ni);
        for (size_t j = 0; j + 1 < cf->n; j++) {
            name_of(&cf->eps[j], nj, sizeof nj);
            if (strcmp(ni, nj) == 0)
                am__ycfg_err(&c, rw->items[i],
                             "found multiple remote write configs with the name %s "
                             "(give each a name:)",
                             ni);
        }
    }
    am__arena_free(&a);
    if (c.n_errs) {
        am__rw_config_free(cf);
        return am__err(AM_EINVAL, "%s: the remote_write section is refused", file);
    }
    *out = cf;
    return AM_OK;
}

am_err am__rw_config_load(const char *path, am_rw_config **out, am_buf *errs)
{
    *out = NULL;
    char *text;
    size_t len;
    am_err rc = am__read_file(path, &text, &len);
    if (rc) {
        if (errs)
            am_buf_printf(errs, "%s\n", am_errmsg());
        return rc;
    }
    rc = am__rw_config_parse(path, text, len, out, errs);
    am__free(text);
    return rc;
}

/* ---- relabeling ---------------------------------------------------------- */

static const char *get(const am_label_pair *p, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(p[i].name, name) == 0)
            return p[i].value;
    return "";
}

/* Copy s[0..len) into the scratch at *used; NULL when it does not fit. */
static const char *keep_str(char *scratch, size_t cap, size_t *used, const char *s, size_t len)
{
    if (*used + len + 1 > cap)
        return NULL;
    char *d = scratch + *used;
    memcpy(d, s, len);
    d[len] = '\0';
    *used += len + 1;
    return d;
}

bool am__relabel_apply(void *ud, am_label_pair *pairs, size_t *n, size_t cap, char *scratch,
                       size_t scratch_cap)
{
    const am_rw_endpoint *ep = ud;
    size_t used = 0;
    am_buf val, out;
    am_buf_init(&val, 1u << 16);
    am_buf_init(&out, 1u << 16);
    bool keep = true;
    for (size_t r = 0; r < ep->n_rules && keep; r++) {
        const am_relabel *rl = &ep->rules[r];
        val.len = 0;
        for (size_t i = 0; i < rl->n_src; i++) {
            if (i)
                am_buf_append(&val, rl->sep, strlen(rl->sep));
            const char *v = get(pairs, *n, rl->src[i]);
            am_buf_append(&val, v, strlen(v));
        }
        if (am_buf_err(&val))
            break;
        switch (rl->action) {
        case AM_RL_KEEP:
        case AM_RL_DROP: {
            bool m = am__regex_match(rl->re, val.len ? val.p : "", val.len);
            keep = rl->action == AM_RL_KEEP ? m : !m;
            break;
        }
        case AM_RL_REPLACE: {
            out.len = 0;
            if (!am__regex_expand(rl->re, val.len ? val.p : "", val.len, rl->target, &out))
                break;
            am_buf tv;
            am_buf_init(&tv, 1u << 16);
            am__regex_expand(rl->re, val.len ? val.p : "", val.len, rl->replacement, &tv);
            if (am_buf_err(&out) || am_buf_err(&tv)) {
                am_buf_free(&tv);
                break;
            }
            am_buf_putc(&out, '\0');
            out.len--;
            if (!label_name_ok(out.p)) {
                am_buf_free(&tv);
                break;
            }
            size_t at = *n;
            for (size_t i = 0; i < *n; i++)
                if (strcmp(pairs[i].name, out.p) == 0)
                    at = i;
            if (tv.len == 0) {
                if (at < *n)
                    pairs[at] = pairs[--*n];
            } else {
                const char *name = keep_str(scratch, scratch_cap, &used, out.p, out.len);
                const char *value = keep_str(scratch, scratch_cap, &used, tv.p, tv.len);
                if (name && value && (at < *n || *n < cap)) {
                    pairs[at] = (am_label_pair){name, value};
                    if (at == *n)
                        (*n)++;
                }
            }
            am_buf_free(&tv);
            break;
        }
        case AM_RL_LABELKEEP:
        case AM_RL_LABELDROP:
            for (size_t i = 0; i < *n;) {
                bool m = am__regex_match(rl->re, pairs[i].name, strlen(pairs[i].name));
                if (m != (rl->action == AM_RL_LABELKEEP))
                    pairs[i] = pairs[--*n];
                else
                    i++;
            }
            break;
        }
    }
    am_buf_free(&val);
    am_buf_free(&out);
    return keep;
}
