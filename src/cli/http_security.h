/*
** http_security.h: the options that secure a serving command's HTTP
** endpoint -- TLS and the credentials for reading and for writing --
** shared by `agentmon serve` and `agentmon demo`, so both spell them, read
** them and warn about them the same way.
**
** Credentials come from files (a secret never appears on a command line,
** where ps and shell history would show it): a bearer token file holds the
** token, a password file the password; one trailing newline is dropped,
** and an empty or unreadable file is an error at start. Who may do what:
**
**   configured              reads (GET)                writes (POST, DLQ actions)
**   nothing                 open                       open
**   read only               read credentials           read credentials
**   write only              open                       write credentials
**   both                    read or write credentials  write credentials
**
** (with "read only" one set of credentials guards everything; with "write
** only" Prometheus can scrape without a secret while nobody else writes).
*/
#ifndef AM_CLI_HTTP_SECURITY_H
#define AM_CLI_HTTP_SECURITY_H

#include <stdbool.h>

#include "agentmon/http.h"
#include "args.h"

/* The option rows, to put in a command's cli_opt table. */
/* clang-format off */
#define CLI_HTTP_SECURITY_OPTS \
    {"--tls-cert", true, "PEM certificate: serve HTTPS (with --tls-key)", NULL}, \
    {"--tls-key", true, "PEM private key of --tls-cert", NULL}, \
    {"--read-token-file", true, "a file holding the bearer token that reads need", NULL}, \
    {"--read-user", true, "Basic user that may read (with --read-password-file)", NULL}, \
    {"--read-password-file", true, "a file holding --read-user's password", NULL}, \
    {"--write-token-file", true, "a file holding the bearer token that writes (and reads) need", \
     NULL}, \
    {"--write-user", true, "Basic user that may write (with --write-password-file)", NULL}, \
    {"--write-password-file", true, "a file holding --write-user's password", NULL}, \
    {"--max-connections-per-ip", true, \
     "connections one client address may hold (default 64; 0: no limit, behind a proxy)", NULL}
/* clang-format on */

/* The config-file keys of the same options (without their dashes). */
#define CLI_HTTP_SECURITY_N_OPTS 9

typedef struct cli_http_security {
    const char *tls_cert, *tls_key; /* borrowed from the options */
    char *secrets[4];               /* read token, read password, write token, write password */
    am_http_auth read[4], write[2]; /* chains: read's then write's; write's */
    bool has_read, has_write;
    unsigned max_connections_per_ip; /* am_http_opts': 0 its default */
} cli_http_security;

/*
** Read the options of CLI_HTTP_SECURITY_OPTS from opts (after cli_parse)
** and the files they name. Returns 0, or 2 after printing "cmd: why" to
** stderr (a file that cannot be read or is empty, a user without a
** password file or the reverse, a certificate without its key).
** Free with cli_http_security_free(), also after an error.
*/
int cli_http_security_load(const cli_opt *opts, size_t n_opts, const char *cmd,
                           cli_http_security *out);
void cli_http_security_free(cli_http_security *s);

/* The credentials read routes and write routes require (the table above);
   NULL when they are open. Valid while s is. */
const am_http_auth *cli_http_read_auth(const cli_http_security *s);
const am_http_auth *cli_http_write_auth(const cli_http_security *s);

/* Fill the TLS fields, the per-address limit and the built-in routes'
   credentials of o. */
void cli_http_security_apply(const cli_http_security *s, am_http_opts *o);

/* Warn on stderr when h listens beyond loopback with routes open. */
void cli_http_security_warn(const cli_http_security *s, const char *cmd, const am_http *h);

#endif
