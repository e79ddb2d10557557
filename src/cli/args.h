/*
** args.h: the small option parser every subcommand shares.
**
** Options are "--name VALUE" or "--flag"; anything else is positional.
** A subcommand lists what it accepts in a table; the parser refuses the
** rest with a message naming the option, so every command's errors read
** the same.
*/
#ifndef AM_CLI_ARGS_H
#define AM_CLI_ARGS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cli_opt {
    const char *name; /* "--coordinator" */
    bool takes_value;
    const char *help;  /* one line for --help */
    const char *value; /* set by cli_parse: the value, or "" for a flag given */
} cli_opt;

/*
** Parse argv[1..argc) against opts; positionals go to pos (at most
** max_pos). Returns 0, 1 when --help was asked (usage printed to stdout),
** or 2 after printing an error to stderr.
*/
int cli_parse(int argc, char **argv, cli_opt *opts, size_t n_opts, const char **pos, size_t max_pos,
              size_t *n_pos, const char *usage);

/* The value of option name, or NULL when not given. */
const char *cli_get(const cli_opt *opts, size_t n_opts, const char *name);

/*
** When option name was given, parse it as a number within [min, max] into
** *out; otherwise leave *out. Returns 0, or 2 after printing an error.
*/
int cli_number(const cli_opt *opts, size_t n_opts, const char *name, double min, double max,
               double *out);

/*
** When option name was given, split it as HOST:PORT ([v6]:PORT too) into
** host and *port; otherwise leave them. Returns 0, or 2 after an error.
*/
int cli_listen(const cli_opt *opts, size_t n_opts, const char *name, char *host, size_t host_size,
               uint16_t *port);

/*
** Every value of an option that may be repeated (--scrape A --scrape B),
** in order, after cli_parse() accepted argv: fills out[0..max) and returns
** how many there are (may exceed max).
*/
size_t cli_all(int argc, char **argv, const char *name, const char **out, size_t max);

/*
** The signal number of the first SIGINT or SIGTERM since
** cli_catch_stop_signals(), or 0: commands that run until stopped poll it,
** and stop cleanly instead of dying.
*/
extern volatile sig_atomic_t cli_stop_signal;
void cli_catch_stop_signals(void);

#endif
