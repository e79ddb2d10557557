-- uses: lens
-- ack.lua: the delivery was handled; delete the message.
-- ARGV: prefix, agent, id, token[, inline, ids] -- inline "1": on a
--       cluster, the id's claim is released here: it is in this bucket's
--       ids hash, or in ids ("" = this bucket's), the hash of the id's
--       bucket when this master serves that slot too (read first, before
--       anything is written: send.lua says why)
-- Returns 0, or 1 when that reservation is no longer held (AM_ENOTFOUND):
-- it expired and was settled, was settled already, or never was agent's.
-- Nothing changes then. On a cluster, a message that had a claim (see
-- common.lua's ids) returns it instead of 0, for the caller to release.
local agent, id = ARGV[2], ARGV[3]
local ik, held = nil, nil
if ARGV[5] == '1' then
    ik = (ARGV[6] or '') ~= '' and ARGV[6] or B .. ':ids'
    held = redis.call('HGET', ik, id)
end
if redis.call('ZREM', key('if', agent), id .. '\t' .. ARGV[4]) == 0 then
    return 1
end
local mk, claim = mkey(agent, id), nil
if CLUSTER then
    claim = redis.pcall('HGET', mk, 'claim')
end
redis.call('DEL', mk)
if ik and type(claim) == 'string' then
    if held and claim_of(held) and claim_of(held) == claim_of(claim) then
        redis.call('HDEL', ik, id)
    end
    claim = nil
end
local L, counted = lens_load(agent)
if not counted then
    L[5] = L[5] - 1
end
lens_store(agent, L)
return type(claim) == 'string' and claim or 0
