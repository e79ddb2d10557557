-- uses: lens audit
-- stats.lua: one agent's lengths, counted from its keys (not its line).
-- ARGV: prefix, agent
-- Returns {1} for an unknown agent, {2, key, error} when one of its keys
-- holds the wrong type, else {0, Redis's time, the line lib_lens writes}.
local agent = ARGV[2]
if redis.call('HEXISTS', lens_key(agent), agent) == 0 then
    return {1}
end
local ok, t, why = lens_try(agent, recount, agent, safe_call)
if not ok then
    return {2, t, why}
end
local _, now_s = clock()
return {0, now_s, lens_encode(agent, t)}
