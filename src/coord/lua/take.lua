-- uses: queue lens decode
-- take.lua: reserve agent's next message.
-- ARGV: prefix, agent, visibility_s, max_attempts
-- When a timer of agent may be due (its line's next), first settles its
-- expired reservations, then moves due retries to the back of their
-- queue; then pops HIGH, NORMAL, LOW -- only the queues its line says are
-- not empty. A message that does not decode goes to the DLQ ("poison")
-- and the next one is tried. The token names this reservation -- its
-- attempt, priority and Redis's time -- so no two reservations of a
-- message share one. Returns {head, payload}, head being these fields
-- joined by "\n" (a reply of few elements is much cheaper to make):
--   0 recovered dead poisoned id from type priority attempt enqueued_at
--   ready_at received_at traceparent tracestate token claim (cluster: the
--   id's claim, see common.lua's ids; "" when none)
-- or, when nothing is deliverable, {head}:
--   1 recovered dead poisoned seconds-until-a-retry-may-be-due-or-a-
--   reservation-may-expire ("" if none)
local agent, visibility, max_attempts = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local now, now_s = clock()
local nrec, ndead, npois = 0, 0, 0
local L, changed = lens_load(agent) -- a line counted now (or new) is stored

local next_at = L[10] ~= NONE and L[10] or nil
if next_at and next_at <= now then
    local expired = redis.call('ZRANGEBYSCORE', key('if', agent), '-inf', now_s)
    if #expired > 0 then
        nrec, ndead, npois = settle(agent, expired, now_s, max_attempts, L)
    end
    npois = npois + promote(agent, now_s, L)
    next_at = next_timer(agent, L)
    changed = true
end

for qi = 3, 1, -1 do
    local qk = key(QKIND[qi], agent)
    while L[qi] > 0 do
        local id = redis.call('LPOP', qk)
        changed = true
        if not id then
            L[qi], L[6 + qi] = 0, NONE -- the line said more than the list had
            break
        end
        L[qi] = L[qi] - 1
        L[6 + qi] = L[qi] > 0 and UNKNOWN or NONE
        local m, why = load(id, agent)
        if m then
            local attempt = tostring(tonumber(m[6]) + 1)
            local token = attempt .. ':' .. m[5] .. ':' .. now_s
            local deadline = now + visibility
            L[5] = L[5] + redis.call('ZADD', key('if', agent), deadline, id .. '\t' .. token)
            if not next_at or deadline < next_at then
                L[10] = deadline
            end
            lens_store(agent, L)
            return {table.concat({'0', nrec, ndead, npois, id, m[1], m[3], m[5], attempt, m[7],
                                  m[8], now_s, m[9], m[10], token, m[11]}, '\n'), m[4]}
        end
        poison(agent, id, why, now_s, L)
        npois = npois + 1
    end
end

if changed then
    lens_store(agent, L) -- receiving registers the agent too
end
return {table.concat({'1', nrec, ndead, npois,
                      next_at and string.format('%.6f', math.max(next_at - now, 0)) or ''}, '\n')}
