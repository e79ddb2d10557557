/*
** cli.h: the shape of an agentmon subcommand.
**
** run() gets argv with argv[0] = the subcommand name and returns the exit
** status: 0 success, 1 failure, 2 bad usage.
*/
#ifndef AM_CLI_H
#define AM_CLI_H

typedef struct am_cli_cmd {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} am_cli_cmd;

extern const am_cli_cmd am_cli_cmd_demo;
extern const am_cli_cmd am_cli_cmd_dlq;
extern const am_cli_cmd am_cli_cmd_metrics;
extern const am_cli_cmd am_cli_cmd_rules;
extern const am_cli_cmd am_cli_cmd_serve;
extern const am_cli_cmd am_cli_cmd_shm;
extern const am_cli_cmd am_cli_cmd_snapshot;

#endif
