#!lua
-- Seeds the stock: creates the stock hashes that do not exist yet (available as given,
-- nothing reserved or sold); existing ones are left as they are.
-- KEYS the stock hashes.
-- ARGV[k] the available quantity KEYS[k] starts with.
-- Reply: the keys created.
-- Before its first write: every key a hash or nothing, one quantity per key, each a whole number.
--! include "includes/stock-checks.lua"
-- luacheck: read globals refuse checkTypes isCount
local err = checkTypes()
if err then return err end
if #ARGV ~= #KEYS then return refuse('the seed needs one quantity per stock key') end
for k = 1, #KEYS do
  if not isCount(ARGV[k]) then return refuse('seed quantity ' .. tostring(ARGV[k]) .. ' is not a whole number') end
end
local created = {}
for k = 1, #KEYS do
  if redis.call('EXISTS', KEYS[k]) == 0 then
    redis.call('HSET', KEYS[k], 'available', ARGV[k], 'reserved', '0', 'sold', '0')
    created[#created + 1] = KEYS[k]
  end
end
return created
