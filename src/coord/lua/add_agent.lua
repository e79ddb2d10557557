-- add_agent.lua: make an agent known. ARGV: prefix, agent. Returns 0.
redis.call('HSETNX', AGENTS, ARGV[2], 0)
return 0
