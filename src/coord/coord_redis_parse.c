/*
** coord_redis_parse.c: the two small parsers of the Redis coordinator --
** its URI, and the per-agent lengths line that each_agent.lua returns.
**
** DESIGN
** Both are pure functions over bytes, so that the unit test can hold them
** to a table of bad inputs and a libFuzzer target can run them without a
** server. They are strict on purpose: a coordinator URI names where
** messages live, and a typo that silently fell back to a default (another
** database, another prefix) would split one queue into two. So every part
** is checked against a small grammar, nothing unknown is ignored, and the
** error says which part is wrong. The password is never echoed into an
** error message, which may end up in a log.
**
** The URI grammar (see coord_redis.h) follows RFC 3986 where it applies:
** userinfo is percent-decoded, an IPv6 host is written in brackets, the
** query is key=value pairs joined by '&'. What it adds: the database of a
** TCP URI is its path ("/2"), that of a unix socket URI a query parameter
** (the path is the socket's); the key prefix must not contain ':' so that
** no two prefixes can name the same keys. A redis+cluster:// URI names
** several nodes joined by ',' (as most cluster clients write it; the
** authority of RFC 3986 has one host, so this is our extension) and no
** database.
**
** The lengths line is what the scripts keep for each agent in the hashes
** <prefix>:lens:<n> (lib_lens.lua), and what a snapshot reads for every
** agent: its name, a space, then 56 bytes that Lua's struct.pack wrote --
** six big-endian 32-bit counts, and four big-endian doubles: the
** enqueued_at of each queue's head (-1 none, -2 not known yet) and the
** next timer (-1 none). Agent names never contain a space (coord.c
** refuses them), so the first space ends the name. Anyone with access to
** Redis can write that hash, so the line is read as strictly as the URI: a
** line that does not parse is
** recounted from the keys, never guessed at.
**
** Threading: none; both functions only touch their arguments and the
** calling thread's error message. Ownership: nothing is allocated.
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../util/error.h"
#include "../util/validate.h"
#include "coord_redis.h"

/* ------------------------------------------------------------------ */
/* URI                                                                 */
/* ------------------------------------------------------------------ */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alnum(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* RFC 3986 unreserved and sub-delims: what userinfo may hold unencoded
   (':' is handled by the caller). */
static bool is_userinfo_char(char c)
{
    return is_alnum(c) || strchr("-._~!$&'()*+,;=", c) != NULL;
}

/*
** Decode the percent-encoded userinfo part s[0..n) into out (cap bytes,
** NUL included). what names the part for the error ("user", "password").
*/
static am_err decode_userinfo(const char *s, size_t n, char *out, size_t cap, const char *what)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= n || am__hexval(s[i + 1]) < 0 || am__hexval(s[i + 2]) < 0)
                return am__err(AM_EINVAL,
                               "redis URI: a %% in the %s is not followed by two hex "
                               "digits",
                               what);
            c = (char)(am__hexval(s[i + 1]) * 16 + am__hexval(s[i + 2]));
            if (c == '\0')
                return am__err(AM_EINVAL, "redis URI: the %s contains %%00 (a NUL byte)", what);
            i += 2;
        } else if (!is_userinfo_char(c) && !(c == ':' && strcmp(what, "password") == 0)) {
            return am__err(AM_EINVAL,
                           "redis URI: the %s has a character that must be "
                           "percent-encoded (%%XX)",
                           what);
        }
        if (o + 1 >= cap)
            return am__err(AM_EINVAL, "redis URI: the %s is longer than %zu bytes", what, cap - 1);
        out[o++] = c;
    }
    out[o] = '\0';
    return AM_OK;
}

/* An unsigned decimal of 1..max_digits digits and at most max; -1 if not. */
static long parse_uint(const char *s, size_t n, size_t max_digits, long max)
{
    if (n == 0 || n > max_digits)
        return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v <= max ? v : -1;
}

static am_err parse_userinfo(const char *s, size_t n, am__redis_uri *u)
{
    const char *colon = memchr(s, ':', n);
    if (!colon)
        return am__err(AM_EINVAL, "redis URI: the part before '@' must be \"[user]:password\"");
    size_t un = (size_t)(colon - s);
    am_err rc = decode_userinfo(s, un, u->user, sizeof u->user, "user");
    if (rc)
        return rc;
    rc = decode_userinfo(colon + 1, n - un - 1, u->password, sizeof u->password, "password");
    if (rc)
        return rc;
    u->has_password = true;
    return AM_OK;
}

/* host[:port] of a redis:// URI (or of one node of a redis+cluster://
   URI) into seed; the port stays the default when absent. */
static am_err parse_hostport(const char *s, size_t n, am__redis_seed *seed)
{
    const char *port = NULL;
    size_t hn;
    if (n && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close)
            return am__err(AM_EINVAL, "redis URI: an IPv6 host opened with '[' is not closed");
        hn = (size_t)(close - s) - 1;
        if (hn < 2 || hn > 45 || !memchr(s + 1, ':', hn))
            return am__err(AM_EINVAL, "redis URI: the IPv6 host is not 2..45 characters with a "
                                      "':'");
        for (size_t i = 1; i <= hn; i++)
            if (am__hexval(s[i]) < 0 && s[i] != ':' && s[i] != '.')
                return am__err(AM_EINVAL, "redis URI: the IPv6 host has a character other than "
                                          "hex digits, ':' and '.'");
        memcpy(seed->host, s + 1, hn);
        seed->host[hn] = '\0';
        size_t used = hn + 2;
        if (used < n) {
            if (s[used] != ':')
                return am__err(AM_EINVAL, "redis URI: ']' must be followed by ':port' or the end "
                                          "of the host");
            port = s + used + 1;
        }
    } else {
        const char *colon = memchr(s, ':', n);
        hn = colon ? (size_t)(colon - s) : n;
        if (hn == 0)
            return am__err(AM_EINVAL, "redis URI: the host is empty");
        if (hn > AM__REDIS_HOST_MAX)
            return am__err(AM_EINVAL, "redis URI: the host is longer than %d bytes",
                           AM__REDIS_HOST_MAX);
        for (size_t i = 0; i < hn; i++)
            if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '.')
                return am__err(AM_EINVAL,
                               "redis URI: the host \"%.*s\" has a character other "
                               "than letters, digits, '-' and '.'",
                               (int)(hn < 64 ? hn : 64), s);
        if (s[0] == '-' || s[0] == '.')
            return am__err(AM_EINVAL, "redis URI: the host \"%.*s\" starts with '%c'",
                           (int)(hn < 64 ? hn : 64), s, s[0]);
        memcpy(seed->host, s, hn);
        seed->host[hn] = '\0';
        if (colon)
            port = colon + 1;
    }
    if (port) {
        size_t pn = (size_t)(s + n - port);
        long p = parse_uint(port, pn, 5, 65535);
        if (p < 1)
            return am__err(AM_EINVAL, "redis URI: the port \"%.*s\" is not a number 1..65535",
                           (int)(pn < 16 ? pn : 16), port);
        seed->port = (int)p;
    }
    return AM_OK;
}

/* The nodes of a redis+cluster:// URI: host[:port] joined by ','. */
static am_err parse_seeds(const char *s, size_t n, am__redis_uri *u)
{
    if (n && s[n - 1] == '/')
        return am__err(AM_EINVAL, "redis URI: a redis+cluster:// URI has no database (a cluster "
                                  "has only database 0): nothing may follow the nodes but "
                                  "?parameters");
    size_t start = 0;
    for (;;) {
        const char *comma = memchr(s + start, ',', n - start);
        size_t end = comma ? (size_t)(comma - s) : n;
        if (end == start)
            return am__err(AM_EINVAL, "redis URI: an empty node in the list (\",,\", or ',' at "
                                      "an end)");
        if (u->n_seeds == AM__REDIS_SEEDS_MAX)
            return am__err(AM_EINVAL, "redis URI: more than %d nodes", AM__REDIS_SEEDS_MAX);
        am__redis_seed *seed = &u->seeds[u->n_seeds++];
        seed->port = 6379;
        if (memchr(s + start, '/', end - start))
            return am__err(AM_EINVAL, "redis URI: a redis+cluster:// URI has no database (a "
                                      "cluster has only database 0): nothing may follow the "
                                      "nodes but ?parameters");
        am_err rc = parse_hostport(s + start, end - start, seed);
        if (rc)
            return rc;
        if (!comma)
            return AM_OK;
        start = end + 1;
    }
}

static am_err parse_query(const char *s, size_t n, am__redis_uri *u)
{
    if (n == 0)
        return am__err(AM_EINVAL, "redis URI: '?' is followed by no parameter");
    bool seen_prefix = false, seen_pool = false, seen_db = false;
    size_t start = 0;
    while (start <= n) {
        const char *amp = memchr(s + start, '&', n - start);
        size_t end = amp ? (size_t)(amp - s) : n;
        const char *kv = s + start;
        size_t kvn = end - start;
        const char *eq = memchr(kv, '=', kvn);
        if (kvn == 0)
            return am__err(AM_EINVAL, "redis URI: an empty parameter (\"&&\", or '&' at an end)");
        if (!eq)
            return am__err(AM_EINVAL, "redis URI: parameter \"%.*s\" has no '=value'",
                           (int)(kvn < 32 ? kvn : 32), kv);
        size_t kn = (size_t)(eq - kv), vn = kvn - kn - 1;
        const char *v = eq + 1;
        bool *seen;
        if (kn == 6 && memcmp(kv, "prefix", 6) == 0)
            seen = &seen_prefix;
        else if (kn == 4 && memcmp(kv, "pool", 4) == 0)
            seen = &seen_pool;
        else if (kn == 2 && memcmp(kv, "db", 2) == 0 && u->is_unix)
            seen = &seen_db;
        else if (kn == 2 && memcmp(kv, "db", 2) == 0 && u->is_cluster)
            return am__err(AM_EINVAL, "redis URI: a redis+cluster:// URI has no database (a "
                                      "cluster has only database 0), so no ?db=");
        else if (kn == 2 && memcmp(kv, "db", 2) == 0)
            return am__err(AM_EINVAL, "redis URI: the database of a redis:// URI is its path "
                                      "(redis://host:port/N), not ?db=");
        else
            return am__err(AM_EINVAL,
                           "redis URI: unknown parameter \"%.*s\" (known: prefix, "
                           "pool, and db for unix://)",
                           (int)(kn < 32 ? kn : 32), kv);
        if (*seen)
            return am__err(AM_EINVAL, "redis URI: parameter \"%.*s\" is given twice", (int)kn, kv);
        *seen = true;
        if (vn == 0)
            return am__err(AM_EINVAL, "redis URI: parameter \"%.*s\" has an empty value", (int)kn,
                           kv);
        if (seen == &seen_prefix) {
            if (vn > AM__REDIS_PREFIX_MAX)
                return am__err(AM_EINVAL, "redis URI: the prefix is longer than %d bytes",
                               AM__REDIS_PREFIX_MAX);
            for (size_t i = 0; i < vn; i++)
                if (!is_alnum(v[i]) && v[i] != '_' && v[i] != '-' && v[i] != '.')
                    return am__err(AM_EINVAL,
                                   "redis URI: the prefix \"%.*s\" has a character "
                                   "other than letters, digits, '_', '-' and '.'",
                                   (int)(vn < 64 ? vn : 64), v);
            memcpy(u->prefix, v, vn);
            u->prefix[vn] = '\0';
        } else if (seen == &seen_pool) {
            long p = parse_uint(v, vn, 2, AM__REDIS_POOL_MAX);
            if (p < 1)
                return am__err(AM_EINVAL, "redis URI: pool \"%.*s\" is not a number 1..%d",
                               (int)(vn < 16 ? vn : 16), v, AM__REDIS_POOL_MAX);
            u->pool = (int)p;
        } else {
            long d = parse_uint(v, vn, 6, AM__REDIS_DB_MAX);
            if (d < 0)
                return am__err(AM_EINVAL, "redis URI: db \"%.*s\" is not a number 0..%d",
                               (int)(vn < 16 ? vn : 16), v, AM__REDIS_DB_MAX);
            u->db = (int)d;
        }
        start = end + 1;
        if (!amp)
            break;
    }
    return AM_OK;
}

am_err am__redis_uri_parse(const char *uri, am__redis_uri *u)
{
    if (!uri || !u)
        return am__err(AM_EINVAL, "redis URI: NULL");
    memset(u, 0, sizeof *u);
    u->port = 6379;
    u->pool = AM__REDIS_POOL_DEFAULT;
    memcpy(u->prefix, "ao", 3);
    const char *s;
    if (strncmp(uri, "redis://", 8) == 0) {
        s = uri + 8;
    } else if (strncmp(uri, "unix://", 7) == 0) {
        s = uri + 7;
        u->is_unix = true;
    } else if (strncmp(uri, "redis+cluster://", 16) == 0) {
        s = uri + 16;
        u->is_cluster = true;
    } else {
        return am__err(AM_EINVAL,
                       "redis URI: does not start with redis://, unix:// or redis+cluster://");
    }
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f)
            return am__err(AM_EINVAL,
                           "redis URI: has a space, control or non-ASCII byte at "
                           "offset %zu",
                           (size_t)(s - uri) + i);
    }
    if (memchr(s, '#', n))
        return am__err(AM_EINVAL, "redis URI: has a fragment ('#'); a '#' in the password must "
                                  "be written %%23");
    const char *q = memchr(s, '?', n);
    size_t main_n = q ? (size_t)(q - s) : n;

    /* [userinfo@] */
    const char *first_slash = memchr(s, '/', main_n);
    size_t auth_n = first_slash ? (size_t)(first_slash - s) : main_n;
    const char *at = memchr(s, '@', auth_n);
    if (at) {
        if (memchr(at + 1, '@', auth_n - (size_t)(at - s) - 1))
            return am__err(AM_EINVAL, "redis URI: more than one '@'; a '@' in the password "
                                      "must be written %%40");
        am_err rc = parse_userinfo(s, (size_t)(at - s), u);
        if (rc)
            return rc;
    }
    const char *rest = at ? at + 1 : s;
    size_t rest_n = main_n - (size_t)(rest - s);

    if (u->is_unix) {
        if (rest_n == 0 || rest[0] != '/')
            return am__err(AM_EINVAL, "redis URI: a unix:// URI needs an absolute socket path "
                                      "(unix:///path/to.sock)");
        if (rest_n > AM__REDIS_PATH_MAX)
            return am__err(AM_EINVAL, "redis URI: the socket path is longer than %d bytes",
                           AM__REDIS_PATH_MAX);
        if (memchr(rest, '%', rest_n))
            return am__err(AM_EINVAL, "redis URI: percent-encoding is not supported in a socket "
                                      "path");
        if (rest_n == 1 || rest[rest_n - 1] == '/')
            return am__err(AM_EINVAL, "redis URI: the socket path names a directory");
        memcpy(u->path, rest, rest_n);
        u->path[rest_n] = '\0';
    } else if (u->is_cluster) {
        am_err rc = parse_seeds(rest, rest_n, u);
        if (rc)
            return rc;
        memcpy(u->host, u->seeds[0].host, sizeof u->host);
        u->port = u->seeds[0].port;
    } else {
        const char *slash = memchr(rest, '/', rest_n);
        size_t hp_n = slash ? (size_t)(slash - rest) : rest_n;
        u->n_seeds = 1;
        u->seeds[0].port = 6379;
        am_err rc = parse_hostport(rest, hp_n, &u->seeds[0]);
        if (rc)
            return rc;
        memcpy(u->host, u->seeds[0].host, sizeof u->host);
        u->port = u->seeds[0].port;
        if (slash) {
            const char *db = slash + 1;
            size_t dn = rest_n - hp_n - 1;
            if (dn > 0) {
                long d = parse_uint(db, dn, 6, AM__REDIS_DB_MAX);
                if (d < 0)
                    return am__err(AM_EINVAL,
                                   "redis URI: the path \"/%.*s\" is not a database "
                                   "number 0..%d",
                                   (int)(dn < 32 ? dn : 32), db, AM__REDIS_DB_MAX);
                u->db = (int)d;
            }
        }
    }
    if (q)
        return parse_query(q + 1, n - main_n - 1, u);
    return AM_OK;
}

/* ------------------------------------------------------------------ */
/* Lengths line                                                        */
/* ------------------------------------------------------------------ */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static double be_double(const unsigned char *p)
{
    uint64_t u = (uint64_t)be32(p) << 32 | be32(p + 4);
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* A head's or next's time as packed: -1 (none), -2 (not known: heads
   only) or a time in [0, 1e12). NaN fails every comparison. */
static bool is_time_field(double x, bool unknown_ok)
{
    return x == -1 || (unknown_ok && x == -2) || (x >= 0 && x < 1e12);
}

am_err am__redis_lens_parse(const char *line, size_t len, double now, const char **agent,
                            size_t *agent_len, am_coord_stats *st, bool *unknown)
{
    static const char *const names[4] = {"h1", "h5", "h9", "next"};
    size_t look = len < AM_COORD_MAX_NAME + 1 ? len : AM_COORD_MAX_NAME + 1;
    const char *sp = memchr(line, ' ', look);
    if (!sp || sp == line)
        return am__err(AM_EPROTO, "redis reply: a lengths line has no agent name");
    size_t n = (size_t)(sp - line);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)line[i] <= 0x20 || (unsigned char)line[i] >= 0x7f)
            return am__err(AM_EPROTO, "redis reply: an agent name has a control or non-ASCII "
                                      "byte");
    *agent = line;
    *agent_len = n;
    if (len - n - 1 != AM__REDIS_LENS_BYTES)
        return am__err(AM_EPROTO,
                       "redis reply: the lengths of agent \"%.*s\" are %zu bytes, not %d",
                       (int)(n < 64 ? n : 64), line, len - n - 1, AM__REDIS_LENS_BYTES);
    const unsigned char *p = (const unsigned char *)sp + 1;
    am_coord_stats s;
    memset(&s, 0, sizeof s);
    size_t *counts[6] = {&s.queued[0], &s.queued[1], &s.queued[2], &s.delayed, &s.inflight, &s.dlq};
    for (int i = 0; i < 6; i++)
        *counts[i] = be32(p + 4 * i);
    bool unk = false;
    for (int i = 0; i < 4; i++) {
        double t = be_double(p + 24 + 8 * i);
        if (!is_time_field(t, i < 3))
            return am__err(AM_EPROTO, "redis reply: field %s of agent \"%.*s\" is not a time",
                           names[i], (int)(n < 64 ? n : 64), line);
        if (i < 3) {
            unk = unk || t == -2;
            /* milliseconds are precision enough for an age */
            double age = t >= 0 && s.queued[i] ? round((now - t) * 1e3) / 1e3 : 0;
            s.oldest_age_s[i] = age > 0 && age < 1e12 ? age : 0;
        }
    }
    *st = s;
    *unknown = unk;
    return AM_OK;
}
