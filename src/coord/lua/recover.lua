-- uses: queue decode
-- recover.lua: settle the expired reservations of every agent.
-- ARGV: prefix, max_attempts
-- Looks at every agent, whatever NEXT says, and sets NEXT from what it
-- finds (so it also repairs a NEXT that was lost). Returns {total, agent,
-- recovered, dead, poisoned, agent, ...} with one group per agent that
-- had any.
local max_attempts = tonumber(ARGV[2])
local _, now_s = clock()
local out = {0}
for _, agent in ipairs(redis.call('HKEYS', AGENTS)) do
    local expired = redis.call('ZRANGEBYSCORE', key('if', agent), '-inf', now_s)
    if #expired > 0 then
        local nrec, ndead, npois = settle(agent, expired, now_s, max_attempts)
        out[1] = out[1] + nrec + ndead + npois
        out[#out + 1] = agent
        out[#out + 1] = nrec
        out[#out + 1] = ndead
        out[#out + 1] = npois
        if nrec > 0 then
            add_waiting(agent, nrec, 0)
        end
        signal(agent)
    end
    if #expired > 0 or redis.call('HEXISTS', NEXT, agent) == 0 then
        next_timer(agent)
    end
end
return out
