-- uses: lens
-- migrate.lua: move agents of the 0.1 layout (the hash agents: agent ->
-- messages waiting; next: agent -> next timer) to lens:<n>, their lines
-- counted from their keys, a batch at a time; a snapshot or recover that
-- finds the hash agents runs it until it is gone.
-- ARGV: prefix, how many
-- Returns how many agents are left to move.
local old = P .. ':agents'
local r = redis.call('HSCAN', old, 0, 'COUNT', tonumber(ARGV[2]))
local kv = r[2]
for i = 1, #kv, 2 do
    lens_register(kv[i])
    redis.call('HDEL', old, kv[i])
end
local left = redis.call('HLEN', old)
if left == 0 then
    redis.call('DEL', P .. ':next')
end
return left
