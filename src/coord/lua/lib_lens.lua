-- lib_lens.lua: every agent's lengths, kept in lens:<n> by the scripts that
-- change them, so that a snapshot reads one hash instead of every key.
--
-- An agent's line is its name and ten fields, joined by single spaces
-- (the name, so that a snapshot can read the lines alone, HVALS, which
-- Redis answers more than twice as fast as HGETALL; L[1..10] here):
--   q1 q5 q9   LLEN of its three queues
--   dl         ZCARD of its delayed set
--   if         ZCARD of its reservations
--   dlq        LLEN of its DLQ
--   h1 h5 h9   enqueued_at of each queue's head as stored in the message;
--              "-" when the queue is empty (or its head has no time),
--              "?" when not known: a take popped the head, a recovery
--              pushed one in front, and the new head's time was not read
--              (that costs two calls; the snapshot looks it up for the few
--              queues that need it and stores it)
--   next       a time no later than the earliest score of dl and if, "-"
--              when both are empty: a take looks for expired reservations
--              and due retries only once it has passed
-- Every script that changes a queue, set or DLQ changes the line in the
-- same script -- Redis runs a script atomically, so the line is exact
-- whenever no script is running. Counts are set from what RPUSH, LPUSH and
-- ZADD return where they can be, so a count corrects itself as it is used.
-- A line that is missing or does not parse (an older version's count, an
-- edit by hand) is recounted from the keys themselves.
local QKIND = {'q1', 'q5', 'q9'}
local QI = {['1'] = 1, ['5'] = 2, ['9'] = 3}

local function is_head(s)
    return s == '-' or s == '?' or is_number(s)
end

-- agent's line v as a table, or nil when it does not parse (or names
-- another agent).
local function lens_decode(v, agent)
    if type(v) ~= 'string' or string.sub(v, 1, #agent + 1) ~= agent .. ' ' then
        return nil
    end
    local t = {string.match(v, '^(%d+) (%d+) (%d+) (%d+) (%d+) (%d+) (%S+) (%S+) (%S+) (%S+)$',
                            #agent + 2)}
    if not t[10] then
        return nil
    end
    for i = 1, 6 do
        if #t[i] > 9 then
            return nil
        end
        t[i] = tonumber(t[i])
    end
    if not (is_head(t[7]) and is_head(t[8]) and is_head(t[9])) then
        return nil
    end
    if t[10] ~= '-' and not is_number(t[10]) then
        return nil
    end
    return t
end

local function lens_encode(agent, t)
    return agent .. ' ' .. table.concat(t, ' ', 1, 10)
end

local function lens_store(agent, t)
    redis.call('HSET', lens_key(agent), agent, lens_encode(agent, t))
end

-- A redis.call for recount that, when a key holds the wrong type, raises
-- "badkey\t<key>\t<error>" (caught by lens_try).
local function safe_call(cmd, k, ...)
    local r = redis.pcall(cmd, k, ...)
    if type(r) == 'table' and r.err then
        error('badkey\t' .. k .. '\t' .. r.err, 0)
    end
    return r
end

-- The time of the head of queue qk: its message's enqueued_at, or "-".
local function head_time(call, qk)
    local id = call('LINDEX', qk, 0)
    if not id then
        return '-'
    end
    local enq = redis.pcall('HGET', key('m', id), 'enqueued_at')
    return is_number(enq) and enq or '-'
end

-- The earliest due time or deadline of agent's timers, as text, or "-".
local function earliest(call, agent)
    local d = call('ZRANGE', key('dl', agent), 0, 0, 'WITHSCORES')
    local r = call('ZRANGE', key('if', agent), 0, 0, 'WITHSCORES')
    local at = d[2] and tonumber(d[2])
    if r[2] and (not at or tonumber(r[2]) < at) then
        at = tonumber(r[2])
    end
    return at and fmt_time(at) or '-'
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
        t[6 + i] = t[i] > 0 and head_time(call, key(QKIND[i], agent)) or '-'
    end
    t[10] = (t[4] > 0 or t[5] > 0) and earliest(call, agent) or '-'
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

-- Run fn(...) and catch a key of the wrong type: returns true and fn's
-- result, or false, the key and the error (recorded in BADKEYS for agent).
local function lens_try(agent, fn, ...)
    local ok, r = pcall(fn, ...)
    if ok then
        return true, r
    end
    local k, why = string.match(tostring(r), '^badkey\t([^\t]*)\t(.*)$')
    if not k then
        error(r, 0)
    end
    redis.call('HSET', BADKEYS, k, agent .. '\t' .. why)
    return false, k, why
end

-- Forget agent's keys in BADKEYS (they read fine now); has_bad: BADKEYS
-- is not empty (the caller asked HLEN once).
local function lens_clear_bad(agent, has_bad)
    if has_bad then
        redis.call('HDEL', BADKEYS, key('q1', agent), key('q5', agent), key('q9', agent),
                   key('dl', agent), key('if', agent), key('dlq', agent))
    end
end

-- Make agent known (its line counted from its keys, normally all empty).
local function lens_register(agent)
    if redis.call('HEXISTS', lens_key(agent), agent) == 0 then
        lens_store(agent, recount(agent, redis.call))
    end
end

-- Whether the stored line s (a table, or nil) agrees with t, counted from
-- the keys: the same counts, a head time that is t's or not known ("?"),
-- and a next no later than t's earliest timer. Disagreeing is drift.
local function lens_agrees(s, t)
    if not s then
        return false
    end
    for i = 1, 6 do
        if s[i] ~= t[i] then
            return false
        end
    end
    for i = 7, 9 do
        if s[i] ~= '?' and s[i] ~= t[i] then
            return false
        end
    end
    if t[10] == '-' then
        return true
    end
    return s[10] ~= '-' and tonumber(s[10]) <= tonumber(t[10]) + 0.000001
end
