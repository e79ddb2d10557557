-- lib_queue.lua: queues and the blocked receivers' signal.
local IS_PRIO = {['9'] = true, ['5'] = true, ['1'] = true}

-- Messages waiting (all priorities queued, and delayed), from the lists
-- themselves: what max_queue bounds.
local function waiting_exact(agent)
    return redis.call('LLEN', key('q9', agent)) + redis.call('LLEN', key('q5', agent)) +
               redis.call('LLEN', key('q1', agent)) + redis.call('ZCARD', key('dl', agent))
end

-- Wake one receiver blocked on agent (BLPOP on sig:<a>). One token is
-- enough: a woken receiver looks at the queues itself.
local function signal(agent)
    local s = key('sig', agent)
    if redis.call('LLEN', s) == 0 then
        redis.call('RPUSH', s, '1')
    end
end
