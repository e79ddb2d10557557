/*
** fuzz_coord_uri.c: libFuzzer target -- any bytes as a Redis coordinator
** URI (src/coord/coord_redis_parse.c), and the same bytes as one of the
** per-agent lengths lines the scripts keep in <prefix>:lens:<n>.
**
** INPUT: the bytes up to the first NUL are the URI (a C string, as
** am_coord_open gets it). All the bytes are a lengths line (binary: the
** name, a space, 56 packed bytes).
**
** WHAT IT CHECKS
**   URI. am__redis_uri_parse returns AM_OK or AM_EINVAL and nothing else.
**   Refused: the message starts "redis URI:". Accepted: every field keeps
**   its documented range (port 1..65535, db 0..999999, pool 1..64, a prefix
**   of 1..64 [A-Za-z0-9_.-], a unix path that is absolute, host or path
**   set for its scheme, 1..16 nodes of a redis+cluster:// URI each with a
**   host and a port and no database, strings NUL-terminated within their
**   arrays, no NUL inside a password); and the URI written back
**   canonically (every field explicit, user and password percent-encoded)
**   parses to the same fields -- so nothing was read loosely, or lost.
**   Lines. am__redis_lens_parse returns AM_OK or AM_EPROTO; on AM_OK the
**   agent name is a non-empty run of printable bytes at the start of the
**   line, at most AM_COORD_MAX_NAME, followed by a space and exactly 56
**   bytes; every age is finite, >= 0 and 0 for an empty queue; and the
**   line written back by tests/unit/lens_line.h from what the test's own
**   decoder reads is the line again, byte for byte, with "unknown" set
**   exactly when a head is -2.
** A violation prints what was wrong and traps.
*/
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentmon/agentmon.h"
#include "coord/coord_redis.h"
#include "../unit/lens_line.h"

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_coord_uri: " __VA_ARGS__);                                       \
            fprintf(stderr, "\n  (errmsg: %s)\n", am_errmsg());                                    \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

static bool terminated(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

static bool prefix_ok(const char *p)
{
    size_t n = strlen(p);
    if (n < 1 || n > AM__REDIS_PREFIX_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return false;
    }
    return true;
}

/* Percent-encode everything but unreserved characters. */
static void pct(char *out, size_t cap, const char *s)
{
    size_t o = 0;
    for (; *s && o + 4 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            out[o++] = (char)c;
        } else {
            snprintf(out + o, cap - o, "%%%02X", c);
            o += 3;
        }
    }
    out[o] = '\0';
}

static void check_uri(const char *uri)
{
    am__redis_uri u;
    memset(&u, 0x5A, sizeof u);
    am_err rc = am__redis_uri_parse(uri, &u);
    CHECK(rc == AM_OK || rc == AM_EINVAL, "parse returned %s", am_err_name(rc));
    if (rc != AM_OK) {
        CHECK(strncmp(am_errmsg(), "redis URI:", 10) == 0, "message does not say what failed");
        return;
    }
    CHECK(terminated(u.host, sizeof u.host) && terminated(u.path, sizeof u.path) &&
              terminated(u.user, sizeof u.user) && terminated(u.password, sizeof u.password) &&
              terminated(u.prefix, sizeof u.prefix),
          "a string field is not terminated");
    CHECK(u.port >= 1 && u.port <= 65535, "port %d", u.port);
    CHECK(u.db >= 0 && u.db <= AM__REDIS_DB_MAX, "db %d", u.db);
    CHECK(u.pool >= 1 && u.pool <= AM__REDIS_POOL_MAX, "pool %d", u.pool);
    CHECK(prefix_ok(u.prefix), "prefix \"%s\"", u.prefix);
    if (u.is_unix)
        CHECK(u.path[0] == '/' && !u.host[0] && strncmp(uri, "unix://", 7) == 0 && !u.n_seeds &&
                  !u.is_cluster,
              "unix fields");
    else if (u.is_cluster)
        CHECK(u.host[0] && !u.path[0] && strncmp(uri, "redis+cluster://", 16) == 0 &&
                  u.n_seeds >= 1 && u.n_seeds <= AM__REDIS_SEEDS_MAX && u.db == 0 &&
                  strcmp(u.host, u.seeds[0].host) == 0 && u.port == u.seeds[0].port,
              "cluster fields");
    else
        CHECK(u.host[0] && !u.path[0] && strncmp(uri, "redis://", 8) == 0 && u.n_seeds == 1 &&
                  strcmp(u.host, u.seeds[0].host) == 0 && u.port == u.seeds[0].port,
              "redis fields");
    for (int i = 0; i < u.n_seeds && i < AM__REDIS_SEEDS_MAX; i++)
        CHECK(terminated(u.seeds[i].host, sizeof u.seeds[i].host) && u.seeds[i].host[0] &&
                  u.seeds[i].port >= 1 && u.seeds[i].port <= 65535,
              "seed %d", i);
    CHECK(u.has_password || (!u.user[0] && !u.password[0]), "a user without a password");

    /* Write it back with every field explicit and parse that. */
    char user[3 * AM__REDIS_USER_MAX + 8], pw[3 * AM__REDIS_PASSWORD_MAX + 8], auth[1300];
    pct(user, sizeof user, u.user);
    pct(pw, sizeof pw, u.password);
    snprintf(auth, sizeof auth, "%s%s%s%s", u.has_password ? user : "", u.has_password ? ":" : "",
             u.has_password ? pw : "", u.has_password ? "@" : "");
    char again[8192];
    if (u.is_cluster) {
        int w = snprintf(again, sizeof again, "redis+cluster://%s", auth);
        for (int i = 0; i < u.n_seeds; i++)
            w += snprintf(again + w, sizeof again - (size_t)w,
                          strchr(u.seeds[i].host, ':') ? "%s[%s]:%d" : "%s%s:%d", i ? "," : "",
                          u.seeds[i].host, u.seeds[i].port);
        snprintf(again + w, sizeof again - (size_t)w, "?prefix=%s&pool=%d", u.prefix, u.pool);
    } else if (u.is_unix)
        snprintf(again, sizeof again, "unix://%s%s?db=%d&prefix=%s&pool=%d", auth, u.path, u.db,
                 u.prefix, u.pool);
    else if (strchr(u.host, ':'))
        snprintf(again, sizeof again, "redis://%s[%s]:%d/%d?pool=%d&prefix=%s", auth, u.host,
                 u.port, u.db, u.pool, u.prefix);
    else
        snprintf(again, sizeof again, "redis://%s%s:%d/%d?prefix=%s&pool=%d", auth, u.host, u.port,
                 u.db, u.prefix, u.pool);
    am__redis_uri v;
    CHECK(am__redis_uri_parse(again, &v) == AM_OK, "canonical form \"%s\" refused", again);
    bool same_seeds = v.n_seeds == u.n_seeds && v.is_cluster == u.is_cluster;
    for (int i = 0; same_seeds && i < u.n_seeds; i++)
        same_seeds =
            v.seeds[i].port == u.seeds[i].port && strcmp(v.seeds[i].host, u.seeds[i].host) == 0;
    CHECK(same_seeds && v.is_unix == u.is_unix && v.port == u.port && v.db == u.db &&
              v.pool == u.pool && v.has_password == u.has_password && strcmp(v.host, u.host) == 0 &&
              strcmp(v.path, u.path) == 0 && strcmp(v.user, u.user) == 0 &&
              strcmp(v.password, u.password) == 0 && strcmp(v.prefix, u.prefix) == 0,
          "\"%s\" does not round-trip through \"%s\"", uri, again);
}

static void check_line(const char *s, size_t n)
{
    am_coord_stats st;
    bool unknown = false;
    const char *agent = NULL;
    size_t alen = 0;
    am_err rc = am__redis_lens_parse(s, n, 1e9, &agent, &alen, &st, &unknown);
    CHECK(rc == AM_OK || rc == AM_EPROTO, "lens parse returned %s", am_err_name(rc));
    if (rc != AM_OK)
        return;
    CHECK(agent == s && alen > 0 && alen <= AM_COORD_MAX_NAME && n == alen + 1 + LL_BYTES &&
              s[alen] == ' ',
          "agent span");
    for (size_t i = 0; i < alen; i++)
        CHECK((unsigned char)agent[i] > 0x20 && (unsigned char)agent[i] < 0x7f, "agent byte");
    for (int p = 0; p < 3; p++) {
        CHECK(st.oldest_age_s[p] >= 0 && st.oldest_age_s[p] < 1e12, "age %g", st.oldest_age_s[p]);
        CHECK(st.queued[p] || st.oldest_age_s[p] == 0, "an empty queue has an age");
    }
    char name[AM_COORD_MAX_NAME + 1], back[AM_COORD_MAX_NAME + 2 + LL_BYTES];
    ll_line l;
    CHECK(ll_decode(s, n, name, &l), "the test's decoder refuses what the parser took");
    size_t *counts[6] = {&st.queued[0], &st.queued[1], &st.queued[2],
                         &st.delayed,   &st.inflight,  &st.dlq};
    for (int i = 0; i < 6; i++)
        CHECK(*counts[i] == l.counts[i], "count %d", i);
    CHECK(unknown == (l.heads[0] == -2 || l.heads[1] == -2 || l.heads[2] == -2), "unknown");
    size_t w = ll_encode(back, name, &l);
    CHECK(w == n && memcmp(back, s, n) == 0, "the line does not round-trip");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *uri = malloc(size + 1);
    if (!uri)
        return 0;
    memcpy(uri, data, size);
    uri[size] = '\0';
    check_uri(uri);
    free(uri);

    check_line((const char *)data, size);
    return 0;
}
