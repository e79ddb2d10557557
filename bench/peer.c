/*
** peer.c: the Python peer -- running bench/peer_python.py and keeping its
** figures for the lines report.c prints.
**
** WHY A PEER
** The issue compares libagentmon with prometheus_client, the client most
** agent code uses. Numbers quoted from elsewhere are context; the ratio is
** only honest when both sides ran on this machine in this run, so the peer
** runs first (alone, before anything of ours is timed) and each of our
** figure lines looks its counterpart up by name.
**
** PROTOCOL
** The peer prints JSON objects, one per line, flat (no nesting):
**     {"peer":"python prometheus_client 0.16.0"}       first, once
**     {"bench":"counter_inc","value":391.2}             one per figure
**     {"error":"No module named 'prometheus_client'"}   and exit 2
** A tiny scanner reads them (no JSON library here): it finds "key": and
** reads a number (strtod) or a string with the escapes the peer can emit.
** When the interpreter or the module is missing, or the peer printed no
** figure, every compared figure says "peer":"unavailable" with the reason,
** and one line {"bench":"peer",...} says it up front.
*/
#define _POSIX_C_SOURCE 200809L /* clock_gettime, readlink, barriers in strict C11 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define MAX_FIGS 64

typedef struct peer_fig {
    char name[64];
    double value;
} peer_fig;

static peer_fig g_figs[MAX_FIGS];
static size_t g_n;
static char g_label[128];
static char g_error[512];
static bool g_ran;

/* ------------------------------------------------------------------ */
/* The scanner                                                         */
/* ------------------------------------------------------------------ */

/* The position just after "key": (spaces skipped), or NULL. */
static const char *after_key(const char *line, const char *key)
{
    size_t kl = strlen(key);
    for (const char *p = strchr(line, '"'); p; p = strchr(p + 1, '"')) {
        if (strncmp(p + 1, key, kl) != 0 || p[1 + kl] != '"')
            continue;
        const char *q = p + 2 + kl;
        while (*q == ' ')
            q++;
        if (*q != ':')
            continue;
        q++;
        while (*q == ' ')
            q++;
        return q;
    }
    return NULL;
}

bool bench_json_number(const char *line, const char *key, double *out)
{
    const char *p = after_key(line, key);
    if (!p)
        return false;
    char *end;
    errno = 0;
    double v = strtod(p, &end);
    if (end == p || errno == ERANGE)
        return false;
    *out = v;
    return true;
}

bool bench_json_string(const char *line, const char *key, char *out, size_t cap)
{
    const char *p = after_key(line, key);
    if (!p || *p != '"' || cap == 0)
        return false;
    size_t n = 0;
    for (p++; *p && *p != '"'; p++) {
        char c = *p;
        if (c == '\\' && p[1]) {
            p++;
            c = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p; /* \" \\ \/ as is */
            if (*p == 'u') {
                c = '?'; /* the peer escapes only control characters */
                for (int k = 0; k < 4 && p[1]; k++)
                    p++;
            }
        }
        if (n + 1 < cap)
            out[n++] = c;
    }
    out[n] = '\0';
    return *p == '"';
}

/* ------------------------------------------------------------------ */
/* Running the peer                                                    */
/* ------------------------------------------------------------------ */

static void set_error(const char *what, const char *detail)
{
    snprintf(g_error, sizeof g_error, "%s%s%s", what, detail ? ": " : "", detail ? detail : "");
}

static void parse_output(char *text)
{
    char msg[400];
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char name[64];
        double v;
        if (bench_json_string(line, "error", msg, sizeof msg)) {
            set_error("peer failed", msg);
        } else if (bench_json_string(line, "peer", g_label, sizeof g_label)) {
            /* the label line */
        } else if (bench_json_string(line, "bench", name, sizeof name) &&
                   bench_json_number(line, "value", &v) && g_n < MAX_FIGS) {
            snprintf(g_figs[g_n].name, sizeof g_figs[g_n].name, "%s", name);
            g_figs[g_n].value = v;
            g_n++;
        }
    }
}

void bench_peer_run(const char *groups)
{
    g_ran = true;
    if (access(g_opts.peer_path, R_OK) != 0) {
        set_error("peer script not found", g_opts.peer_path);
    } else if (access(g_opts.python, X_OK) != 0) {
        set_error("python interpreter not found", g_opts.python);
    } else {
        char *argv[6];
        size_t k = 0;
        argv[k++] = (char *)g_opts.python;
        argv[k++] = (char *)g_opts.peer_path;
        argv[k++] = "--only";
        argv[k++] = (char *)groups;
        if (g_opts.is_quick)
            argv[k++] = "--quick";
        argv[k] = NULL;
        char *out;
        size_t len;
        int status;
        if (bench_run_capture(argv, &out, &len, &status) != 0) {
            set_error("cannot start the peer", strerror(errno));
        } else {
            if (out)
                parse_output(out);
            free(out);
            char st[64];
            if (WIFEXITED(status))
                snprintf(st, sizeof st, "exit status %d", WEXITSTATUS(status));
            else
                snprintf(st, sizeof st, "killed by signal %d",
                         WIFSIGNALED(status) ? WTERMSIG(status) : 0);
            if (!g_error[0] && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
                set_error("peer failed", st);
            if (!g_error[0] && (g_n == 0 || !g_label[0]))
                set_error("peer printed no figures", st);
        }
    }
    if (g_error[0]) {
        g_n = 0;
        printf("{\"bench\":\"peer\",\"peer\":\"unavailable\",\"peer_error\":\"");
        for (const char *p = g_error; *p; p++)
            if (*p == '"' || *p == '\\')
                printf("\\%c", *p);
            else if ((unsigned char)*p >= 0x20)
                putchar(*p);
        printf("\"}\n");
        fflush(stdout);
    }
}

bool bench_peer_value(const char *name, double *out)
{
    for (size_t i = 0; i < g_n; i++) {
        if (strcmp(g_figs[i].name, name) == 0) {
            *out = g_figs[i].value;
            return true;
        }
    }
    return false;
}

const char *bench_peer_label(void)
{
    return g_ran && !g_error[0] && g_label[0] ? g_label : NULL;
}

const char *bench_peer_unavailable(void)
{
    return g_ran && g_error[0] ? g_error : NULL;
}
