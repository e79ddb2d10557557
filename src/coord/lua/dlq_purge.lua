-- uses: lens
-- dlq_purge.lua: delete agent's dead letters (their ids may be sent again).
-- ARGV: prefix, agent. Returns how many were deleted.
local agent = ARGV[2]
local dk = key('dlq', agent)
local ids = redis.call('LRANGE', dk, 0, -1)
if #ids == 0 then
    return 0
end
local L = lens_load(agent)
for i = 1, #ids, 1000 do
    local ks = {}
    for j = i, math.min(i + 999, #ids) do
        ks[#ks + 1] = key('m', ids[j])
    end
    redis.call('DEL', unpack(ks))
end
redis.call('DEL', dk)
L[6] = 0
lens_store(agent, L)
return #ids
