-- uses: queue lens
-- send.lua: enqueue a message at the back of its priority's queue.
-- ARGV: prefix, id, from, to, type, payload, priority, traceparent,
--       tracestate, max_queue[, claim, inline, ids] -- on a cluster, the
--       id's claim (common.lua's ids), kept in the message so that whoever
--       deletes it can release the claim; inline "1" when the claim is made
--       here rather than before: the id is of this bucket too (a generated
--       id always is: coord_redis_claim.c), or of a bucket whose slot this
--       master serves too, whose ids hash is then ids ("" = this bucket's).
--       On a cluster this script runs with allow-cross-slot-keys for that
--       hash alone, read before anything else: when its slot is not
--       this master's (the map changed), Redis fails the script there and
--       nothing has changed (the caller claims the long way).
-- Returns 0 (queued), 1 (the id is in the coordinator: AM_EEXIST) or 2
-- (to's queue holds max_queue messages: AM_EFULL), checked in that order,
-- as coord_memory.c; the recipient is registered in every case; inline, 3
-- when another agent holds the claim (the caller claims the long way).
-- The maintained lengths only let a send through: a refusal is decided on
-- the lists themselves (and the line recounted if they disagree).
local id, to, prio, max_queue = ARGV[2], ARGV[4], ARGV[7], tonumber(ARGV[10])
local ik, held = nil, nil
if ARGV[12] == '1' then -- read first: see ids above
    ik = (ARGV[13] or '') ~= '' and ARGV[13] or B .. ':ids'
    held = redis.call('HGET', ik, id)
end
local mk = mkey(to, id)
if redis.call('EXISTS', mk) == 1 then
    lens_register(to)
    return 1
end
local L, counted = lens_load(to)
if L[1] + L[2] + L[3] + L[4] >= max_queue then
    local exact = waiting_exact(to)
    if exact ~= L[1] + L[2] + L[3] + L[4] then
        L, counted = recount(to, redis.call), true
    end
    if exact >= max_queue then
        if counted then
            lens_store(to, L)
        end
        return 2
    end
end
local claim = ARGV[11]
if ik then
    if held then
        if string.match(held, '^[^\t]*') ~= to then
            return 3
        end
        claim = held -- this agent's (left behind): kept, as its release will name it
    else
        redis.call('HSET', ik, id, claim)
    end
end
local _, now = clock()
local f = {'from', ARGV[3], 'to', to, 'type', ARGV[5], 'payload', ARGV[6], 'priority', prio,
           'attempt', '0', 'enqueued_at', now}
if ARGV[8] ~= '' then
    f[15], f[16], f[17], f[18] = 'traceparent', ARGV[8], 'tracestate', ARGV[9]
end
if claim then
    f[#f + 1], f[#f + 2] = 'claim', claim
end
redis.call('HSET', mk, unpack(f))
local qi = QI[prio]
L[qi] = redis.call('RPUSH', key('q' .. prio, to), id)
if L[qi] == 1 then
    L[6 + qi] = tonumber(now)
end
lens_store(to, L)
signal(to)
return 0
