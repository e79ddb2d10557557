-- uses: lens
-- dlq_purge.lua: delete agent's dead letters (their ids may be sent again).
-- ARGV: prefix, agent. Returns how many were deleted; on a cluster
-- {how many, id, claim, id, claim, ...}: the claims of those that had one
-- (common.lua's ids), for the caller to release.
local agent = ARGV[2]
local dk = key('dlq', agent)
local ids = redis.call('LRANGE', dk, 0, -1)
if #ids == 0 then
    return CLUSTER and {0} or 0
end
local L = lens_load(agent)
local claims = {#ids}
for i = 1, #ids, 1000 do
    local ks = {}
    for j = i, math.min(i + 999, #ids) do
        ks[#ks + 1] = mkey(agent, ids[j])
        if CLUSTER then
            local c = redis.pcall('HGET', ks[#ks], 'claim')
            if type(c) == 'string' then
                claims[#claims + 1], claims[#claims + 2] = ids[j], c
            end
        end
    end
    redis.call('DEL', unpack(ks))
end
redis.call('DEL', dk)
L[6] = 0
lens_store(agent, L)
if CLUSTER then
    return claims
end
return #ids
