/*
** args.c: parsing subcommand options (see args.h).
*/
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentmon/http.h"
#include "args.h"

static void print_usage(FILE *out, const char *usage, const cli_opt *opts, size_t n)
{
    fprintf(out, "usage: %s\n\noptions:\n", usage);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "  %-22s %s\n", opts[i].name, opts[i].help);
    fprintf(out, "  %-22s %s\n", "--help", "show this help");
}

int cli_parse(int argc, char **argv, cli_opt *opts, size_t n_opts, const char **pos, size_t max_pos,
              size_t *n_pos, const char *usage)
{
    *n_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            print_usage(stdout, usage, opts, n_opts);
            return 1;
        }
        if (strncmp(a, "--", 2) == 0) {
            size_t k = 0;
            while (k < n_opts && strcmp(opts[k].name, a) != 0)
                k++;
            if (k == n_opts) {
                fprintf(stderr, "agentmon: unknown option %s\n\n", a);
                print_usage(stderr, usage, opts, n_opts);
                return 2;
            }
            if (opts[k].takes_value) {
                if (i + 1 >= argc) {
                    fprintf(stderr, "agentmon: option %s needs a value\n", a);
                    return 2;
                }
                opts[k].value = argv[++i];
            } else {
                opts[k].value = "";
            }
            continue;
        }
        if (*n_pos == max_pos) {
            fprintf(stderr, "agentmon: unexpected argument \"%s\"\n\n", a);
            print_usage(stderr, usage, opts, n_opts);
            return 2;
        }
        pos[(*n_pos)++] = a;
    }
    return 0;
}

const char *cli_get(const cli_opt *opts, size_t n_opts, const char *name)
{
    for (size_t i = 0; i < n_opts; i++)
        if (strcmp(opts[i].name, name) == 0)
            return opts[i].value;
    return NULL;
}

int cli_number(const cli_opt *opts, size_t n_opts, const char *name, double min, double max,
               double *out)
{
    const char *s = cli_get(opts, n_opts, name);
    if (!s)
        return 0;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !(v >= min && v <= max)) {
        fprintf(stderr, "agentmon: %s \"%s\" is not a number from %g to %g\n", name, s, min, max);
        return 2;
    }
    *out = v;
    return 0;
}

int cli_listen(const cli_opt *opts, size_t n_opts, const char *name, char *host, size_t host_size,
               uint16_t *port)
{
    const char *s = cli_get(opts, n_opts, name);
    if (!s)
        return 0;
    /* HOST:PORT, where HOST may be a bracketed IPv6 address */
    const char *colon = strrchr(s, ':');
    const char *h = s, *h_end = colon;
    if (colon && s[0] == '[' && colon > s && colon[-1] == ']') {
        h = s + 1;
        h_end = colon - 1;
    }
    char *end = NULL;
    unsigned long p = colon ? strtoul(colon + 1, &end, 10) : 0;
    if (!colon || h_end == h || (size_t)(h_end - h) >= host_size || !colon[1] || *end ||
        p > 65535) {
        fprintf(stderr, "agentmon: %s \"%s\" is not HOST:PORT (e.g. " AM_HTTP_DEFAULT_LISTEN ")\n",
                name, s);
        return 2;
    }
    memcpy(host, h, (size_t)(h_end - h));
    host[h_end - h] = '\0';
    *port = (uint16_t)p;
    return 0;
}

size_t cli_all(int argc, char **argv, const char *name, const char **out, size_t max)
{
    size_t n = 0;
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0) {
            if (n < max)
                out[n] = argv[i + 1];
            n++;
            i++;
        }
    return n;
}

volatile sig_atomic_t cli_stop_signal;

static void on_stop_signal(int sig)
{
    cli_stop_signal = sig;
}

void cli_catch_stop_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}
