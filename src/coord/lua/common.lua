-- common.lua: what every coordinator script starts with. CMakeLists.txt
-- puts this file in front of each script, then the lib_*.lua files the
-- script names on its first line ("-- uses: queue decode"), then the
-- script; helpers a script does not use cost it nothing.
--
-- KEYS are not used: a script learns which message it works on only as it
-- runs (the head of a queue), so every key is built here from the prefix,
-- ARGV[1]. This needs a standalone Redis (or one shard), as the
-- coordinator documents. Under "<P>:":
--   lens:<n>        HASH   every known agent -> its lengths, one line
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
--                          enqueued_at [ready_at (absent: = enqueued_at)]
--                          [traceparent tracestate] [reason error dead_at];
--                          attempt is the deliveries so far as of the last
--                          time it left a reservation (while reserved, the
--                          reservation's token has the current one)
--   totals          HASH   counters summed over every process, and
--                          "lens_repairs": lengths an audit found wrong
--   flushseq        HASH   per process: the last counter batch applied
-- A message hash exists exactly as long as its id is in the coordinator,
-- which is what makes ids unique. Times are Redis's clock (TIME), seconds.
-- Each redis.call costs far more than the command it runs, so the scripts
-- make as few as they can.
-- Redis >= 6 (effects replication, so writes may follow TIME and HSCAN).
local P = ARGV[1]
local BADKEYS = P .. ':badkeys'
local NBUCKETS = 64

-- The hash that holds agent's line, lens:<0..63>: the name's bytes as a
-- polynomial (31) modulo the prime 1000003, then the top six bits of
-- Knuth's multiplicative hash of that (* 2654435761 mod 2^32) -- exact in
-- Lua's doubles (< 2^53), and even over names that differ in a digit or
-- two. Part of the format (the C side only reads every bucket): never
-- change it.
local LENS_KEYS = {}
local function lens_key(agent)
    local k = LENS_KEYS[agent]
    if not k then
        local h = 0
        for i = 1, #agent do
            h = (h * 31 + string.byte(agent, i)) % 1000003
        end
        k = P .. ':lens:' .. math.floor((h * 2654435761) % 4294967296 / 67108864)
        LENS_KEYS[agent] = k
    end
    return k
end

local function key(kind, name)
    return P .. ':' .. kind .. ':' .. name
end

-- Redis's clock: seconds as a number, and as text with microseconds.
local function clock()
    local t = redis.call('TIME')
    return tonumber(t[1]) + tonumber(t[2]) / 1000000, t[1] .. '.' .. string.sub('00000' .. t[2], -6)
end

-- A time as stored: digits with an optional fraction.
local function is_number(s)
    return type(s) == 'string' and #s <= 24 and string.find(s, '^%d+%.?%d*$') ~= nil
end

-- A count as stored: at most nine digits.
local function is_count(s)
    return type(s) == 'string' and #s <= 9 and string.find(s, '^%d+$') ~= nil
end
