/*
** coord_redis.h: the Redis coordinator's insides that are shared between
** its files, its unit tests and its fuzz targets -- the URI parser, the
** parser of the per-agent lengths line the scripts keep, the hash slots
** and buckets keys are placed by (coord_redis_slot.c) and the parsers of
** a Redis Cluster's topology and redirections (coord_redis_topo.c). All
** are pure functions: they read their input, write their output and, on
** an error, the thread's am_errmsg(); nothing else.
*/
#ifndef AM_COORD_REDIS_H
#define AM_COORD_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agentmon/coord.h"

#define AM__REDIS_HOST_MAX 255     /* bytes of a host name or address */
#define AM__REDIS_PATH_MAX 107     /* bytes of a unix socket path (sun_path less NUL) */
#define AM__REDIS_USER_MAX 127     /* bytes of an ACL user name, decoded */
#define AM__REDIS_PASSWORD_MAX 255 /* bytes of a password, decoded */
#define AM__REDIS_PREFIX_MAX 64    /* bytes of a key prefix */
#define AM__REDIS_DB_MAX 999999    /* highest database number accepted */
#define AM__REDIS_POOL_MAX 64      /* most connections for operations */
#define AM__REDIS_POOL_DEFAULT 4
#define AM__REDIS_SEEDS_MAX 16 /* nodes named in a redis+cluster:// URI */

/* A node named in a URI. */
typedef struct am__redis_seed {
    char host[AM__REDIS_HOST_MAX + 1]; /* a name, IPv4 or IPv6 (no brackets) */
    int port;                          /* 1..65535, default 6379 */
} am__redis_seed;

/* What a coordinator URI says. Strings are NUL-terminated, "" when absent. */
typedef struct am__redis_uri {
    bool is_unix;                      /* unix:// */
    bool is_cluster;                   /* redis+cluster:// (Since: 0.3) */
    char host[AM__REDIS_HOST_MAX + 1]; /* redis://: a name, IPv4 or IPv6 (no brackets);
                                          redis+cluster://: the first seed's */
    int port;                          /* redis://: 1..65535, default 6379 */
    char path[AM__REDIS_PATH_MAX + 1]; /* unix://: an absolute socket path */
    char user[AM__REDIS_USER_MAX + 1]; /* ACL user; "" = the default user */
    char password[AM__REDIS_PASSWORD_MAX + 1];
    bool has_password;                     /* AUTH is sent (a password may be "") */
    int db;                                /* SELECT db when not 0 */
    char prefix[AM__REDIS_PREFIX_MAX + 1]; /* every key starts "<prefix>:"; default "ao" */
    int pool;                              /* connections for operations, 1..64 (per node) */
    int n_seeds;                           /* redis+cluster://: 1..16; redis://: 1; unix: 0 */
    am__redis_seed seeds[AM__REDIS_SEEDS_MAX];
} am__redis_uri;

/*
** am__redis_uri_parse: parse a coordinator URI strictly.
**
**   redis://[[user]:password@]host[:port][/db][?prefix=P&pool=N]
**   unix://[[user]:password@]/abs/path.sock[?db=N&prefix=P&pool=N]
**   redis+cluster://[[user]:password@]host[:port][,host[:port]]...[?prefix=P&pool=N]
**
** redis+cluster:// names 1..16 nodes of one Redis Cluster (any of them:
** the coordinator learns the others from CLUSTER SHARDS); it has no
** database (a cluster has only 0) and pool is per node.
** host: a name of letters, digits, '-' and '.', or [IPv6]; port 1..65535
** (default 6379); db 0..999999 (redis: the path, unix: the query); user and
** password percent-decoded (no NUL); prefix 1..64 of [A-Za-z0-9_.-] (no ':',
** so no prefix is a prefix of another's keys), default "ao"; pool 1..64,
** default 4. Every query key at most once; no fragment.
** uri     borrowed, NUL-terminated. out written in full on AM_OK; on an error
**         it is left in an unspecified state.
** Returns AM_OK or AM_EINVAL, with am_errmsg() naming the part at fault (the
** password itself is never quoted). Pure: no allocation, no I/O. Since: 0.1
*/
am_err am__redis_uri_parse(const char *uri, am__redis_uri *out);

/* ------------------------------------------------------------------ */
/* Slots and buckets (coord_redis_slot.c)                              */
/* ------------------------------------------------------------------ */

#define AM__REDIS_SLOTS 16384
#define AM__REDIS_BUCKETS 64 /* an agent's (or id's) bucket: lens:<n>, {<tag>} */
#define AM__REDIS_TAG_MAX 12 /* bytes of a bucket's tag, NUL included */

/* CRC16/XMODEM of s[0..n), Redis Cluster's key hash. Pure. Since: 0.3 */
unsigned am__redis_crc16(const char *s, size_t n);

/* The hash slot of key k[0..n) as Redis Cluster computes it: of the part
   between the first '{' and the next '}' when that is not empty, else of
   the whole key. 0..16383. Pure. Since: 0.3 */
int am__redis_key_slot(const char *k, size_t n);

/* The bucket (0..63) of an agent's or a message id's name, as
   src/coord/lua/common.lua computes it (lens_key). Pure. Since: 0.3 */
int am__redis_bucket(const char *name, size_t n);

/* The same in two steps: the hash of a name's bytes s[0..n) after those
   whose hash is h (0 to start), and the bucket of a whole name's hash. */
uint64_t am__redis_name_hash(uint64_t h, const char *s, size_t n);
int am__redis_hash_bucket(uint64_t h);

/*
** The hash tag of bucket n (0..63) on a Redis Cluster: "<n>.<k>", k the
** smallest number >= 0 whose slot is in [256 n, 256 n + 256), so that the
** 64 buckets are spread evenly over the slots (and over the masters of a
** cluster whose slots are split in ranges, as redis-cli makes them) --
** written to out (AM__REDIS_TAG_MAX bytes). Its slot to *slot if not NULL.
** Pure. Since: 0.3
*/
void am__redis_bucket_tag(int n, char out[AM__REDIS_TAG_MAX], int *slot);

/* ------------------------------------------------------------------ */
/* A cluster's topology and redirections (coord_redis_topo.c)          */
/* ------------------------------------------------------------------ */

#define AM__REDIS_MASTERS_MAX 256 /* masters a topology may name */

/* Who serves which slot, as CLUSTER SHARDS or CLUSTER SLOTS said. */
typedef struct am__redis_topo {
    int n_masters;
    struct {
        char host[AM__REDIS_HOST_MAX + 1]; /* its endpoint (or ip): no brackets */
        int port;
        int replicas; /* online replicas (SHARDS: health "online"; SLOTS: listed) */
    } masters[AM__REDIS_MASTERS_MAX];
    uint16_t slot_master[AM__REDIS_SLOTS]; /* 1 + the index in masters; 0: no one */
} am__redis_topo;

struct redisReply;

/*
** am__redis_topo_shards / am__redis_topo_slots: read the reply of CLUSTER
** SHARDS (Redis >= 7; RESP2: maps as flat arrays of key, value) or of
** CLUSTER SLOTS (Redis >= 3) into t. Per shard (or slot range), the
** master is the node with role "master" (SHARDS: an online one if there
** is one); nodes whose endpoint is unknown ("?", "") use their "ip".
** r borrowed: any reply (a hostile or damaged one too). t written in full
** on AM_OK (slots no one claims: 0).
** Returns AM_OK, or AM_EPROTO naming what does not parse. Pure. Since: 0.3
*/
am_err am__redis_topo_shards(const struct redisReply *r, am__redis_topo *t);
am_err am__redis_topo_slots(const struct redisReply *r, am__redis_topo *t);

/*
** am__redis_redirect_parse: read an error reply "MOVED <slot> <host>:<port>"
** or "ASK <slot> <host>:<port>" (host may be empty: the node asked; an
** IPv6 host is not bracketed: the port follows the last ':').
** s/n borrowed. *is_ask, *slot, host (AM__REDIS_HOST_MAX + 1 bytes) and
** *port written on AM_OK. Returns AM_OK or AM_EPROTO (not a redirection,
** or one that does not parse). Pure. Since: 0.3
*/
am_err am__redis_redirect_parse(const char *s, size_t n, bool *is_ask, int *slot, char *host,
                                int *port);

#define AM__REDIS_LENS_BYTES 56 /* the packed part of a lengths line */

/*
** am__redis_lens_parse: parse an agent's lengths line as the scripts keep
** it in <prefix>:lens:<n> (src/coord/lua/lib_lens.lua): the agent's name
** (printable ASCII, at most AM_COORD_MAX_NAME bytes), one space, then 56
** bytes of struct.pack(">I4I4I4I4I4I4dddd"): the counts q1 q5 q9 delayed
** inflight dlq, big-endian 32-bit; the enqueued_at of each queue's head,
** -1 (none) or -2 (not known yet) or a time in [0, 1e12); and the next
** timer, -1 or a time -- big-endian IEEE doubles. now: Redis's clock;
** each head's age is now - h to the millisecond, 0 for an empty queue,
** -1, -2 or a head in the future.
** line/len borrowed (no NUL needed; any bytes); *agent and *agent_len
** point into it. st written on AM_OK, and *unknown to whether a head is
** -2 (lens_fix.lua looks it up).
** Returns AM_OK or AM_EPROTO naming the field. Pure. Since: 0.2
*/
am_err am__redis_lens_parse(const char *line, size_t len, double now, const char **agent,
                            size_t *agent_len, am_coord_stats *st, bool *unknown);

#endif
