/*
** config.c: the YAML config file (see config.h), read with libyaml's event
** parser: a mapping of scalars, or of lists of scalars for the options
** that repeat. Anything else is refused with the line it is on, rather
** than guessed at -- but for the alerting sections (Alertmanager's
** global, route, receivers, inhibit_rules, templates, time_intervals and
** Prometheus' alerting), whose values are skipped here whole and read by
** the notifier's own parser (src/alert/notify/config.c) from the same file.
*/
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "../util/alloc.h"
#include "../util/buf.h"
#include "../util/error.h"
#include "config.h"

static bool in(const char *name, const char *const *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(set[i], name) == 0)
            return true;
    return false;
}

/* Top-level keys whose values are the notifier's (notify/config.c). */
static const char *const SECTIONS[] = {
    "global",    "route",    "receivers",      "inhibit_rules",
    "templates", "alerting", "time_intervals", "mute_time_intervals"};
/* Top-level keys whose values are remote_write's (export/rw_config.c). */
static const char *const RW_SECTIONS[] = {"remote_write"};

typedef struct pending {
    size_t name_off; /* into the strings buffer: "--key" */
    size_t value_off;
} pending;

void am__config_free(am_config *c)
{
    am__free(c->mem);
    memset(c, 0, sizeof *c);
}

/* Line of an event, from 1. */
static unsigned long line_of(const yaml_event_t *e)
{
    return (unsigned long)e->start_mark.line + 1;
}

am_err am__config_parse(const char *text, size_t len, const char *const *known, size_t n_known,
                        const char *const *list_ok, size_t n_list_ok, am_config *out)
{
    memset(out, 0, sizeof *out);
    if (len > AM_CONFIG_MAX_BYTES)
        return am__err(AM_ELIMIT, "config: the file is over %u bytes", AM_CONFIG_MAX_BYTES);
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return am__err(AM_ENOMEM, "config: out of memory");
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);

    am_buf strs; /* "--key\0value\0" ... */
    am_buf_init(&strs, 0);
    pending pairs[AM_CONFIG_MAX_PAIRS];
    size_t n = 0;
    /* states: 0 before the mapping, 1 want a key, 2 want a value, 3 in a
       list value, 4 after the mapping */
    int state = 0, depth = 0;
    int skip = 0; /* > 0: inside a section's value, this deep; -1: the next value is one */
    size_t key_off = 0;
    char key[128] = "";
    am_err rc = AM_OK;
    bool done = false;
    while (!rc && !done) {
        yaml_event_t e;
        if (!yaml_parser_parse(&p, &e)) {
            rc = am__err(AM_EINVAL, "config: line %lu: %s", (unsigned long)p.problem_mark.line + 1,
                         p.problem ? p.problem : "not YAML");
            break;
        }
        if (skip) {
            /* a section's value, whatever its shape: the notifier reads it */
            if (e.type == YAML_MAPPING_START_EVENT || e.type == YAML_SEQUENCE_START_EVENT)
                skip = skip < 0 ? 1 : skip + 1;
            else if (e.type == YAML_MAPPING_END_EVENT || e.type == YAML_SEQUENCE_END_EVENT)
                skip--;
            else if (skip < 0)
                skip = 0; /* a scalar (or alias) value */
            if (skip == 0)
                state = 1;
            yaml_event_delete(&e);
            continue;
        }
        switch (e.type) {
        case YAML_STREAM_START_EVENT:
        case YAML_DOCUMENT_START_EVENT:
        case YAML_DOCUMENT_END_EVENT:
            break;
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_ALIAS_EVENT:
            rc = am__err(AM_EINVAL, "config: line %lu: aliases are not supported", line_of(&e));
            break;
        case YAML_MAPPING_START_EVENT:
            if (state == 0) {
                state = 1;
                depth = 1;
            } else {
                rc = am__err(AM_EINVAL, "config: line %lu: %s%s%s", line_of(&e),
                             state == 4 ? "a second document or mapping" : "the value of ",
                             state == 4 ? "" : key, state == 4 ? "" : " must not be a mapping");
            }
            break;
        case YAML_MAPPING_END_EVENT:
            state = 4;
            depth = 0;
            break;
        case YAML_SEQUENCE_START_EVENT:
            if (state != 2)
                rc = am__err(AM_EINVAL,
                             "config: line %lu: the file must be a mapping of "
                             "option: value",
                             line_of(&e));
            else if (!in(key, list_ok, n_list_ok))
                rc = am__err(AM_EINVAL, "config: line %lu: %s takes one value, not a list",
                             line_of(&e), key + 2);
            else
                state = 3;
            break;
        case YAML_SEQUENCE_END_EVENT:
            state = 1;
            break;
        case YAML_SCALAR_EVENT: {
            const char *v = (const char *)e.data.scalar.value;
            size_t vlen = e.data.scalar.length;
            if (e.data.scalar.anchor) {
                rc = am__err(AM_EINVAL, "config: line %lu: anchors are not supported", line_of(&e));
            } else if (state == 1) {
                if (vlen == 0 || vlen > sizeof key - 3 || memchr(v, '\0', vlen)) {
                    rc = am__err(AM_EINVAL, "config: line %lu: an empty or overlong key",
                                 line_of(&e));
                    break;
                }
                if (in(v, SECTIONS, sizeof SECTIONS / sizeof SECTIONS[0])) {
                    out->has_sections = true;
                    skip = -1;
                    break;
                }
                if (in(v, RW_SECTIONS, 1)) {
                    out->has_remote_write = true;
                    skip = -1;
                    break;
                }
                snprintf(key, sizeof key, "--%.*s", (int)vlen, v);
                for (char *c = key + 2; *c; c++)
                    if (*c == '_')
                        *c = '-'; /* statsd_unix and statsd-unix alike */
                if (!in(key, known, n_known)) {
                    rc = am__err(AM_EINVAL, "config: line %lu: unknown option \"%.*s\"",
                                 line_of(&e), (int)(vlen > 64 ? 64 : vlen), v);
                    break;
                }
                for (size_t i = 0; i < n; i++)
                    if (strcmp(strs.p + pairs[i].name_off, key) == 0)
                        rc = am__err(AM_EINVAL, "config: line %lu: \"%s\" is given twice",
                                     line_of(&e), key + 2);
                key_off = strs.len;
                am_buf_append(&strs, key, strlen(key) + 1);
                state = 2;
            } else if (state == 2 || state == 3) {
                if (memchr(v, '\0', vlen)) {
                    rc = am__err(AM_EINVAL, "config: line %lu: a NUL in the value of %s",
                                 line_of(&e), key + 2);
                    break;
                }
                if (n == AM_CONFIG_MAX_PAIRS) {
                    rc = am__err(AM_ELIMIT, "config: more than %d values", AM_CONFIG_MAX_PAIRS);
                    break;
                }
                pairs[n].name_off = key_off;
                pairs[n].value_off = strs.len;
                n++;
                am_buf_append(&strs, v, vlen);
                am_buf_putc(&strs, '\0');
                if (state == 2)
                    state = 1;
            } else {
                rc = am__err(AM_EINVAL,
                             "config: line %lu: the file must be a mapping of "
                             "option: value",
                             line_of(&e));
            }
            break;
        }
        default:
            break;
        }
        yaml_event_delete(&e);
    }
    (void)depth;
    yaml_parser_delete(&p);
    if (!rc && am_buf_err(&strs))
        rc = am__err(AM_ENOMEM, "config: out of memory");
    if (rc) {
        am_buf_free(&strs);
        return rc;
    }
    bool has_sections = out->has_sections, has_rw = out->has_remote_write;
    out->mem = am_buf_take(&strs, NULL);
    out->has_sections = has_sections;
    out->has_remote_write = has_rw;
    for (size_t i = 0; i < n; i++) {
        out->names[i] = out->mem + pairs[i].name_off;
        out->values[i] = out->mem + pairs[i].value_off;
    }
    out->n = n;
    return AM_OK;
}

am_err am__config_load(const char *path, const char *const *known, size_t n_known,
                       const char *const *list_ok, size_t n_list_ok, am_config *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f)
        return am__err(AM_EIO, "config: cannot open %s: %s", path, strerror(errno));
    char *text = am__malloc(AM_CONFIG_MAX_BYTES + 1);
    if (!text) {
        fclose(f);
        return am__err(AM_ENOMEM, "config: out of memory");
    }
    size_t len = fread(text, 1, AM_CONFIG_MAX_BYTES + 1, f);
    bool err = ferror(f);
    fclose(f);
    am_err rc = err ? am__err(AM_EIO, "config: cannot read %s", path)
                    : am__config_parse(text, len, known, n_known, list_ok, n_list_ok, out);
    am__free(text);
    return rc;
}
