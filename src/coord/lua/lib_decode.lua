-- lib_decode.lua: reading stored messages, and what to do with those that
-- do not decode (poison); settling expired reservations and promoting due
-- retries. Needs lib_queue.

-- A time or count as stored: digits with an optional fraction.
local function is_number(s)
    return type(s) == 'string' and #s <= 24 and string.find(s, '^%d+%.?%d*$') ~= nil
end

local function is_count(s)
    return type(s) == 'string' and #s <= 9 and string.find(s, '^%d+$') ~= nil
end

-- Read message id of agent's queue and check that it decodes. Returns its
-- fields (from to type payload priority attempt enqueued_at ready_at
-- traceparent tracestate), or nil and why it cannot be delivered.
local function load(id, agent)
    local v = redis.pcall('HMGET', key('m', id), 'from', 'to', 'type', 'payload', 'priority',
                          'attempt', 'enqueued_at', 'ready_at', 'traceparent', 'tracestate')
    if v.err then
        return nil, 'the stored message is not a hash'
    end
    if not v[1] and not v[2] and not v[4] and not v[5] then
        return nil, 'the stored message is missing'
    end
    if type(v[1]) ~= 'string' or v[1] == '' then
        return nil, 'field from is missing'
    end
    if v[2] ~= agent then
        return nil, 'field to does not name the queue it is in'
    end
    if type(v[3]) ~= 'string' or v[3] == '' then
        return nil, 'field type is missing'
    end
    if type(v[4]) ~= 'string' then
        return nil, 'field payload is missing'
    end
    if not IS_PRIO[v[5]] then
        return nil, 'field priority is not 1, 5 or 9'
    end
    if not is_count(v[6]) then
        return nil, 'field attempt is not a number'
    end
    v[8] = v[8] or v[7]
    if not is_number(v[7]) or not is_number(v[8]) then
        return nil, 'field enqueued_at or ready_at is not a time'
    end
    v[9] = v[9] or ''
    v[10] = v[10] or ''
    if string.find(id .. v[1] .. v[3] .. v[9] .. v[10], '\n', 1, true) then
        return nil, 'a field has a line break'
    end
    return v
end

-- Dead-letter a message that cannot be decoded, keeping what is left of it.
local function poison(agent, id, why, now_s)
    local mk = key('m', id)
    local t = redis.call('TYPE', mk)
    if t.ok ~= 'hash' and t.ok ~= 'none' then
        redis.call('DEL', mk)
        why = why .. ' (it was a ' .. t.ok .. ')'
    end
    redis.call('HSET', mk, 'reason', 'poison', 'error', why, 'dead_at', now_s)
    redis.call('RPUSH', key('dlq', agent), id)
end

-- The id, attempt and priority of a reservation "<id>\t<attempt>:<prio>:..".
local function reservation(member)
    local id, attempt, prio = string.match(member, '^(.-)\t(%d+):([159]):')
    return id, attempt, prio
end

-- Settle agent's expired reservations (members, in deadline order): back
-- to the front of their queue (each in turn, as coord_memory.c does), or
-- to the DLQ when they used max_attempts. Returns the numbers recovered,
-- dead-lettered for attempts and poisoned. The caller adds the recovered
-- to agent's waiting count.
local function settle(agent, members, now_s, max_attempts)
    local ik = key('if', agent)
    local nrec, ndead, npois = 0, 0, 0
    for _, member in ipairs(members) do
        redis.call('ZREM', ik, member)
        local id, attempt, prio = reservation(member)
        if not id then
            local tab = string.find(member, '\t', 1, true)
            poison(agent, tab and string.sub(member, 1, tab - 1) or member,
                   'the reservation does not decode', now_s)
            npois = npois + 1
        elseif tonumber(attempt) >= max_attempts then
            redis.call('HSET', key('m', id), 'attempt', attempt, 'reason', 'max_attempts',
                       'dead_at', now_s)
            redis.call('RPUSH', key('dlq', agent), id)
            ndead = ndead + 1
        else
            redis.call('HSET', key('m', id), 'attempt', attempt, 'ready_at', now_s)
            redis.call('LPUSH', key('q' .. prio, agent), id)
            nrec = nrec + 1
        end
    end
    return nrec, ndead, npois
end

-- Move agent's retries due by now to the back of their queue (ready_at =
-- when they were due). Returns the number poisoned (they left the waiting
-- count).
local function promote(agent, now_s)
    local dk = key('dl', agent)
    local due = redis.call('ZRANGEBYSCORE', dk, '-inf', now_s, 'WITHSCORES')
    local npois = 0
    for i = 1, #due, 2 do
        local id = due[i]
        redis.call('ZREM', dk, id)
        local prio = redis.pcall('HGET', key('m', id), 'priority')
        if IS_PRIO[prio] then
            redis.call('HSET', key('m', id), 'ready_at', due[i + 1])
            redis.call('RPUSH', key('q' .. prio, agent), id)
        else
            poison(agent, id, 'field priority is not 1, 5 or 9', now_s)
            npois = npois + 1
        end
    end
    return npois
end

-- The earliest reservation deadline or retry due time of agent, or nil;
-- written to NEXT.
local function next_timer(agent)
    local d = redis.call('ZRANGE', key('dl', agent), 0, 0, 'WITHSCORES')
    local r = redis.call('ZRANGE', key('if', agent), 0, 0, 'WITHSCORES')
    local at = d[2] and tonumber(d[2])
    if r[2] and (not at or tonumber(r[2]) < at) then
        at = tonumber(r[2])
    end
    if at then
        redis.call('HSET', NEXT, agent, at)
    else
        redis.call('HDEL', NEXT, agent)
    end
    return at
end
