/*
** args.c: parsing subcommand options (see args.h).
*/
#include <stdio.h>
#include <string.h>

#include "args.h"

static void print_usage(FILE *out, const char *usage, const cli_opt *opts, size_t n)
{
    fprintf(out, "usage: %s\n\noptions:\n", usage);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "  %-22s %s\n", opts[i].name, opts[i].help);
    fprintf(out, "  %-22s %s\n", "--help", "show this help");
}

int cli_parse(int argc, char **argv, cli_opt *opts, size_t n_opts, const char **pos,
              size_t max_pos, size_t *n_pos, const char *usage)
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
