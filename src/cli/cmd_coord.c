/*
** cmd_coord.c: `agentmon dlq` and `agentmon snapshot` -- looking at and
** repairing a coordinator from the command line.
**
**   agentmon dlq list   --coordinator URI --agent TYPE:INSTANCE [--max N]
**   agentmon dlq replay --coordinator URI --agent TYPE:INSTANCE [--id ID]
**   agentmon dlq purge  --coordinator URI --agent TYPE:INSTANCE
**   agentmon snapshot   --coordinator URI
**
** Both are meant for a shared (Redis) coordinator: a "memory:" one is empty
** in a new process. `dlq list` prints one JSON object per dead letter;
** `snapshot` prints am_coord_snapshot(), the totals of every process that
** uses the coordinator, and names on stderr each key it could not read
** (the JSON's "errors"), which does not stop it: exit 0.
**
** A dead letter may hold any bytes -- a payload is binary, and a message
** edited by hand in Redis may have a NUL or invalid UTF-8 in any field --
** and `dlq list` still prints valid JSON with every byte: UTF-8 as it is
** (control characters and NUL escaped, \u0000), and each byte that is not
** UTF-8 as the lone surrogate U+DC80+byte, the convention of Python's
** "surrogateescape" (PEP 383), so that
**     e["id"].encode("utf-8", "surrogateescape")
** gives the stored bytes back, and an id printed can be passed to
** `dlq replay --id` as it is.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentmon/agentmon.h"
#include "../util/buf.h"
#include "../util/render.h"
#include "../util/validate.h"
#include "args.h"
#include "cli.h"

static int fail(const char *what)
{
    fprintf(stderr, "agentmon: %s: %s\n", what, am_errmsg());
    return 1;
}

static int open_coord(const char *uri, am_coord **c)
{
    if (!uri) {
        fprintf(stderr, "agentmon: --coordinator URI is required (redis://host:port/db, "
                        "unix:///path.sock or redis+cluster://host:port,host:port)\n");
        return 2;
    }
    am_registry *r;
    am_coord_opts o = AM_COORD_OPTS_INIT;
    if (am_registry_new(&r) != AM_OK)
        return fail("registry");
    o.registry = r; /* the CLI's own, not the default one */
    if (am_coord_open(uri, &o, c) != AM_OK)
        return fail(uri);
    return 0;
}

/* The length of the UTF-8 sequence at s[0..n), or 0 when it is not one. */
static size_t utf8_at(const unsigned char *s, size_t n)
{
    size_t want = s[0] < 0x80                    ? 1
                  : s[0] >= 0xC2 && s[0] <= 0xDF ? 2
                  : s[0] >= 0xE0 && s[0] <= 0xEF ? 3
                  : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4
                                                 : 0;
    return want && want <= n && am__utf8_valid((const char *)s, want, NULL) ? want : 0;
}

/* s[0..n) as a JSON string: UTF-8 as it is (control characters, quote
   and backslash escaped), any other byte as the lone surrogate
   U+DC80+byte (see the top). */
static void json_bytes(am_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    am_buf_putc(b, '"');
    size_t run = 0, i = 0;
    while (i < n) {
        size_t k = utf8_at(u + i, n - i);
        if (k > 1 || (k == 1 && u[i] >= 0x20 && u[i] != '"' && u[i] != '\\')) {
            i += k;
            continue;
        }
        am_buf_append(b, s + run, i - run);
        if (k == 1) {
            am__buf_json_escape(b, u[i]);
        } else {
            char esc[6] = {'\\', 'u', 'd', 'c', hex[u[i] >> 4], hex[u[i] & 15]};
            am_buf_append(b, esc, 6);
        }
        run = ++i;
    }
    am_buf_append(b, s + run, n - run);
    am_buf_putc(b, '"');
}

static void print_entry(const am_coord_dlq_entry *e)
{
    static const char *const keys[AM_DLQ_N] = {
        "{\"id\":", ",\"from\":", ",\"to\":", ",\"type\":", ",\"reason\":", ",\"error\":"};
    const char *const f[AM_DLQ_N] = {e->id, e->from, e->to, e->type, e->reason, e->error};
    am_buf b;
    am_buf_init(&b, 0);
    for (int i = 0; i < AM_DLQ_N; i++) {
        am_buf_puts(&b, keys[i]);
        json_bytes(&b, f[i], e->lens ? e->lens[i] : strlen(f[i]));
    }
    am_buf_printf(&b, ",\"priority\":%d,\"attempts\":%u", e->priority, e->attempts);
    am_buf_printf(&b, ",\"dead_at\":%.3f,\"payload_bytes\":%zu,\"payload\":", e->dead_at, e->len);
    json_bytes(&b, e->payload, e->len);
    am_buf_puts(&b, "}\n");
    if (!am_buf_err(&b))
        fwrite(b.p, 1, b.len, stdout);
    am_buf_free(&b);
}

static int run_dlq(int argc, char **argv)
{
    cli_opt opts[] = {
        {"--coordinator", true, "coordinator URI (redis://..., unix://..., redis+cluster://...)",
         NULL},
        {"--agent", true, "the agent whose dead letters to act on (type:instance)", NULL},
        {"--id", true, "replay: only this message (default: all)", NULL},
        {"--max", true, "list: at most this many (default 1000)", NULL},
    };
    const size_t n_opts = sizeof opts / sizeof opts[0];
    const char *pos[1];
    size_t n_pos;
    int rc = cli_parse(argc, argv, opts, n_opts, pos, 1, &n_pos,
                       "agentmon dlq list|replay|purge --coordinator URI --agent TYPE:INSTANCE");
    if (rc)
        return rc == 1 ? 0 : rc;
    const char *agent = cli_get(opts, n_opts, "--agent");
    if (n_pos != 1 || !agent) {
        fprintf(stderr, "agentmon dlq: say list, replay or purge, and --agent\n");
        return 2;
    }
    am_coord *c;
    if ((rc = open_coord(cli_get(opts, n_opts, "--coordinator"), &c)))
        return rc;
    size_t n = 0;
    if (strcmp(pos[0], "list") == 0) {
        double max = 1000;
        if ((rc = cli_number(opts, n_opts, "--max", 0, 1e9, &max)) == 0) {
            am_coord_dlq_entry *e;
            if (am_coord_dlq_list(c, agent, (size_t)max, &e, &n) != AM_OK) {
                rc = fail("dlq list");
            } else {
                for (size_t i = 0; i < n; i++)
                    print_entry(&e[i]);
                am_coord_dlq_free(e, n);
            }
        }
    } else if (strcmp(pos[0], "replay") == 0) {
        am_err e = am_coord_dlq_replay(c, agent, cli_get(opts, n_opts, "--id"), &n);
        if (e != AM_OK && e != AM_EFULL)
            rc = fail("dlq replay");
        else
            printf("replayed %zu message(s) to %s%s\n", n, agent,
                   e == AM_EFULL ? " (its queue filled up; the rest stay dead-lettered)" : "");
    } else if (strcmp(pos[0], "purge") == 0) {
        if (am_coord_dlq_purge(c, agent, &n) != AM_OK)
            rc = fail("dlq purge");
        else
            printf("purged %zu message(s) from the DLQ of %s\n", n, agent);
    } else {
        fprintf(stderr, "agentmon dlq: unknown action \"%s\" (list, replay, purge)\n", pos[0]);
        rc = 2;
    }
    am_coord_close(c);
    return rc;
}

/* Name on stderr each key the snapshot could not read: its "errors". */
static void report_errors(const char *snap)
{
    const char *p = strstr(snap, ",\"errors\":[");
    if (!p)
        return;
    /* the snapshot writes each entry {"agent":..,"key":..,"error":..} */
    for (p = strstr(p, "{\"agent\":"); p; p = strstr(p + 1, "{\"agent\":")) {
        const char *end = strchr(p, '}');
        if (!end)
            break;
        fprintf(stderr,
                "agentmon: snapshot: a key cannot be read (the other agents are reported): "
                "%.*s\n",
                (int)(end - p + 1), p);
    }
}

static int run_snapshot(int argc, char **argv)
{
    cli_opt opts[] = {
        {"--coordinator", true, "coordinator URI (redis://..., unix://..., redis+cluster://...)",
         NULL},
    };
    const char *pos[1];
    size_t n_pos;
    int rc = cli_parse(argc, argv, opts, 1, pos, 0, &n_pos, "agentmon snapshot --coordinator URI");
    if (rc)
        return rc == 1 ? 0 : rc;
    am_coord *c;
    if ((rc = open_coord(cli_get(opts, 1, "--coordinator"), &c)))
        return rc;
    char *text;
    size_t len;
    if (am_coord_snapshot(c, &text, &len) != AM_OK) {
        rc = fail("snapshot");
    } else {
        fwrite(text, 1, len, stdout);
        report_errors(text);
        am_free(text);
    }
    am_coord_close(c);
    return rc;
}

const am_cli_cmd am_cli_cmd_dlq = {"dlq", run_dlq, "list, replay or purge an agent's dead letters"};
const am_cli_cmd am_cli_cmd_snapshot = {"snapshot", run_snapshot,
                                        "print a coordinator's messaging snapshot (JSON)"};
