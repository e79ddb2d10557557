-- uses: lens audit
-- audit.lua: count a slice of the agents' lengths from their keys, and
-- store the line of those that disagree (counted in full: recount). No
-- script makes a line disagree; an edit by hand can, and so can a script
-- that failed half-way (a key of the wrong type, Redis out of memory).
-- Only the six counts are compared (six calls an agent: this runs with
-- every snapshot), and a line with timers but no next; recover compares
-- all. Repairs are counted in totals' lens_repairs; keys of the wrong type
-- are recorded in BADKEYS, and forgotten once they read fine.
-- ARGV: prefix, bucket (0..63) and HSCAN cursor of lens:<bucket> where
-- the last audit stopped ("0 0" to start), how many agents (at most)
-- Returns {bucket, cursor, repaired, key, agent, error, key, ...}: where
-- to go on, lines repaired, keys of the wrong type met. Walks on through
-- the buckets until it has counted that many agents or been round all 64
-- -- on a cluster, where a script sees one bucket (KEYS[1]'s), it stops
-- at the end of its bucket.
local b, cursor, budget = tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local out = {0, '0', 0}
local has_bad = redis.call('EXISTS', BADKEYS) == 1
local seen, visited = 0, 0

local function audit_one(k, agent, line)
    if bucket_of(agent) ~= b then -- put in the wrong bucket (by hand): move it
        redis.call('HDEL', k, agent)
        if not CLUSTER then -- (on a cluster its keys are in its own bucket's slot)
            lens_register(agent)
        end
        out[3] = out[3] + 1
        return
    end
    local ok, t, why = lens_try(agent, count_keys, agent, safe_call)
    if not ok then
        out[#out + 1] = t
        out[#out + 1] = agent
        out[#out + 1] = why
        return
    end
    lens_clear_bad(agent, has_bad)
    local s = lens_decode(line, agent)
    local agrees = s ~= nil
    for j = 1, 6 do
        agrees = agrees and s[j] == t[j]
    end
    if agrees and s[10] == NONE and (t[4] > 0 or t[5] > 0) then
        agrees = false -- timers that no take would look for
    end
    if not agrees then
        out[3] = out[3] + 1
        lens_store(agent, recount(agent, redis.call, t))
    end
end

while seen < budget and visited <= NBUCKETS do
    local k = CLUSTER and B .. ':lens' or P .. ':lens:' .. b
    local r = redis.pcall('HSCAN', k, cursor, 'COUNT', budget - seen)
    if r.err then -- not a hash: someone wrote over it
        redis.call('HSET', BADKEYS, k, '\t' .. r.err)
        r = {'0', {}}
    end
    local kv = r[2]
    for i = 1, #kv, 2 do
        audit_one(k, kv[i], kv[i + 1])
        seen = seen + 1
    end
    cursor = r[1]
    if cursor == '0' then
        b = (b + 1) % NBUCKETS
        visited = visited + 1
        if CLUSTER then
            break
        end
    end
end
out[1], out[2] = b, cursor
if out[3] > 0 then
    redis.call('HINCRBY', TOTALS, 'lens_repairs', out[3])
end
return out
