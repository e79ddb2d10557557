-- uses: queue
-- retry.lua: a transient failure; the message waits delay_s, then queues.
-- ARGV: prefix, agent, id, token, delay_s, error
-- Returns 0, or 1 when the reservation is no longer held (see ack.lua).
local agent, id, token = ARGV[2], ARGV[3], ARGV[4]
if redis.call('ZREM', key('if', agent), id .. '\t' .. token) == 0 then
    return 1
end
local due = clock() + tonumber(ARGV[5])
redis.call('HSET', key('m', id), 'attempt', string.match(token, '^%d+'), 'error', ARGV[6])
redis.call('ZADD', key('dl', agent), due, id)
local next_at = tonumber(redis.call('HGET', NEXT, agent))
if not next_at or due < next_at then
    redis.call('HSET', NEXT, agent, due)
end
add_waiting(agent, 1, 0)
signal(agent) -- a blocked receiver recomputes when to look again
return 0
