/*
** expo_dump.c: what agentmon's exposition parser reads from a file -- the
** C half of scrape_exporters.sh.
**
**     expo_dump FORMAT FILE
**
** FORMAT is "prom" (0.0.4), "om" (OpenMetrics), "auto", or a Content-Type
** header value ("text/plain; version=0.0.4", ...). One JSON object per
** sample goes to stdout:
**
**     {"f":"family","t":"type","n":"name","l":{"k":"v"},"v":"1.5","ts":"..."}
**
** with numbers as %.17g text (NaN, +Inf, -Inf spelled so), so the Python
** side can compare them exactly with what prometheus_client reads. Exit 0,
** or 1 with the parser's message on stderr.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/render.h"
#include "serve/ingest/expo_parse.h"

static void put_num(am_buf *b, double v)
{
    if (isnan(v))
        am_buf_puts(b, "\"NaN\"");
    else if (isinf(v))
        am_buf_puts(b, v > 0 ? "\"+Inf\"" : "\"-Inf\"");
    else
        am_buf_printf(b, "\"%.17g\"", v);
}

static void put_str(am_buf *b, const char *s)
{
    am__buf_json_string(b, s, strlen(s));
}

static void put_labels(am_buf *b, const char *const *n, const char *const *v, size_t k)
{
    am_buf_putc(b, '{');
    for (size_t i = 0; i < k; i++) {
        if (i)
            am_buf_putc(b, ',');
        put_str(b, n[i]);
        am_buf_putc(b, ':');
        put_str(b, v[i]);
    }
    am_buf_putc(b, '}');
}

static int dump(void *ud, const am_expo_sample *s)
{
    am_buf *b = ud;
    b->len = 0;
    am_buf_puts(b, "{\"f\":");
    put_str(b, s->family);
    am_buf_puts(b, ",\"t\":");
    put_str(b, s->type);
    am_buf_puts(b, ",\"n\":");
    put_str(b, s->name);
    am_buf_puts(b, ",\"l\":");
    put_labels(b, s->label_names, s->label_values, s->n_labels);
    am_buf_puts(b, ",\"v\":");
    put_num(b, s->value);
    if (s->has_timestamp) {
        am_buf_puts(b, ",\"ts\":");
        put_num(b, s->timestamp);
    }
    if (s->has_exemplar) {
        am_buf_puts(b, ",\"ex\":");
        put_labels(b, s->ex_label_names, s->ex_label_values, s->ex_n_labels);
        am_buf_puts(b, ",\"exv\":");
        put_num(b, s->ex_value);
    }
    am_buf_puts(b, "}\n");
    if (am_buf_err(b))
        return 1;
    fwrite(b->p, 1, b->len, stdout);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: expo_dump prom|om|auto|CONTENT-TYPE FILE\n");
        return 2;
    }
    am_expo_format f;
    if (!strcmp(argv[1], "prom"))
        f = AM_EXPO_PROMETHEUS;
    else if (!strcmp(argv[1], "om"))
        f = AM_EXPO_OPENMETRICS;
    else if (!strcmp(argv[1], "auto"))
        f = AM_EXPO_AUTO;
    else
        f = am__expo_format_of(argv[1]);
    FILE *fp = fopen(argv[2], "rb");
    if (!fp) {
        perror(argv[2]);
        return 2;
    }
    am_buf text, line;
    am_buf_init(&text, 0);
    am_buf_init(&line, 0);
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, fp)) > 0)
        am_buf_append(&text, chunk, got);
    fclose(fp);
    size_t n = 0;
    am_err rc = am_buf_err(&text);
    if (!rc)
        rc = am__expo_parse(text.p ? text.p : "", text.len, f, NULL, dump, &line, &n);
    if (rc)
        fprintf(stderr, "expo_dump: %s: %s\n", argv[2], am_errmsg());
    am_buf_free(&text);
    am_buf_free(&line);
    return rc ? 1 : 0;
}
