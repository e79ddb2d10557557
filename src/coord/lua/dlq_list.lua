-- dlq_list.lua: the first max entries of agent's DLQ, oldest first.
-- ARGV: prefix, agent, max
-- Returns {id, from, to, type, payload, priority, attempt, reason, error,
-- dead_at, id, ...}: ten strings per entry, "" for a missing field (a
-- poisoned message may have lost any of them); an error naming the DLQ's
-- key when it is not a list.
local agent, max = ARGV[2], tonumber(ARGV[3])
local out = {}
if max <= 0 then
    return out
end
local dk = key('dlq', agent)
local ids = redis.pcall('LRANGE', dk, 0, max - 1)
if ids.err then
    return redis.error_reply('WRONGTYPE key ' .. dk .. ' is not a list: ' .. ids.err)
end
for _, id in ipairs(ids) do
    local v = redis.pcall('HMGET', mkey(agent, id), 'from', 'to', 'type', 'payload', 'priority',
                          'attempt', 'reason', 'error', 'dead_at')
    if v.err then
        v = {}
    end
    out[#out + 1] = id
    for i = 1, 9 do
        out[#out + 1] = v[i] or ''
    end
end
return out
