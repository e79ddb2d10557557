-- uses: lens
-- dead.lua: move a reserved message to agent's DLQ.
-- ARGV: prefix, agent, id, token, reason, error
-- Returns 0, or 1 when the reservation is no longer held (see ack.lua).
local agent, id, token = ARGV[2], ARGV[3], ARGV[4]
if redis.call('ZREM', key('if', agent), id .. '\t' .. token) == 0 then
    return 1
end
local L, counted = lens_load(agent)
if not counted then
    L[5] = L[5] - 1
end
local _, now_s = clock()
redis.call('HSET', mkey(agent, id), 'attempt', string.match(token, '^%d+'), 'reason', ARGV[5],
           'error', ARGV[6], 'dead_at', now_s)
L[6] = redis.call('RPUSH', key('dlq', agent), id)
lens_store(agent, L)
return 0
