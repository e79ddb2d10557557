-- lib_decode.lua: reading stored messages, and what to do with those that
-- do not decode (poison); settling expired reservations and promoting due
-- retries. Needs lib_queue and lib_lens: what these move, they count in
-- the agent's line L (lib_lens.lua), which the caller stores.

-- Read message id of agent's queue and check that it decodes. Returns its
-- fields (from to type payload priority attempt enqueued_at ready_at
-- traceparent tracestate claim), or nil and why it cannot be delivered.
local function load(id, agent)
    local v = redis.pcall('HMGET', mkey(agent, id), 'from', 'to', 'type', 'payload', 'priority',
                          'attempt', 'enqueued_at', 'ready_at', 'traceparent', 'tracestate',
                          'claim')
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
    v[11] = v[11] or ''
    if string.find(id .. v[1] .. v[3] .. v[9] .. v[10] .. v[11], '\n', 1, true) then
        return nil, 'a field has a line break'
    end
    return v
end

-- Dead-letter a message that cannot be decoded, keeping what is left of
-- it; the DLQ's new length goes to L.
local function poison(agent, id, why, now_s, L)
    local mk = mkey(agent, id)
    local t = redis.call('TYPE', mk)
    if t.ok ~= 'hash' and t.ok ~= 'none' then
        redis.call('DEL', mk)
        why = why .. ' (it was a ' .. t.ok .. ')'
    end
    redis.call('HSET', mk, 'reason', 'poison', 'error', why, 'dead_at', now_s)
    L[6] = redis.call('RPUSH', key('dlq', agent), id)
end

-- The id, attempt and priority of a reservation "<id>\t<attempt>:<prio>:..".
local function reservation(member)
    local id, attempt, prio = string.match(member, '^(.-)\t(%d+):([159]):')
    return id, attempt, prio
end

-- Settle agent's expired reservations (members, in deadline order): back
-- to the front of their queue (each in turn, as coord_memory.c does), or
-- to the DLQ when they used max_attempts. Returns the numbers recovered,
-- dead-lettered for attempts and poisoned.
local function settle(agent, members, now_s, max_attempts, L)
    local ik = key('if', agent)
    local nrec, ndead, npois = 0, 0, 0
    for _, member in ipairs(members) do
        L[5] = L[5] - redis.call('ZREM', ik, member)
        local id, attempt, prio = reservation(member)
        if not id then
            local tab = string.find(member, '\t', 1, true)
            poison(agent, tab and string.sub(member, 1, tab - 1) or member,
                   'the reservation does not decode', now_s, L)
            npois = npois + 1
        elseif tonumber(attempt) >= max_attempts then
            redis.call('HSET', mkey(agent, id), 'attempt', attempt, 'reason', 'max_attempts',
                       'dead_at', now_s)
            L[6] = redis.call('RPUSH', key('dlq', agent), id)
            ndead = ndead + 1
        else
            redis.call('HSET', mkey(agent, id), 'attempt', attempt, 'ready_at', now_s)
            local qi = QI[prio]
            L[qi] = redis.call('LPUSH', key('q' .. prio, agent), id)
            L[6 + qi] = UNKNOWN -- a new head, whose enqueued_at this did not read
            nrec = nrec + 1
        end
    end
    return nrec, ndead, npois
end

-- Move agent's retries due by now to the back of their queue (ready_at =
-- when they were due). Returns the number poisoned.
local function promote(agent, now_s, L)
    local dk = key('dl', agent)
    local due = redis.call('ZRANGEBYSCORE', dk, '-inf', now_s, 'WITHSCORES')
    local npois = 0
    for i = 1, #due, 2 do
        local id = due[i]
        L[4] = L[4] - redis.call('ZREM', dk, id)
        local v = redis.pcall('HMGET', mkey(agent, id), 'priority', 'enqueued_at')
        local prio = not v.err and v[1]
        if IS_PRIO[prio] then
            redis.call('HSET', mkey(agent, id), 'ready_at', due[i + 1])
            local qi = QI[prio]
            L[qi] = redis.call('RPUSH', key('q' .. prio, agent), id)
            if L[qi] == 1 then
                L[6 + qi] = is_number(v[2]) and tonumber(v[2]) or NONE
            end
        else
            poison(agent, id, 'field priority is not 1, 5 or 9', now_s, L)
            npois = npois + 1
        end
    end
    return npois
end

-- The earliest reservation deadline or retry due time of agent, or nil;
-- written to L's next.
local function next_timer(agent, L)
    L[10] = earliest(redis.call, agent)
    return L[10] ~= NONE and L[10] or nil
end
