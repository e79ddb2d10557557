-- uses: lens
-- audit.lua: count a slice of the agents' lengths from their keys, and
-- store the line of those that disagree (counted in full: recount). No
-- script makes a line disagree; an edit by hand can, and so can a script
-- that failed half-way (a key of the wrong type, Redis out of memory).
-- Only the six counts are compared (six calls an agent: this runs with
-- every snapshot), and a line with timers but no next; recover compares
-- all. Repairs are counted in totals' lens_repairs; keys of the wrong type
-- are recorded in BADKEYS, and forgotten once they read fine.
-- ARGV: prefix, HSCAN cursor of AGENTS ("0" to start), how many (COUNT)
-- Returns {next cursor, repaired, key, agent, error, key, ...}.
local r = redis.call('HSCAN', AGENTS, ARGV[2], 'COUNT', tonumber(ARGV[3]))
local out = {r[1], 0}
local has_bad = redis.call('EXISTS', BADKEYS) == 1
local kv = r[2]
for i = 1, #kv, 2 do
    local agent = kv[i]
    local ok, t, why = lens_try(agent, count_keys, agent, safe_call)
    if ok then
        lens_clear_bad(agent, has_bad)
        local s = lens_decode(kv[i + 1], agent)
        local agrees = s ~= nil
        for j = 1, 6 do
            agrees = agrees and s[j] == t[j]
        end
        if agrees and s[10] == '-' and (t[4] > 0 or t[5] > 0) then
            agrees = false -- timers that no take would look for
        end
        if not agrees then
            out[2] = out[2] + 1
            lens_store(agent, recount(agent, redis.call, t))
        end
    else
        out[#out + 1] = t
        out[#out + 1] = agent
        out[#out + 1] = why
    end
end
if out[2] > 0 then
    redis.call('HINCRBY', P .. ':totals', 'lens_repairs', out[2])
end
return out
