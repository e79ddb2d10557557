/*
** main.c: the agentmon program's entry point and subcommand table.
**
** Each subcommand is a row {name, run, summary} and lives in its own file;
** main() only finds the row and hands over argc/argv from the subcommand
** name on. `agentmon --help` is generated from the table.
*/
#include <stdio.h>
#include <string.h>

#include "agentmon/agentmon.h"
#include "cli.h"

static const am_cli_cmd *const commands[] = {
    &am_cli_cmd_demo,  &am_cli_cmd_dlq, &am_cli_cmd_metrics,  &am_cli_cmd_rules,
    &am_cli_cmd_serve, &am_cli_cmd_shm, &am_cli_cmd_snapshot,
};

static void usage(FILE *out)
{
    fprintf(out, "usage: agentmon [--version] [--help] COMMAND [ARGS]\n\n"
                 "Observability for AI agent orchestration.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(out, "\nRun 'agentmon COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("agentmon %s\n", am_version());
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i]->name) == 0)
            return commands[i]->run(argc - 1, argv + 1);
    fprintf(stderr, "agentmon: unknown command \"%s\"\n\n", argv[1]);
    usage(stderr);
    return 2;
}
