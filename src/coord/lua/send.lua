-- uses: queue
-- send.lua: enqueue a message at the back of its priority's queue.
-- ARGV: prefix, id, from, to, type, payload, priority, traceparent,
--       tracestate, max_queue
-- Returns 0 (queued), 1 (the id is in the coordinator: AM_EEXIST) or 2
-- (to's queue holds max_queue messages: AM_EFULL), checked in that order,
-- as coord_memory.c; the recipient is registered in every case. The
-- waiting count only lets a send through: a refusal is decided on the
-- lists themselves, and the count set from them.
local id, to, prio, max_queue = ARGV[2], ARGV[4], ARGV[7], tonumber(ARGV[10])
local mk = key('m', id)
if redis.call('EXISTS', mk) == 1 then
    redis.call('HSETNX', AGENTS, to, 0)
    return 1
end
if add_waiting(to, 1, 1) > max_queue then
    local exact = waiting_exact(to)
    if exact >= max_queue then
        redis.call('HSET', AGENTS, to, exact)
        return 2
    end
    redis.call('HSET', AGENTS, to, exact + 1)
end
local _, now = clock()
if ARGV[8] == '' then
    redis.call('HSET', mk, 'from', ARGV[3], 'to', to, 'type', ARGV[5], 'payload', ARGV[6],
               'priority', prio, 'attempt', '0', 'enqueued_at', now)
else
    redis.call('HSET', mk, 'from', ARGV[3], 'to', to, 'type', ARGV[5], 'payload', ARGV[6],
               'priority', prio, 'attempt', '0', 'enqueued_at', now, 'traceparent', ARGV[8],
               'tracestate', ARGV[9])
end
redis.call('RPUSH', key('q' .. prio, to), id)
signal(to)
return 0
