-- lib_lengths.lua: an agent's lengths as one line, "agent q1 q5 q9
-- delayed inflight dlq age1 age5 age9" (coord_redis_parse.c reads it).
-- Empty lists and sets do not exist in Redis, so an agent with nothing
-- costs one EXISTS -- asked only when its waiting count (if known) is 0,
-- since one with messages waiting is read in full anyway. Every number
-- reported is read from the lists and sets themselves. Ages: of the head
-- of each queue, since it was first sent, to the millisecond (as
-- coord_memory.c).
local function lengths(agent, now, waiting)
    local ks = {key('q1', agent), key('q5', agent), key('q9', agent), key('dl', agent),
                key('if', agent), key('dlq', agent)}
    if waiting == '0' and redis.call('EXISTS', unpack(ks)) == 0 then
        return agent .. ' 0 0 0 0 0 0 0 0 0'
    end
    local f = {agent}
    local ages = {}
    for i = 1, 3 do
        local n = redis.call('LLEN', ks[i])
        f[#f + 1] = n
        local age = '0'
        if n > 0 then
            local head = redis.call('LINDEX', ks[i], 0)
            local enq = tonumber(redis.pcall('HGET', P .. ':m:' .. head, 'enqueued_at'))
            if enq and enq == enq and now - enq < 1e12 then
                age = string.format('%.3f', math.max(now - enq, 0))
            end
        end
        ages[i] = age
    end
    f[5] = redis.call('ZCARD', ks[4])
    f[6] = redis.call('ZCARD', ks[5])
    f[7] = redis.call('LLEN', ks[6])
    f[8], f[9], f[10] = ages[1], ages[2], ages[3]
    return table.concat(f, ' ')
end
