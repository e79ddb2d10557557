-- uses: queue decode
-- take.lua: reserve agent's next message.
-- ARGV: prefix, agent, visibility_s, max_attempts
-- When a timer of agent may be due (NEXT), first settles its expired
-- reservations, then moves due retries to the back of their queue; then
-- pops HIGH, NORMAL, LOW. A message that does not decode goes to the DLQ
-- ("poison") and the next one is tried. The token names this reservation
-- -- its attempt, priority and Redis's time -- so no two reservations of a
-- message share one. Returns {head, payload}, head being these fields
-- joined by "\n" (a reply of few elements is much cheaper to make):
--   0 recovered dead poisoned id from type priority attempt enqueued_at
--   ready_at received_at traceparent tracestate token
-- or, when nothing is deliverable, {head}:
--   1 recovered dead poisoned seconds-until-a-retry-may-be-due-or-a-
--   reservation-may-expire ("" if none)
local agent, visibility, max_attempts = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local now, now_s = clock()
local nrec, ndead, npois, delta = 0, 0, 0, 0

local next_at = tonumber(redis.call('HGET', NEXT, agent))
if next_at and next_at <= now then
    local expired = redis.call('ZRANGEBYSCORE', key('if', agent), '-inf', now_s)
    if #expired > 0 then
        nrec, ndead, npois = settle(agent, expired, now_s, max_attempts)
        delta = nrec
    end
    local p = promote(agent, now_s)
    npois, delta = npois + p, delta - p
    next_at = next_timer(agent)
end

for _, p in ipairs(PRIOS) do
    local qk = key('q' .. p, agent)
    while true do
        local id = redis.call('LPOP', qk)
        if not id then
            break
        end
        delta = delta - 1
        local m, why = load(id, agent)
        if m then
            local attempt = tostring(tonumber(m[6]) + 1)
            local token = attempt .. ':' .. m[5] .. ':' .. now_s
            local deadline = now + visibility
            redis.call('ZADD', key('if', agent), deadline, id .. '\t' .. token)
            if not next_at or deadline < next_at then
                redis.call('HSET', NEXT, agent, deadline)
            end
            add_waiting(agent, delta, 0)
            return {table.concat({'0', nrec, ndead, npois, id, m[1], m[3], m[5], attempt, m[7],
                                  m[8], now_s, m[9], m[10], token}, '\n'), m[4]}
        end
        poison(agent, id, why, now_s)
        npois = npois + 1
    end
end

if delta ~= 0 then
    add_waiting(agent, delta, 0)
else
    redis.call('HSETNX', AGENTS, agent, 0) -- receiving registers the agent too
end
return {table.concat({'1', nrec, ndead, npois,
                      next_at and string.format('%.6f', math.max(next_at - now, 0)) or ''}, '\n')}
