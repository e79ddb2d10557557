-- uses: lengths
-- each_agent.lua: every agent's lengths in one consistent read.
-- ARGV: prefix
-- Returns one string: a line per agent, as lib_lengths writes it.
local now = clock()
local lines = {}
local all = redis.call('HGETALL', AGENTS)
for i = 1, #all, 2 do
    lines[#lines + 1] = lengths(all[i], now, all[i + 1])
end
return table.concat(lines, '\n')
