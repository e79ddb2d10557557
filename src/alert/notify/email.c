/*
** email.c: a notification as an email over SMTP (sent by receiver.c with
** libcurl: STARTTLS when require_tls, as Alertmanager requires it; SMTPS
** on port 465; AUTH with auth_username/auth_password).
**
** The message: From, To, Subject (Alertmanager's default subject, RFC
** 2047-encoded when it is not ASCII), Date, Message-Id, MIME-Version, the
** configured headers, and a multipart/alternative body: text/plain (the
** alerts listed as Alertmanager's text templates list them) and
** text/html (the same, with a link back to the collector's alerts and to
** each alert's source). Lines end in CRLF; the envelope is from and every
** address of to.
*/
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agentmon/timer.h"
#include "../../util/alloc.h"
#include "dtext.h"
#include "notify.h"

/* The bare address of "Name <a@b>" or "a@b" (heap). */
static char *address(const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    const char *lt = memchr(s, '<', n);
    if (lt) {
        const char *gt = memchr(lt, '>', n - (size_t)(lt - s));
        if (gt) {
            s = lt + 1;
            n = (size_t)(gt - lt - 1);
        }
    }
    char *a = am__malloc(n + 1);
    if (a) {
        memcpy(a, s, n);
        a[n] = '\0';
    }
    return a;
}

static void html_text(am_buf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<':
            am_buf_puts(b, "&lt;");
            break;
        case '>':
            am_buf_puts(b, "&gt;");
            break;
        case '&':
            am_buf_puts(b, "&amp;");
            break;
        case '"':
            am_buf_puts(b, "&#34;");
            break;
        default:
            am_buf_putc(b, *s);
        }
    }
}

static void html_alerts(am_buf *b, const char *what, am_nalert *const *a, size_t n)
{
    if (!n)
        return;
    am_buf_printf(b, "<h3>[%zu] %s</h3>\r\n", n, what);
    for (size_t i = 0; i < n; i++) {
        am_buf_puts(b, "<p><b>Labels</b><br>\r\n");
        for (uint32_t k = 0; k < a[i]->labels->n; k++) {
            html_text(b, a[i]->labels->l[k].name);
            am_buf_puts(b, " = ");
            html_text(b, a[i]->labels->l[k].value);
            am_buf_puts(b, "<br>\r\n");
        }
        if (a[i]->annotations->n)
            am_buf_puts(b, "<b>Annotations</b><br>\r\n");
        for (uint32_t k = 0; k < a[i]->annotations->n; k++) {
            html_text(b, a[i]->annotations->l[k].name);
            am_buf_puts(b, " = ");
            html_text(b, a[i]->annotations->l[k].value);
            am_buf_puts(b, "<br>\r\n");
        }
        if (a[i]->generator_url && *a[i]->generator_url) {
            am_buf_puts(b, "<a href=\"");
            html_text(b, a[i]->generator_url);
            am_buf_puts(b, "\">Source</a>");
        }
        am_buf_puts(b, "</p>\r\n");
    }
}

/* CRLF line ends for a body written with LF. */
static void crlf(am_buf *out, const char *s)
{
    char prev = '\0';
    for (; s && *s; s++) {
        if (*s == '\n' && prev != '\r')
            am_buf_putc(out, '\r');
        am_buf_putc(out, *s);
        prev = *s;
    }
}

static bool is_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80 || (unsigned char)*s < 0x20)
            return false;
    return true;
}

/* A header value: as is when ASCII, else RFC 2047 base64 in UTF-8. */
static void header_value(am_buf *b, const char *v)
{
    if (is_ascii(v)) {
        am_buf_puts(b, v);
        return;
    }
    static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    am_buf_puts(b, "=?UTF-8?b?");
    const unsigned char *s = (const unsigned char *)v;
    size_t n = strlen(v);
    for (size_t i = 0; i < n; i += 3) {
        unsigned x = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0) |
                     (i + 2 < n ? s[i + 2] : 0);
        am_buf_putc(b, B64[x >> 18 & 63]);
        am_buf_putc(b, B64[x >> 12 & 63]);
        am_buf_putc(b, i + 1 < n ? B64[x >> 6 & 63] : '=');
        am_buf_putc(b, i + 2 < n ? B64[x & 63] : '=');
    }
    am_buf_puts(b, "?=");
}

am_err am__email_build(const am_integration *ig, const am_notification *nt, am_request *rq)
{
    am_buf *b = &rq->body;
    am_buf subject, link, text;
    am_buf_init(&subject, 0);
    am_buf_init(&link, 0);
    am_buf_init(&text, 0);
    am__subject(&subject, nt);
    am__alerts_url(&link, nt);
    am_nalert **fi, **re;
    size_t nr, nf = am__split_firing(nt, &fi, &re, &nr);

    char date[64];
    time_t now = (time_t)(nt->now_ms / 1000);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    char boundary[64];
    snprintf(boundary, sizeof boundary, "agentmon-%lld-%zu", (long long)nt->now_ms, nt->n_alerts);

    am_buf_puts(b, "From: ");
    header_value(b, ig->from);
    am_buf_puts(b, "\r\nTo: ");
    header_value(b, ig->to);
    am_buf_puts(b, "\r\nSubject: ");
    header_value(b, subject.p ? subject.p : "");
    am_buf_printf(b, "\r\nDate: %s\r\nMessage-Id: <%lld.%016llx@agentmon>\r\n", date,
                  (long long)nt->now_ms,
                  (unsigned long long)(nt->n_alerts ? nt->alerts[0]->fp : 0));
    for (size_t i = 0; i < ig->n_headers; i++) {
        am_buf_printf(b, "%s: ", ig->headers[i].name);
        header_value(b, ig->headers[i].value);
        am_buf_puts(b, "\r\n");
    }
    am_buf_printf(b,
                  "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"%s\"\r\n"
                  "\r\n--%s\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n",
                  boundary, boundary);
    if (ig->email_text) {
        crlf(b, ig->email_text);
    } else {
        am_buf_printf(&text, "%s\n\n", subject.p ? subject.p : "");
        if (nf) {
            am_buf_printf(&text, "[%zu] Firing\n", nf);
            am__text_alert_list(&text, fi, nf);
        }
        if (nr) {
            am_buf_printf(&text, "%s[%zu] Resolved\n", nf ? "\n" : "", nr);
            am__text_alert_list(&text, re, nr);
        }
        am_buf_printf(&text, "\nView in agentmon: %s\n", link.p ? link.p : "");
        crlf(b, text.p);
    }
    am_buf_printf(b, "\r\n--%s\r\nContent-Type: text/html; charset=UTF-8\r\n\r\n", boundary);
    if (ig->html) {
        crlf(b, ig->html);
    } else {
        am_buf_puts(b, "<html><body>\r\n<h2>");
        html_text(b, subject.p);
        am_buf_puts(b, "</h2>\r\n<p><a href=\"");
        html_text(b, link.p);
        am_buf_puts(b, "\">View in agentmon</a></p>\r\n");
        html_alerts(b, "Firing", fi, nf);
        html_alerts(b, "Resolved", re, nr);
        am_buf_puts(b, "</body></html>");
    }
    am_buf_printf(b, "\r\n--%s--\r\n", boundary);
    am__free(fi);
    am__free(re);

    /* the envelope */
    rq->is_smtp = true;
    rq->mail_from = address(ig->from, strlen(ig->from));
    size_t n_to = 1;
    for (const char *c = ig->to; *c; c++)
        n_to += *c == ',';
    rq->rcpt = am__calloc(n_to + 1, sizeof *rq->rcpt);
    for (const char *s = ig->to; rq->rcpt && *s;) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        char *a = address(s, n);
        if (a && *a)
            rq->rcpt[rq->n_rcpt++] = a;
        else
            am__free(a);
        s += n + (e ? 1 : 0);
    }
    const char *host = ig->smarthost;
    const char *port = strrchr(host, ':');
    am_buf url;
    am_buf_init(&url, 0);
    am_buf_printf(&url, "%s://%s/%s", port && strcmp(port, ":465") == 0 ? "smtps" : "smtp", host,
                  ig->hello ? ig->hello : "localhost");
    rq->require_tls = ig->require_tls;
    rq->smtp_user = ig->auth_username;
    rq->smtp_password = ig->auth_password;
    rq->url = am_buf_take(&url, NULL);
    rq->content_type = "message/rfc822";
    bool oom = am_buf_err(&subject) || am_buf_err(&link) || am_buf_err(&text);
    am_buf_free(&subject);
    am_buf_free(&link);
    am_buf_free(&text);
    return rq->url && rq->mail_from && rq->n_rcpt && !oom && !am_buf_err(b) ? AM_OK : AM_ENOMEM;
}
