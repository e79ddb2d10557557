-- uses: queue lens decode audit
-- recover.lua: for each agent named, settle its expired reservations, and
-- repair its line if it disagrees with its keys (audit.lua says when that
-- can happen).
-- ARGV: prefix, max_attempts, agent... (on a cluster, all of one bucket)
-- Returns {total settled, lines repaired, {agent, recovered, dead,
-- poisoned, agent, ...}, {key, agent, error, ...}}: a group per agent that
-- had expired reservations, and the keys of the wrong type met (those
-- agents are left as they are).
local max_attempts = tonumber(ARGV[2])
local _, now_s = clock()
local total, repaired, groups, bad = 0, 0, {}, {}
local has_bad = redis.call('EXISTS', BADKEYS) == 1
for i = 3, #ARGV do
    local agent = ARGV[i]
    local v = redis.call('HGET', lens_key(agent), agent)
    local ok, t, why = true, nil, nil
    if v then
        ok, t, why = lens_try(agent, recount, agent, safe_call)
    end
    if v and not ok then
        bad[#bad + 1] = t
        bad[#bad + 1] = agent
        bad[#bad + 1] = why
    elseif v then
        lens_clear_bad(agent, has_bad)
        if not lens_agrees(lens_decode(v, agent), t) then
            repaired = repaired + 1
        end
        local expired = redis.call('ZRANGEBYSCORE', key('if', agent), '-inf', now_s)
        if #expired > 0 then
            local nrec, ndead, npois = settle(agent, expired, now_s, max_attempts, t)
            next_timer(agent, t)
            total = total + nrec + ndead + npois
            groups[#groups + 1] = agent
            groups[#groups + 1] = nrec
            groups[#groups + 1] = ndead
            groups[#groups + 1] = npois
            signal(agent)
        end
        local line = lens_encode(agent, t)
        if line ~= v then
            redis.call('HSET', lens_key(agent), agent, line)
        end
    end
end
if repaired > 0 then
    redis.call('HINCRBY', TOTALS, 'lens_repairs', repaired)
end
return {total, repaired, groups, bad}
