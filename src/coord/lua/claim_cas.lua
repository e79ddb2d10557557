-- claim_cas.lua: change the claim of a message id (cluster only; see
-- common.lua's ids and coord_redis_claim.c) from what the caller read to
-- what it wants, if nobody changed it since: compare and set.
-- KEYS[1]: the id's bucket. ARGV: prefix, id, expected ("" = none), new.
-- Returns 1 when set, 0 when the claim was not the one expected.
local ik, id, want = B .. ':ids', ARGV[2], ARGV[3]
local v = redis.call('HGET', ik, id)
if (v or '') ~= want then
    return 0
end
redis.call('HSET', ik, id, ARGV[4])
return 1
