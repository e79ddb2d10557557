-- lib_audit.lua: reading an agent's keys when one may hold the wrong type
-- (someone SET a string where a list belongs), and judging its line
-- against them. Needs lib_lens.

-- A redis.call for recount that, when a key holds the wrong type, raises
-- "badkey\t<key>\t<error>" (caught by lens_try).
local function safe_call(cmd, k, ...)
    local r = redis.pcall(cmd, k, ...)
    if type(r) == 'table' and r.err then
        error('badkey\t' .. k .. '\t' .. r.err, 0)
    end
    return r
end

-- Run fn(...) and catch a key of the wrong type: returns true and fn's
-- result, or false, the key and the error (recorded in BADKEYS for agent).
local function lens_try(agent, fn, ...)
    local ok, r = pcall(fn, ...)
    if ok then
        return true, r
    end
    local k, why = string.match(tostring(r), '^badkey\t([^\t]*)\t(.*)$')
    if not k then
        error(r, 0)
    end
    redis.call('HSET', BADKEYS, k, agent .. '\t' .. why)
    return false, k, why
end

-- Forget agent's keys in BADKEYS (they read fine now); has_bad: BADKEYS
-- exists (the caller asked once).
local function lens_clear_bad(agent, has_bad)
    if has_bad then
        redis.call('HDEL', BADKEYS, key('q1', agent), key('q5', agent), key('q9', agent),
                   key('dl', agent), key('if', agent), key('dlq', agent))
    end
end

-- Whether the stored line s (a table, or nil) agrees with t, counted from
-- the keys: the same counts, a head time that is t's or not known, and a
-- next no later than t's earliest timer. Disagreeing is drift.
local function lens_agrees(s, t)
    if not s then
        return false
    end
    for i = 1, 6 do
        if s[i] ~= t[i] then
            return false
        end
    end
    for i = 7, 9 do
        if s[i] ~= UNKNOWN and s[i] ~= t[i] then
            return false
        end
    end
    if t[10] == NONE then
        return true
    end
    return s[10] ~= NONE and s[10] <= t[10] + 0.000001
end
