-- uses: queue lens
-- retry.lua: a transient failure; the message waits delay_s, then queues.
-- ARGV: prefix, agent, id, token, delay_s, error
-- Returns 0, or 1 when the reservation is no longer held (see ack.lua).
local agent, id, token = ARGV[2], ARGV[3], ARGV[4]
if redis.call('ZREM', key('if', agent), id .. '\t' .. token) == 0 then
    return 1
end
local L, counted = lens_load(agent)
local due = clock() + tonumber(ARGV[5])
redis.call('HSET', mkey(agent, id), 'attempt', string.match(token, '^%d+'), 'error', ARGV[6])
local added = redis.call('ZADD', key('dl', agent), due, id)
if counted then
    L = recount(agent, redis.call) -- counted before the ZADD: count again
else
    L[4], L[5] = L[4] + added, L[5] - 1
    if L[10] == NONE or due < L[10] then
        L[10] = due
    end
end
lens_store(agent, L)
signal(agent) -- a blocked receiver recomputes when to look again
return 0
