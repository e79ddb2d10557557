-- totals_add.lua: add one process's counter deltas to the shared totals,
-- once: a batch is numbered, and a batch whose number was applied already
-- (its reply was lost, and it is sent again) changes nothing.
-- ARGV: prefix, process id, batch number, final ("1" on close), then one
-- delta per counter in the order of NAMES. (On a cluster, in the bucket of
-- the process id: the totals are those of the bucket, summed when read.)
-- Returns 1 when applied, 0 when it had been.
local NAMES = {'nacks', 'retries', 'permanent', 'ok', 'error', 'recovered', 'sent', 'dead'}
local fk, proc, seq = B .. ':flushseq', ARGV[2], tonumber(ARGV[3])
local last = tonumber(redis.call('HGET', fk, proc) or '0')
local applied = 0
if seq > last then
    for i, name in ipairs(NAMES) do
        local d = ARGV[4 + i]
        if d ~= '0' then
            redis.call('HINCRBY', TOTALS, name, d)
        end
    end
    applied = 1
end
if ARGV[4] == '1' then
    redis.call('HDEL', fk, proc) -- the process is closing: nothing will come again
elseif applied == 1 then
    redis.call('HSET', fk, proc, ARGV[3])
end
return applied
