-- totals.lua: the shared counters. ARGV: prefix.
-- Returns their values (strings, "0" when never added) in NAMES order.
local v = redis.call('HMGET', P .. ':totals', 'nacks', 'retries', 'permanent', 'ok', 'error',
                     'recovered', 'sent', 'dead')
for i = 1, 8 do
    v[i] = v[i] or '0'
end
return v
