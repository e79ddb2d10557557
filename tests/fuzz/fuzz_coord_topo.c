/*
** fuzz_coord_topo.c: libFuzzer target -- any bytes as a Redis Cluster's
** answer to CLUSTER SHARDS and to CLUSTER SLOTS, and as a MOVED / ASK
** redirection (src/coord/coord_redis_topo.c): what the coordinator on a
** cluster reads from the network to know which master serves a slot.
**
** INPUT: the bytes are fed to hiredis's own reader (as they would come
** off a socket); each complete reply it makes is given to both topology
** parsers. (Inputs whose headers announce more than 65536 elements or
** bytes are not: hiredis 0.14 allocates what is announced first.) All the
** bytes are also an error reply's text for the redirection parser.
**
** WHAT IT CHECKS
**   Topology. am__redis_topo_shards / _slots return AM_OK or AM_EPROTO
**   (with a message starting "redis cluster topology:") and nothing else.
**   Accepted: at most 256 masters, each with a host of 1..255 printable
**   bytes without a space, NUL-terminated within its array, a port
**   1..65535 and replicas >= 0; every slot names no one or one of them;
**   and parsing the same reply again gives the same map, byte for byte.
**   Redirections. am__redis_redirect_parse returns AM_OK or AM_EPROTO;
**   accepted: the input starts "MOVED " or "ASK " (is_ask saying which),
**   the slot is 0..16383, the port 1..65535, the host printable (or
**   empty) and NUL-terminated.
** A violation prints what was wrong and traps.
*/
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "agentmon/agentmon.h"
#include "coord/coord_redis.h"

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_coord_topo: " __VA_ARGS__);                                      \
            fprintf(stderr, "\n  (errmsg: %s)\n", am_errmsg());                                    \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

static bool host_ok(const char *h, size_t cap, bool empty_ok)
{
    const char *nul = memchr(h, '\0', cap);
    if (!nul || (nul == h && !empty_ok))
        return false;
    for (const char *p = h; p < nul; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
            return false;
    return true;
}

static am__redis_topo g_t, g_again;

/* Whether a RESP header in data announces more than 65536 elements or
   bytes: hiredis 0.14's reader allocates what an array announces before it
   has read it (a server's reply is trusted: it is Redis), which is not what
   is under test here. */
static bool announces_too_much(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < size; i++) {
        if ((data[i] != '*' && data[i] != '$') || (i >= 2 && data[i - 1] != '\n'))
            continue;
        unsigned long long v = 0;
        for (size_t j = i + 1; j < size && data[j] >= '0' && data[j] <= '9' && v < 1000000; j++)
            v = v * 10 + (data[j] - '0');
        if (v > 65536)
            return true;
    }
    return false;
}

static void check_topo(const redisReply *r, bool slots)
{
    am_err rc = slots ? am__redis_topo_slots(r, &g_t) : am__redis_topo_shards(r, &g_t);
    CHECK(rc == AM_OK || rc == AM_EPROTO, "topology parse returned %s", am_err_name(rc));
    if (rc != AM_OK) {
        CHECK(strncmp(am_errmsg(), "redis cluster topology:", 23) == 0, "message");
        return;
    }
    CHECK(g_t.n_masters >= 0 && g_t.n_masters <= AM__REDIS_MASTERS_MAX, "n_masters %d",
          g_t.n_masters);
    for (int i = 0; i < g_t.n_masters; i++)
        CHECK(host_ok(g_t.masters[i].host, sizeof g_t.masters[i].host, false) &&
                  g_t.masters[i].port >= 1 && g_t.masters[i].port <= 65535 &&
                  g_t.masters[i].replicas >= 0,
              "master %d", i);
    for (int s = 0; s < AM__REDIS_SLOTS; s++)
        CHECK(g_t.slot_master[s] <= g_t.n_masters, "slot %d names master %d of %d", s,
              g_t.slot_master[s], g_t.n_masters);
    rc = slots ? am__redis_topo_slots(r, &g_again) : am__redis_topo_shards(r, &g_again);
    CHECK(rc == AM_OK && memcmp(&g_t, &g_again, sizeof g_t) == 0, "not the same twice");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    redisReader *rd = announces_too_much(data, size) ? NULL : redisReaderCreate();
    if (rd && redisReaderFeed(rd, (const char *)data, size) == REDIS_OK) {
        for (int i = 0; i < 4; i++) {
            void *r = NULL;
            if (redisReaderGetReply(rd, &r) != REDIS_OK || !r)
                break;
            check_topo(r, false);
            check_topo(r, true);
            freeReplyObject(r);
        }
    }
    if (rd)
        redisReaderFree(rd);

    bool ask = false;
    int slot = -1, port = -1;
    char host[AM__REDIS_HOST_MAX + 1];
    memset(host, 0x5A, sizeof host);
    am_err rc = am__redis_redirect_parse((const char *)data, size, &ask, &slot, host, &port);
    CHECK(rc == AM_OK || rc == AM_EPROTO, "redirect parse returned %s", am_err_name(rc));
    if (rc == AM_OK) {
        CHECK(size > 4 && memcmp(data, ask ? "ASK " : "MOVED ", ask ? 4 : 6) == 0, "word");
        CHECK(slot >= 0 && slot < AM__REDIS_SLOTS && port >= 1 && port <= 65535, "slot/port");
        CHECK(host_ok(host, sizeof host, true), "host");
    }
    return 0;
}
