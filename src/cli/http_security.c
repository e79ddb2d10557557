/*
** http_security.c: TLS and credentials for a serving command (see
** http_security.h). The files are read once at start; am_http copies the
** credentials it is given, and compares them in constant time.
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_security.h"

#define MAX_SECRET 4096

/* The contents of path, without one trailing newline (CRLF too); NULL
   after printing why. */
static char *read_secret(const char *cmd, const char *opt, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: %s %s: %s\n", cmd, opt, path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(MAX_SECRET + 2);
    size_t n = buf ? fread(buf, 1, MAX_SECRET + 1, f) : 0;
    bool failed = !buf || ferror(f);
    fclose(f);
    if (failed) {
        fprintf(stderr, "%s: %s %s: cannot be read\n", cmd, opt, path);
        free(buf);
        return NULL;
    }
    if (n > MAX_SECRET) {
        fprintf(stderr, "%s: %s %s: longer than %d bytes\n", cmd, opt, path, MAX_SECRET);
        free(buf);
        return NULL;
    }
    if (n && buf[n - 1] == '\n')
        n--;
    if (n && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    if (n == 0) {
        fprintf(stderr, "%s: %s %s: the file is empty; an empty secret lets anyone in\n", cmd, opt,
                path);
        free(buf);
        return NULL;
    }
    return buf;
}

/* One side's credentials (token and/or Basic) into chain[0..]; returns
   how many, or -1 after printing why. */
static int side(const cli_opt *opts, size_t n, const char *cmd, const char *which, char **token,
                char **password, am_http_auth *chain)
{
    char tok_opt[40], user_opt[40], pw_opt[40];
    snprintf(tok_opt, sizeof tok_opt, "--%s-token-file", which);
    snprintf(user_opt, sizeof user_opt, "--%s-user", which);
    snprintf(pw_opt, sizeof pw_opt, "--%s-password-file", which);
    const char *tf = cli_get(opts, n, tok_opt), *user = cli_get(opts, n, user_opt),
               *pf = cli_get(opts, n, pw_opt);
    int k = 0;
    if (tf) {
        if (!(*token = read_secret(cmd, tok_opt, tf)))
            return -1;
        chain[k++] = (am_http_auth){.bearer_token = *token};
    }
    if (!user != !pf) {
        fprintf(stderr, "%s: %s and %s go together\n", cmd, user_opt, pw_opt);
        return -1;
    }
    if (user) {
        if (!*user) {
            fprintf(stderr, "%s: %s is empty\n", cmd, user_opt);
            return -1;
        }
        if (!(*password = read_secret(cmd, pw_opt, pf)))
            return -1;
        chain[k++] = (am_http_auth){.basic_user = user, .basic_password = *password};
    }
    return k;
}

int cli_http_security_load(const cli_opt *opts, size_t n, const char *cmd, cli_http_security *s)
{
    memset(s, 0, sizeof *s);
    s->tls_cert = cli_get(opts, n, "--tls-cert");
    s->tls_key = cli_get(opts, n, "--tls-key");
    if (!s->tls_cert != !s->tls_key) {
        fprintf(stderr, "%s: --tls-cert and --tls-key go together\n", cmd);
        return 2;
    }
    int nr = side(opts, n, cmd, "read", &s->secrets[0], &s->secrets[1], s->read);
    if (nr < 0)
        return 2;
    int nw = side(opts, n, cmd, "write", &s->secrets[2], &s->secrets[3], s->write);
    if (nw < 0)
        return 2;
    s->has_read = nr > 0;
    s->has_write = nw > 0;
    double per_ip = -1;
    if (cli_number(opts, n, "--max-connections-per-ip", 0, 1e6, &per_ip))
        return 2;
    if (per_ip == 0)
        s->max_connections_per_ip = AM_HTTP_NO_LIMIT;
    else if (per_ip > 0)
        s->max_connections_per_ip = (unsigned)per_ip;
    /* reads accept the write credentials too: read's chain, then write's */
    for (int i = 0; i < nw; i++)
        s->read[nr + i] = s->write[i];
    for (int i = 0; i + 1 < nr + nw; i++)
        s->read[i].next = &s->read[i + 1];
    for (int i = 0; i + 1 < nw; i++)
        s->write[i].next = &s->write[i + 1];
    return 0;
}

void cli_http_security_free(cli_http_security *s)
{
    for (size_t i = 0; i < sizeof s->secrets / sizeof s->secrets[0]; i++) {
        if (s->secrets[i]) {
            memset(s->secrets[i], 0, strlen(s->secrets[i]));
            free(s->secrets[i]);
        }
        s->secrets[i] = NULL;
    }
}

const am_http_auth *cli_http_read_auth(const cli_http_security *s)
{
    return s->has_read ? &s->read[0] : NULL;
}

const am_http_auth *cli_http_write_auth(const cli_http_security *s)
{
    if (s->has_write)
        return &s->write[0];
    return s->has_read ? &s->read[0] : NULL; /* one set guards everything */
}

void cli_http_security_apply(const cli_http_security *s, am_http_opts *o)
{
    o->tls_cert_file = s->tls_cert;
    o->tls_key_file = s->tls_key;
    o->max_connections_per_ip = s->max_connections_per_ip;
    const am_http_auth *r = cli_http_read_auth(s);
    if (r)
        o->builtin_auth = *r;
}

void cli_http_security_warn(const cli_http_security *s, const char *cmd, const am_http *h)
{
    if (am_http_is_loopback(h))
        return;
    if (!s->has_read && !s->has_write)
        fprintf(stderr,
                "%s: WARNING: listening beyond loopback with no credentials: anyone who can "
                "reach the port can read everything and write events (see docs/SECURITY.md: "
                "--read-token-file, --write-token-file, --tls-cert)\n",
                cmd);
    else if (!s->has_read)
        fprintf(stderr,
                "%s: WARNING: listening beyond loopback with reads open (/metrics and the query "
                "API need no credentials; --read-token-file closes them)\n",
                cmd);
    if (!s->tls_cert)
        fprintf(stderr,
                "%s: WARNING: listening beyond loopback without TLS: credentials and data cross "
                "the network in clear (--tls-cert, --tls-key)\n",
                cmd);
}
