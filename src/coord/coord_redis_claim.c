/*
** coord_redis_claim.c: message ids that stay unique across a Redis
** Cluster, whose scripts each see one slot.
**
** DESIGN
** The coordinator refuses a send whose id is in use (AM_EEXIST), across
** every agent: that is what makes a send safe to repeat after a lost
** reply. On a standalone server the message hash <prefix>:m:<id> is the
** proof, read by send.lua. On a cluster a message lives in its agent's
** slot (with its queue), so no script can see whether another agent holds
** the id. So an id is first claimed in the slot of its own bucket, in the
** hash <prefix>:{<tag>}:ids, the field being the id and the value
**   "<agent>\t<nonce>\t<unix ms>"
** -- the agent it was sent to, a value no other claim has (this process's
** id and a counter) and when it was claimed or last reused -- and the
** claim travels with the message (its hash's "claim" field) so that
** whoever deletes the message (ack, DLQ purge) can release it.
**
** A send claims with HSETNX, then runs send.lua in the agent's slot --
** or, when the id's bucket is the agent's (1 in 64 ids chosen by the
** caller; every id the coordinator generates, as it chooses them so) or
** is served by the agent's master too (about a third of the rest on three
** masters: am__redis_near, by the map), send.lua claims it itself, in the
** same atomic step, and ack.lua releases it. For a bucket of its own those
** scripts reach the one key of a second slot (its ids hash) with Redis's
** allow-cross-slot-keys flag, first of all: a master that does not serve
** that slot (the map was stale: the slot moved) refuses the script there,
** before anything ran, and the send (or the ack) takes the long way. When
** the id is claimed already (HGET says by whom):
**   - for the same agent: the claim is reused (its time refreshed, its
**     nonce kept; compare-and-set) and send.lua decides, as on one
**     server: the message is there (AM_EEXIST) or not (it is queued);
**   - for another agent: EXISTS of that agent's message decides. There:
**     AM_EEXIST. Not there: either a send to it is between its claim and
**     its send.lua, or the message is gone and its release was lost (the
**     process killed between an ack and the release, or a send that
**     failed after its claim). A claim younger than 60 s is taken to be
**     the first (AM_EEXIST); an older one is taken over (compare-and-set:
**     if two try, one wins).
** A send refused for a full queue releases its claim; a send whose reply
** was lost keeps it (the message may be there). take.lua hands the claim
** to the delivery (its reserved[0]), so that an ack releases it in the
** same round trip as ack.lua (two masters at once: am__redis_fanout), and
** puts it back (HSETNX, the same value) when the ack did not happen (the
** reservation had expired: the message is someone else's to settle).
** Release compares agent and nonce, so a release that comes late never
** drops a claim someone made since.
**
** Claims are not confirmed by a replica (WAIT: coord_redis_cluster.c), as
** the sends and acks that carry them are: a claim lost with its master,
** when its message survived (a send in the last moment before a master is
** killed), lets the same id be sent to another agent once; a release lost
** leaves a claim that is taken over later. Waiting for both would cost
** every send a second wait for a replica.
**
** What this costs: a send with an id of the caller's is one round trip
** more (the claim: a plain HSETNX), an ack a command more (the release
** runs beside it, on the id's master) -- neither when the id's slot is on
** the agent's master; an id the coordinator generates (am__redis_new_id,
** chosen in its recipient's bucket) costs nothing more. A claim made by
** send.lua is confirmed by a replica with the message (it is one script).
** What it leaves: a claim whose release was lost stays until its id is
** used again -- a few bytes per process killed at the wrong moment -- and
** an id whose message was acked can be sent to another agent only after
** the release (at once, normally).
** A process stalled for more than 60 s between its claim and its send
** could, after a take-over, queue a message whose id another agent holds
** too; nothing else can.
**
** Threading: any thread (b->claim_seq is atomic). Ownership: nothing is
** kept; replies are freed here.
*/
#include <stdio.h>
#include <string.h>

#include "agentmon/timer.h"
#include "../util/alloc.h"
#include "../util/error.h"
#include "../log/trace_internal.h"
#include "coord_redis_conn.h"

#define TRIES 4

/* Set the claim of id in bucket from expected to want: 1 set, 0 not,
   -1 on an error (am_errmsg). */
static int cas(am__rbe *b, int bucket, const char *id, const char *expected, const char *want)
{
    const char *argv[3] = {id, expected, want};
    redisReply *r;
    if (am__redis_eval(b, AM__S_CLAIM_CAS, bucket, 3, argv, NULL, &r))
        return -1;
    int set = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    return set;
}

/* Whether agent's message id exists: 1, 0, or -1 on an error. */
static int message_exists(am__rbe *b, const char *agent, size_t an, const char *id)
{
    int bucket = am__redis_bucket(agent, an);
    char key[AM__REDIS_BKEY_MAX + 2 * AM_COORD_MAX_NAME + 16];
    snprintf(key, sizeof key, "%s:m:%.*s:%s", b->bkey[bucket], (int)an, agent, id);
    const char *argv[2] = {"EXISTS", key};
    const am__rcmd cmd = {2, argv, NULL, -1, bucket, NULL, false};
    redisReply *r;
    if (am__redis_fanout(b, &cmd, 1, &r))
        return -1;
    int v = r->type == REDIS_REPLY_INTEGER ? r->integer > 0 : -1;
    if (v < 0)
        am__err(AM_EBACKEND, "redis at %s: EXISTS answered %s", b->where,
                r->type == REDIS_REPLY_ERROR ? r->str : "something else");
    freeReplyObject(r);
    return v;
}

void am__redis_claim_value(am__rbe *b, const char *to, char out[AM__REDIS_CLAIM_MAX])
{
    unsigned long long nonce = (unsigned long long)atomic_fetch_add(&b->claim_seq, 1) + 1;
    snprintf(out, AM__REDIS_CLAIM_MAX, "%s\t%s.%llu\t%lld", to, b->proc, nonce,
             (long long)(am_unix_time() * 1000));
}

void am__redis_new_id(am__rbe *b, const char *to, char out[33])
{
    am__id_hex(out);
    if (!b->is_cluster)
        return;
    /* the last three hex digits chosen so that its bucket is to's: of 4096
       tries one in 64 fits (none fitting: e^-64) */
    static const char hex[] = "0123456789abcdef";
    int want = am__redis_bucket(to, strlen(to));
    uint64_t head = am__redis_name_hash(0, out, 29);
    for (unsigned k = 0; k < 4096; k++) {
        out[29] = hex[k >> 8];
        out[30] = hex[(k >> 4) & 15];
        out[31] = hex[k & 15];
        if (am__redis_hash_bucket(am__redis_name_hash(head, out + 29, 3)) == want)
            return;
    }
}

am_err am__redis_claim(am__rbe *b, const char *id, const char *to, char out[AM__REDIS_CLAIM_MAX])
{
    int bucket = am__redis_bucket(id, strlen(id));
    char ikey[AM__REDIS_BKEY_MAX + 8];
    am__redis_bkey(b, bucket, "ids", ikey, sizeof ikey);
    size_t tn = strlen(to);
    char mine[AM__REDIS_CLAIM_MAX];
    am__redis_claim_value(b, to, mine);
    for (int attempt = 0; attempt < TRIES; attempt++) {
        long long now_ms = (long long)(am_unix_time() * 1000);
        const char *set_argv[4] = {"HSETNX", ikey, id, mine};
        const char *get_argv[3] = {"HGET", ikey, id};
        const am__rcmd setnx = {4, set_argv, NULL, -1, bucket, NULL, false};
        const am__rcmd get = {3, get_argv, NULL, -1, bucket, NULL, false};
        redisReply *r[2] = {NULL, NULL};
        am_err rc = am__redis_fanout(b, &setnx, 1, &r[0]);
        bool claimed = !rc && r[0]->type == REDIS_REPLY_INTEGER && r[0]->integer == 1;
        if (!rc && r[0]->type == REDIS_REPLY_INTEGER && !claimed)
            rc = am__redis_fanout(b, &get, 1, &r[1]); /* whose, then */
        if (rc) {
            if (r[0])
                freeReplyObject(r[0]);
            return rc;
        }
        if (r[0]->type != REDIS_REPLY_INTEGER ||
            (r[1] && r[1]->type != REDIS_REPLY_STRING && r[1]->type != REDIS_REPLY_NIL)) {
            rc = am__err(AM_EBACKEND, "redis at %s: claiming id \"%.64s\": %.200s", b->where, id,
                         r[0]->type == REDIS_REPLY_ERROR           ? r[0]->str
                         : r[1] && r[1]->type == REDIS_REPLY_ERROR ? r[1]->str
                                                                   : "unexpected reply");
            freeReplyObject(r[0]);
            if (r[1])
                freeReplyObject(r[1]);
            return rc;
        }
        char held[AM__REDIS_CLAIM_MAX] = "";
        bool has_held = r[1] && r[1]->type == REDIS_REPLY_STRING && r[1]->len < sizeof held;
        if (has_held)
            memcpy(held, r[1]->str, r[1]->len + 1);
        freeReplyObject(r[0]);
        if (r[1])
            freeReplyObject(r[1]);
        if (claimed) {
            memcpy(out, mine, strlen(mine) + 1);
            return AM_OK;
        }
        if (!has_held)
            continue; /* released in between (or too long to be ours): again */
        /* "<agent>\t<nonce>\t<ms>" */
        char *t1 = strchr(held, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        size_t on = t1 ? (size_t)(t1 - held) : 0;
        long long since = t2 ? strtoll(t2 + 1, NULL, 10) : 0;
        char again[AM__REDIS_CLAIM_MAX];
        const char *want = mine; /* a claim left behind (or written by hand): take it over */
        bool is_agent = t2 && on > 0 && on <= AM_COORD_MAX_NAME && memchr(held, ':', on);
        if (t2 && on == tn && memcmp(held, to, tn) == 0) {
            /* the same agent's: reuse it, fresh, and let send.lua decide */
            snprintf(again, sizeof again, "%.*s\t%lld", (int)(t2 - held), held, now_ms);
            want = again;
        } else if (is_agent) {
            int there = message_exists(b, held, on, id);
            if (there < 0)
                return AM_EBACKEND;
            if (there || now_ms - since < AM__REDIS_CLAIM_STALE_MS)
                return am__err(AM_EEXIST,
                               "a message with id \"%.64s\" is already in the coordinator (sent "
                               "to \"%.*s\"%s)",
                               id, (int)on, held, there ? "" : "; its send is under way");
        }
        int set = cas(b, bucket, id, held, want);
        if (set < 0)
            return AM_EBACKEND;
        if (set) {
            memcpy(out, want, strlen(want) + 1);
            return AM_OK;
        }
    }
    return am__err(AM_EBACKEND, "redis at %s: the claim of id \"%.64s\" kept changing", b->where,
                   id);
}

bool am__redis_near(am__rbe *b, int ib, int ab)
{
    if (!b->is_cluster)
        return false;
    if (ib == ab)
        return true;
    am__rnode *n = am__redis_node_of(b, ab);
    return n && n == am__redis_node_of(b, ib);
}

void am__redis_reclaim(am__rbe *b, const char *id, const char *claim)
{
    int bucket = am__redis_bucket(id, strlen(id));
    char ikey[AM__REDIS_BKEY_MAX + 8];
    const char *argv[4] = {"HSETNX", am__redis_bkey(b, bucket, "ids", ikey, sizeof ikey), id,
                           claim};
    const am__rcmd cmd = {4, argv, NULL, -1, bucket, NULL, false};
    redisReply *r;
    if (am__redis_fanout(b, &cmd, 1, &r) == AM_OK)
        freeReplyObject(r);
}

void am__redis_release(am__rbe *b, const char *const *ids, const size_t *id_lens,
                       const char *const *claims, const size_t *claim_lens, size_t n)
{
    if (!n)
        return;
    /* one release.lua per bucket, all in one fan-out */
    int *bucket = am__malloc(n * sizeof *bucket);
    const char **argv = am__malloc(2 * n * sizeof *argv);
    size_t *lens = am__malloc(2 * n * sizeof *lens);
    am__rcmd *cmds = am__malloc(AM__REDIS_BUCKETS * sizeof *cmds);
    redisReply **r = am__malloc(AM__REDIS_BUCKETS * sizeof *r);
    if (bucket && argv && lens && cmds && r) {
        for (size_t i = 0; i < n; i++)
            bucket[i] = am__redis_bucket(ids[i], id_lens[i]);
        size_t k = 0, nc = 0;
        for (int bk = 0; bk < AM__REDIS_BUCKETS; bk++) {
            size_t first = k;
            for (size_t i = 0; i < n; i++) {
                if (bucket[i] != bk)
                    continue;
                argv[k] = ids[i];
                lens[k++] = id_lens[i];
                argv[k] = claims[i];
                lens[k++] = claim_lens[i];
            }
            if (k > first)
                cmds[nc++] = (am__rcmd){
                    (int)(k - first), argv + first, lens + first, AM__S_RELEASE, bk, NULL, false};
        }
        if (am__redis_fanout(b, cmds, nc, r) == AM_OK)
            for (size_t i = 0; i < nc; i++)
                freeReplyObject(r[i]);
    }
    am__free(bucket);
    am__free(argv);
    am__free(lens);
    am__free(cmds);
    am__free(r);
}
