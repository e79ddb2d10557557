/*
** dtext.c: Alertmanager's default notification texts (template/
** default.tmpl), written in C since agentmon runs no notification
** templates: the subject every integration uses, the link back, and the
** plain list of alerts.
**
**   __subject      [FIRING:2] <group label values> (<other common label values>)
**                  -- Alertmanager's exact text, its trailing space included
**   __alertmanagerURL  <external URL>/#/alerts?receiver=<receiver>
**   __text_alert_list  per alert: "Labels:\n - k = v\n...Annotations:\n
**                  - k = v\n...Source: <generatorURL>\n"
*/
#include <string.h>

#include "../../util/alloc.h"
#include "notify.h"
#include "dtext.h"

/* The values of l sorted by name, joined by one space. */
static void values(am_buf *b, const am_lset *l, const am_lset *without)
{
    bool first = true;
    for (uint32_t i = 0; l && i < l->n; i++) {
        if (without && am__labels_get(without, l->l[i].name))
            continue;
        if (!first)
            am_buf_putc(b, ' ');
        am_buf_puts(b, l->l[i].value);
        first = false;
    }
}

/* l sorted by name (annotations are kept as given). */
static am_lset *sorted(const am_lset *l)
{
    am_label *p = am__calloc(l->n + 1, sizeof *p);
    if (!p)
        return NULL;
    if (l->n)
        memcpy(p, l->l, l->n * sizeof *p);
    for (size_t i = 1; i < l->n; i++) {
        am_label x = p[i];
        size_t j = i;
        while (j > 0 && strcmp(p[j - 1].name, x.name) > 0) {
            p[j] = p[j - 1];
            j--;
        }
        p[j] = x;
    }
    am_lset *s = am__labels_raw(NULL, p, l->n);
    am__free(p);
    return s;
}

void am__subject(am_buf *b, const am_notification *nt)
{
    const char *st = am__nt_status(nt);
    am_buf_putc(b, '[');
    for (const char *c = st; *c; c++)
        am_buf_putc(b, (char)(*c - 'a' + 'A'));
    if (nt->n_firing)
        am_buf_printf(b, ":%zu", nt->n_firing);
    am_buf_puts(b, "] ");
    values(b, nt->group_labels, NULL);
    am_buf_putc(b, ' ');
    am_lset *cl = am__common(nt->alerts, nt->n_alerts, false);
    if (cl && cl->n > (nt->group_labels ? nt->group_labels->n : 0)) {
        am_buf_putc(b, '(');
        values(b, cl, nt->group_labels);
        am_buf_putc(b, ')');
    }
    am__labels_free(cl);
}

void am__alerts_url(am_buf *b, const am_notification *nt)
{
    am_buf_puts(b, nt->external_url ? nt->external_url : "");
    am_buf_puts(b, "/#/alerts?receiver=");
    for (const unsigned char *c = (const unsigned char *)nt->receiver; *c; c++) {
        if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
            *c == '-' || *c == '_' || *c == '.' || *c == '~')
            am_buf_putc(b, (char)*c);
        else if (*c == ' ')
            am_buf_putc(b, '+');
        else
            am_buf_printf(b, "%%%02X", *c);
    }
}

void am__text_alert_list(am_buf *b, am_nalert *const *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        am_buf_puts(b, "Labels:\n");
        for (uint32_t k = 0; k < a[i]->labels->n; k++)
            am_buf_printf(b, " - %s = %s\n", a[i]->labels->l[k].name, a[i]->labels->l[k].value);
        am_buf_puts(b, "Annotations:\n");
        am_lset *an = sorted(a[i]->annotations);
        for (uint32_t k = 0; an && k < an->n; k++)
            am_buf_printf(b, " - %s = %s\n", an->l[k].name, an->l[k].value);
        am__labels_free(an);
        am_buf_printf(b, "Source: %s\n", a[i]->generator_url ? a[i]->generator_url : "");
    }
}

size_t am__split_firing(const am_notification *nt, am_nalert ***firing, am_nalert ***resolved,
                        size_t *n_resolved)
{
    *firing = am__calloc(nt->n_alerts + 1, sizeof **firing);
    *resolved = am__calloc(nt->n_alerts + 1, sizeof **resolved);
    size_t nf = 0;
    *n_resolved = 0;
    for (size_t i = 0; *firing && *resolved && i < nt->n_alerts; i++)
        if (am__nalert_resolved(nt->alerts[i], nt->now_ms))
            (*resolved)[(*n_resolved)++] = nt->alerts[i];
        else
            (*firing)[nf++] = nt->alerts[i];
    return nf;
}
