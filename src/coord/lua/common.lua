-- common.lua: what every coordinator script starts with. CMakeLists.txt
-- puts this file in front of each script, then the lib_*.lua files the
-- script names on its first line ("-- uses: queue decode"), then the
-- script; helpers a script does not use cost it nothing.
--
-- A script learns which message it works on only as it runs (the head of
-- a queue), so every key is built here: from the prefix, ARGV[1], on a
-- standalone server; on a Redis Cluster from KEYS[1], "<P>:{<tag>}", the
-- prefix and the hash tag of the bucket of the agent (or agents, or
-- message id) the script works on. Every key a script builds then starts
-- with it, so the script touches one slot (which Redis checks: on a
-- cluster the scripts run with the "#!lua" shebang, under which reaching
-- into a second slot is an error), KEYS[1] routes it to the node that
-- serves that slot, and a MOVED or ASK comes back before it runs.
-- Under "<P>:" (standalone) or "<P>:{<tag>}:" (cluster), B below:
--   lens:<n>        HASH   every known agent -> its lengths, one line
--   (cluster: lens) 
--                          "<agent> q1 q5 q9 dl if dlq h1 h5 h9 next" kept
--                          exact by the scripts that change them
--                          (lib_lens.lua), so that a snapshot reads these
--                          hashes instead of every key; n (0..63) is a
--                          hash of the agent's name (lens_key), so that a
--                          snapshot of any number of agents is 64 modest
--                          replies in one round trip
--   agents, next    HASH   the layout of 0.1 (agent -> messages waiting,
--                          agent -> next timer): migrate.lua moves its
--                          agents to lens:<n> and deletes them
--   badkeys         HASH   key -> "agent\twhy": keys a script could not
--                          read (a value of the wrong type), until an
--                          audit finds them readable again
--   q9|q5|q1:<a>    LIST   agent a's queue per priority: ids, head first
--   dl:<a>          ZSET   ids waiting for a retry's backoff, by due time
--   if:<a>          ZSET   reservations "<id>\t<token>", by deadline, the
--                          token "<attempt>:<priority>:<time reserved>": a
--                          reservation is held exactly while its member is
--                          there (ack is one ZREM of it), and the member
--                          says all that settling it needs
--   dlq:<a>         LIST   dead-lettered ids, oldest first
--   sig:<a>         LIST   at most one token: "something may be there now"
--   m:<id>          HASH   a message: from to type payload priority attempt
--   (cluster:              [claim: its id's claim, see ids]
--    m:<agent>:<id>)
--                          enqueued_at [ready_at (absent: = enqueued_at)]
--                          [traceparent tracestate] [reason error dead_at];
--                          attempt is the deliveries so far as of the last
--                          time it left a reservation (while reserved, the
--                          reservation's token has the current one)
--   totals          HASH   counters summed over every process, and
--                          "lens_repairs": lengths an audit found wrong
--                          (cluster: one per bucket, summed when read; a
--                          process adds its counters to its own bucket's)
--   flushseq        HASH   per process: the last counter batch applied
--   ids             HASH   cluster only, in the bucket of the id: id ->
--                          "<agent>\t<nonce>\t<time>", the claim that
--                          keeps ids unique across agents (whose messages
--                          are in other slots); see coord_redis_claim.c
-- A message hash exists exactly as long as its id is in the coordinator,
-- which is what makes ids unique. Times are Redis's clock (TIME), seconds.
-- Each redis.call costs far more than the command it runs, so the scripts
-- make as few as they can.
-- Redis >= 6 (effects replication, so writes may follow TIME and HSCAN).
local P = ARGV[1]
local B = KEYS[1] or P -- cluster: "<P>:{<tag>}", standalone: "<P>"
local CLUSTER = KEYS[1] ~= nil
local BADKEYS = B .. ':badkeys'
local TOTALS = B .. ':totals'
local NBUCKETS = 64

-- The hash that holds agent's line, lens:<0..63>: the name's bytes as a
-- polynomial (31) modulo the prime 1000003, then the top six bits of
-- Knuth's multiplicative hash of that (* 2654435761 mod 2^32) -- exact in
-- Lua's doubles (< 2^53), and even over names that differ in a digit or
-- two. Part of the format (the C side only reads every bucket): never
-- change it.
-- (On a cluster every agent of a script is of KEYS[1]'s bucket, and its
-- line is in B:lens; the C side computes the same bucket, to route.)
local function bucket_of(name)
    local h = 0
    for i = 1, #name do
        h = (h * 31 + string.byte(name, i)) % 1000003
    end
    return math.floor((h * 2654435761) % 4294967296 / 67108864)
end

local LENS_KEYS = {}
local function lens_key(agent)
    if CLUSTER then
        return B .. ':lens'
    end
    local k = LENS_KEYS[agent]
    if not k then
        k = P .. ':lens:' .. bucket_of(agent)
        LENS_KEYS[agent] = k
    end
    return k
end

-- agent's key of a kind (q1 q5 q9 dl if dlq sig).
local function key(kind, agent)
    return B .. ':' .. kind .. ':' .. agent
end

-- The hash of message id of agent's: on a cluster named by its agent too
-- (ids are unique by their claims, but a key must be in its agent's slot
-- and must not be shared by two agents of a bucket whatever happens).
local function mkey(agent, id)
    if CLUSTER then
        return B .. ':m:' .. agent .. ':' .. id
    end
    return P .. ':m:' .. id
end

-- Redis's clock: seconds as a number, and as text with microseconds.
local function clock()
    local t = redis.call('TIME')
    return tonumber(t[1]) + tonumber(t[2]) / 1000000, t[1] .. '.' .. string.sub('00000' .. t[2], -6)
end

-- What identifies a claim (common.lua's ids), "<agent>\t<nonce>", of
-- "<agent>\t<nonce>\t<time>" (nil when it is not one): its time may be
-- refreshed, and a release compares the rest.
local function claim_of(c)
    return string.match(c, '^([^\t]+\t[^\t]+)\t')
end

-- A time as stored: digits with an optional fraction.
local function is_number(s)
    return type(s) == 'string' and #s <= 24 and string.find(s, '^%d+%.?%d*$') ~= nil
end

-- A count as stored: at most nine digits.
local function is_count(s)
    return type(s) == 'string' and #s <= 9 and string.find(s, '^%d+$') ~= nil
end
