-- uses: lengths
-- stats.lua: one agent's lengths.
-- ARGV: prefix, agent
-- Returns {1} for an unknown agent, else {0, the line lib_lengths writes}.
local agent = ARGV[2]
local waiting = redis.call('HGET', AGENTS, agent)
if not waiting then
    return {1}
end
return {0, lengths(agent, (clock()), waiting)}
