-- luacheck configuration for the Redis Lua scripts (scripts/test.sh runs luacheck over
-- every .lua file under Sources/; a warning fails the tests).
std = "lua51"
-- What Redis gives a script (Lua 5.1 with these libraries), read only: Redis refuses to
-- create globals.
read_globals = { "redis", "KEYS", "ARGV", "cjson", "cmsgpack", "bit", "struct", "unpack" }
max_line_length = 130
