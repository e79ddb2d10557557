/*
** coord_redis.h: the Redis coordinator's insides that are shared between
** its files, its unit tests and its fuzz targets -- the URI parser and the
** parser of the per-agent lengths line the scripts keep. Both are pure
** functions: they read their input, write their output struct and, on an
** error, the thread's am_errmsg(); nothing else.
*/
#ifndef AM_COORD_REDIS_H
#define AM_COORD_REDIS_H

#include <stdbool.h>
#include <stddef.h>

#include "agentmon/coord.h"

#define AM__REDIS_HOST_MAX 255     /* bytes of a host name or address */
#define AM__REDIS_PATH_MAX 107     /* bytes of a unix socket path (sun_path less NUL) */
#define AM__REDIS_USER_MAX 127     /* bytes of an ACL user name, decoded */
#define AM__REDIS_PASSWORD_MAX 255 /* bytes of a password, decoded */
#define AM__REDIS_PREFIX_MAX 64    /* bytes of a key prefix */
#define AM__REDIS_DB_MAX 999999    /* highest database number accepted */
#define AM__REDIS_POOL_MAX 64      /* most connections for operations */
#define AM__REDIS_POOL_DEFAULT 4

/* What a coordinator URI says. Strings are NUL-terminated, "" when absent. */
typedef struct am__redis_uri {
    bool is_unix;                      /* unix://, else redis:// */
    char host[AM__REDIS_HOST_MAX + 1]; /* redis://: a name, IPv4 or IPv6 (no brackets) */
    int port;                          /* redis://: 1..65535, default 6379 */
    char path[AM__REDIS_PATH_MAX + 1]; /* unix://: an absolute socket path */
    char user[AM__REDIS_USER_MAX + 1]; /* ACL user; "" = the default user */
    char password[AM__REDIS_PASSWORD_MAX + 1];
    bool has_password;                     /* AUTH is sent (a password may be "") */
    int db;                                /* SELECT db when not 0 */
    char prefix[AM__REDIS_PREFIX_MAX + 1]; /* every key starts "<prefix>:"; default "ao" */
    int pool;                              /* connections for operations, 1..64 */
} am__redis_uri;

/*
** am__redis_uri_parse: parse a coordinator URI strictly.
**
**   redis://[[user]:password@]host[:port][/db][?prefix=P&pool=N]
**   unix://[[user]:password@]/abs/path.sock[?db=N&prefix=P&pool=N]
**
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
