/*
** cmd_rules.c: `agentmon rules check FILE...` and `agentmon rules test
** FILE...`, the counterparts of `promtool check rules` and `promtool test
** rules`: the same file formats, the same output and the same exit codes
** (0 all good, 1 a file was refused or a test failed, 2 bad usage), so a
** rule file and its unit tests give one verdict in both tools. The work is
** in src/alert/ (rulecheck.c, ptest.c).
*/
#include <stdio.h>
#include <string.h>

#include "../alert/alert.h"
#include "cli.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: agentmon rules check FILE...   check Prometheus rule files\n"
                 "       agentmon rules test FILE...    run promtool rule unit-test files\n\n"
                 "Rule files are Prometheus' format (groups of alerting and recording rules);\n"
                 "PromQL outside agentmon's subset is refused with file, line and construct.\n"
                 "Exit status: 0 all good, 1 a file refused or a test failed, 2 bad usage.\n");
}

static int run(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc < 3 || (strcmp(argv[1], "check") != 0 && strcmp(argv[1], "test") != 0)) {
        usage(stderr);
        return 2;
    }
    for (int i = 2; i < argc; i++)
        if (argv[i][0] == '-' && argv[i][1] == '-') {
            fprintf(stderr, "agentmon rules: unknown option %s\n", argv[i]);
            return 2;
        }
    const char *const *files = (const char *const *)(argv + 2);
    size_t n = (size_t)(argc - 2);
    if (strcmp(argv[1], "check") == 0)
        return am_rules_check(files, n, stdout, stderr);
    return am_rules_test(files, n, stdout, stderr);
}

const am_cli_cmd am_cli_cmd_rules = {"rules", run,
                                     "check rule files and run their unit tests (promtool's)"};
