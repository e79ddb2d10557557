-- release.lua: release the claims of messages that are gone (cluster
-- only; see common.lua's ids and coord_redis_claim.c): each claim is
-- deleted if it still names the same agent and nonce (its time may have
-- been refreshed since; a claim that names another agent or nonce is
-- someone else's now and stays).
-- KEYS[1]: the ids' bucket. ARGV: prefix, id, claim, id, claim, ...
-- Returns how many were released.
local ik, n = B .. ':ids', 0
for i = 2, #ARGV - 1, 2 do
    local v = redis.call('HGET', ik, ARGV[i])
    local want = claim_of(ARGV[i + 1])
    if v and want and claim_of(v) == want then
        redis.call('HDEL', ik, ARGV[i])
        n = n + 1
    end
end
return n
