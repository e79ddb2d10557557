-- uses: queue lens
-- dlq_replay.lua: move dead-lettered messages back to the back of their
-- queue with fresh attempts, oldest first.
-- ARGV: prefix, agent, id ("" = all), max_queue
-- Returns {code, replayed, skipped}: code 0 = done; 2 = the queue filled
-- up (the rest stay dead-lettered: AM_EFULL); 3 = no such agent or id
-- (AM_ENOTFOUND); 4 = that id does not decode (poison) and stays. With no
-- id, entries that do not decode are skipped and stay, counted in skipped.
local agent, id, max_queue = ARGV[2], ARGV[3], tonumber(ARGV[4])
if redis.call('HEXISTS', lens_key(agent), agent) == 0 then
    return {id ~= '' and 3 or 0, 0, 0}
end
local L = lens_load(agent) -- before anything changes: what follows adds to it
local dk = key('dlq', agent)
local ids = redis.call('LRANGE', dk, 0, -1)
local _, now_s = clock()

-- The priority and enqueued_at of x, or nil when it is not a hash.
local function fields(x)
    local v = redis.pcall('HMGET', mkey(agent, x), 'priority', 'enqueued_at')
    if v.err then
        return nil
    end
    return v[1], v[2]
end

local function replay(x, prio, enq)
    local mk = mkey(agent, x)
    redis.call('HSET', mk, 'attempt', '0', 'ready_at', now_s)
    redis.call('HDEL', mk, 'reason', 'dead_at')
    local qi = QI[prio]
    L[qi] = redis.call('RPUSH', key('q' .. prio, agent), x)
    if L[qi] == 1 then
        L[6 + qi] = is_number(enq) and tonumber(enq) or NONE
    end
end

local function full()
    return L[1] + L[2] + L[3] + L[4] >= max_queue
end

local code, n, skipped = 0, 0, 0
if id ~= '' then
    code = 3
    for _, x in ipairs(ids) do
        if x == id then
            local prio, enq = fields(x)
            if full() then
                code = 2
            elseif not IS_PRIO[prio] then
                code, skipped = 4, 1
            else
                L[6] = L[6] - redis.call('LREM', dk, 1, x)
                replay(x, prio, enq)
                code, n = 0, 1
            end
            break
        end
    end
else
    local keep = {}
    for _, x in ipairs(ids) do
        if code ~= 0 then
            keep[#keep + 1] = x
        elseif full() then
            code = 2
            keep[#keep + 1] = x
        else
            local prio, enq = fields(x)
            if IS_PRIO[prio] then
                replay(x, prio, enq)
                n = n + 1
            else
                keep[#keep + 1] = x
                skipped = skipped + 1
            end
        end
    end
    if n > 0 then
        redis.call('DEL', dk)
        for i = 1, #keep, 1000 do
            redis.call('RPUSH', dk, unpack(keep, i, math.min(i + 999, #keep)))
        end
        L[6] = #keep
    end
end
lens_store(agent, L)
if n > 0 then
    signal(agent)
end
return {code, n, skipped}
