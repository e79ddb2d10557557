-- uses: lens
-- add_agent.lua: make an agent known. ARGV: prefix, agent. Returns 0.
lens_register(ARGV[2])
return 0
