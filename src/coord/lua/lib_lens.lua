-- lib_lens.lua: every agent's lengths, kept in lens:<n> by the scripts that
-- change them, so that a snapshot reads 64 hashes instead of every key.
--
-- An agent's line is its name, a space, and ten numbers packed with
-- struct.pack(LINE_FMT) -- 6 big-endian 32-bit counts, 4 big-endian
-- doubles, 56 bytes (packing costs a script ~1 us; the same line as text,
-- ~5 us to parse and write back) -- L[1..10] here:
--   q1 q5 q9   LLEN of its three queues
--   dl         ZCARD of its delayed set
--   if         ZCARD of its reservations
--   dlq        LLEN of its DLQ
--   h1 h5 h9   enqueued_at of each queue's head as stored in the message;
--              NONE when the queue is empty (or its head has no time),
--              UNKNOWN when a take popped the head, or a recovery pushed
--              one in front, and the new head's time was not read (that
--              costs two calls; a snapshot looks it up for the few queues
--              that need it, and stores it)
--   next       a time no later than the earliest score of dl and if, NONE
--              when both are empty: a take looks for expired reservations
--              and due retries only once it has passed
-- The name comes first so that a snapshot can read the values alone
-- (HVALS, which Redis answers in a third of HGETALL's time).
-- Every script that changes a queue, set or DLQ changes the line in the
-- same script -- Redis runs a script atomically, so the line is exact
-- whenever no script is running. Counts are set from what RPUSH, LPUSH and
-- ZADD return where they can be, so a count corrects itself as it is used.
-- A line that is missing or does not parse (0.1's count, an edit by hand)
-- is counted again from the keys themselves.
local LINE_FMT = '>I4I4I4I4I4I4dddd'
local LINE_BYTES = 56
local NONE, UNKNOWN = -1, -2
local QKIND = {'q1', 'q5', 'q9'}
local QI = {['1'] = 1, ['5'] = 2, ['9'] = 3}

-- A head or next time as packed: NONE, UNKNOWN (heads) or a time.
local function is_time_field(x, unknown_ok)
    return x == NONE or (unknown_ok and x == UNKNOWN) or (x >= 0 and x < 1e12)
end

-- agent's line v as a table, or nil when it does not parse (or names
-- another agent).
local function lens_decode(v, agent)
    local n = #agent
    if type(v) ~= 'string' or #v ~= n + 1 + LINE_BYTES or string.sub(v, 1, n + 1) ~= agent .. ' ' then
        return nil
    end
    local t = {struct.unpack(LINE_FMT, v, n + 2)}
    if not (is_time_field(t[7], true) and is_time_field(t[8], true) and
        is_time_field(t[9], true) and is_time_field(t[10], false)) then
        return nil -- NaN fails every comparison, and lands here too
    end
    return t
end

local function lens_encode(agent, t)
    return agent .. ' ' .. struct.pack(LINE_FMT, t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8],
                                       t[9], t[10])
end

local function lens_store(agent, t)
    redis.call('HSET', lens_key(agent), agent, lens_encode(agent, t))
end

-- The time of the head of agent's queue qk: its message's enqueued_at, or
-- NONE.
local function head_time(call, agent, qk)
    local id = call('LINDEX', qk, 0)
    if not id then
        return NONE
    end
    local enq = redis.pcall('HGET', mkey(agent, id), 'enqueued_at')
    return is_number(enq) and tonumber(enq) or NONE
end

-- The earliest due time or deadline of agent's timers, or NONE.
local function earliest(call, agent)
    local d = call('ZRANGE', key('dl', agent), 0, 0, 'WITHSCORES')
    local r = call('ZRANGE', key('if', agent), 0, 0, 'WITHSCORES')
    local at = d[2] and tonumber(d[2])
    if r[2] and (not at or tonumber(r[2]) < at) then
        at = tonumber(r[2])
    end
    return at or NONE
end

-- agent's six counts from its keys (call: redis.call, or safe_call).
local function count_keys(agent, call)
    local t = {}
    for i = 1, 3 do
        t[i] = call('LLEN', key(QKIND[i], agent))
    end
    t[4] = call('ZCARD', key('dl', agent))
    t[5] = call('ZCARD', key('if', agent))
    t[6] = call('LLEN', key('dlq', agent))
    return t
end

-- agent's line counted from its keys: the counts, then (unless t has
-- them) its heads' times and next timer.
local function recount(agent, call, t)
    t = t or count_keys(agent, call)
    for i = 1, 3 do
        t[6 + i] = t[i] > 0 and head_time(call, agent, key(QKIND[i], agent)) or NONE
    end
    t[10] = (t[4] > 0 or t[5] > 0) and earliest(call, agent) or NONE
    return t
end

-- agent's line as stored, or counted when it is missing or does not
-- parse. Returns it, and whether it was counted now: a count made now
-- already includes what the caller did before, so the caller must not
-- apply its own changes to it again.
local function lens_load(agent)
    local t = lens_decode(redis.call('HGET', lens_key(agent), agent), agent)
    if t then
        return t, false
    end
    return recount(agent, redis.call), true
end

-- Make agent known (its line counted from its keys, normally all empty).
local function lens_register(agent)
    if redis.call('HEXISTS', lens_key(agent), agent) == 0 then
        lens_store(agent, recount(agent, redis.call))
    end
end
