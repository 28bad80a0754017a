#!lua
-- Reserves an order's items, all or nothing, once per order.
-- KEYS[1] the reservation, KEYS[1 + i] the stock of item i (distinct SKUs).
-- ARGV[1] the items as JSON, then per item its SKU and quantity.
-- Reply: {status, items, short sku, requested, available} (the last three for out_of_stock):
--   reserved, out_of_stock, or what was recorded before (reserved, sold, out_of_stock,
--   released), unchanged.
-- Before its first write: every key a hash or nothing, the arguments (a stock key, SKU and
--   quantity per item), the reservation's status, each quantity a positive whole number, no
--   stock key twice, every existing stock hash well-formed.
--! include "includes/stock-checks.lua"
-- luacheck: read globals refuse checkTypes isCount stock reservation
local err = checkTypes()
if err then return err end
local n = #KEYS - 1
if n < 1 or #ARGV ~= 1 + 2 * n then return refuse('inventory.reserve needs a stock key, SKU and quantity per item') end
local r, e = reservation('items', 'sku', 'requested', 'available')
if e then return e end
if r then
  -- Reserved, sold, out of stock or released already: answer what was recorded, change nothing.
  return {r[1], r[2] or '', r[3] or '', r[4] or '', r[5] or ''}
end
local seen = {}
for i = 1, n do
  local q = ARGV[2 * i + 1]
  if not isCount(q) or tonumber(q) < 1 then
    return refuse('the quantity ' .. tostring(q) .. ' of ' .. ARGV[2 * i] .. ' is not a positive whole number')
  end
  if seen[KEYS[1 + i]] then return refuse(KEYS[1 + i] .. ' is given twice') end
  seen[KEYS[1 + i]] = true
end
local short = nil
for i = 1, n do
  local available = '0'  -- an unknown SKU has none
  if redis.call('EXISTS', KEYS[1 + i]) == 1 then
    local s, se = stock(1 + i)
    if se then return se end
    available = s.available
  end
  if short == nil and tonumber(available) < tonumber(ARGV[2 * i + 1]) then
    short = {ARGV[2 * i], ARGV[2 * i + 1], available}
  end
end
-- Every check passed: the writes below cannot fail.
if short then
  redis.call('HSET', KEYS[1], 'status', 'out_of_stock', 'items', ARGV[1], 'sku', short[1], 'requested', short[2],
    'available', short[3])
  return {'out_of_stock', ARGV[1], short[1], short[2], short[3]}
end
for i = 1, n do
  local q = ARGV[2 * i + 1]
  redis.call('HINCRBY', KEYS[1 + i], 'available', '-' .. q)
  redis.call('HINCRBY', KEYS[1 + i], 'reserved', q)
end
redis.call('HSET', KEYS[1], 'status', 'reserved', 'items', ARGV[1])
return {'reserved', ARGV[1], '', '', ''}
