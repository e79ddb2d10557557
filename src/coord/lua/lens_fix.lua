-- uses: lens audit
-- lens_fix.lua: complete the lines a snapshot could not use as stored --
-- a head time not known ("?") is looked up, a line that does not parse
-- (an older version's count, an edit by hand) is counted from the keys --
-- and store them.
-- ARGV: prefix, agent...
-- Returns one string per agent: its line; "" when the agent is not known
-- (any more); or "!<key>\t<error>" when one of its keys holds the wrong
-- type (recorded in BADKEYS).
local out = {}
for i = 2, #ARGV do
    local agent = ARGV[i]
    local v = redis.call('HGET', lens_key(agent), agent)
    local t = lens_decode(v, agent)
    local ok, r, why = true, nil, nil
    if not v then
        out[#out + 1] = ''
    else
        if t then
            local changed = false
            for qi = 1, 3 do
                if t[6 + qi] == UNKNOWN then
                    changed = true
                    if t[qi] == 0 then
                        t[6 + qi] = NONE
                    else
                        ok, r, why = lens_try(agent, head_time, safe_call, agent,
                                              key(QKIND[qi], agent))
                        if not ok then
                            break
                        end
                        t[6 + qi] = r
                    end
                end
            end
            if ok and changed then
                lens_store(agent, t)
            end
        else
            ok, r, why = lens_try(agent, recount, agent, safe_call)
            if ok then
                t = r
                lens_store(agent, t)
            end
        end
        out[#out + 1] = ok and lens_encode(agent, t) or ('!' .. r .. '\t' .. why)
    end
end
return out
