#!lua
-- Gives an order's reservation (or sale) back, once, and marks it released; with no
-- reservation, leaves a released record with no items (a late reserve is refused).
-- KEYS[1] the reservation, KEYS[1 + i] the stock of recorded item i.
-- ARGV[1] the items field as the caller read it (empty: none), ARGV[1 + i] the quantity of item i.
-- Reply: {'released', items given back as JSON}, or {'stale'} (nothing written: read again).
-- Before its first write: every key a hash or nothing, one whole-number quantity per stock
--   key, the reservation's status, its items as the caller read them, every stock hash
--   well-formed and holding the quantities it gives back.
--! include "includes/stock-checks.lua"
--! include "includes/recorded-items.lua"
-- luacheck: read globals r move
if not r then
  -- Released before any reserve: a tombstone, so that a late reserve is refused.
  redis.call('HSET', KEYS[1], 'status', 'released', 'items', '', 'released_items', '[]')
  return {'released', '[]'}
end
if r[1] == 'released' then return {'released', r[3] or '[]'} end
if r[1] == 'out_of_stock' then
  redis.call('HSET', KEYS[1], 'status', 'released', 'released_items', '[]')
  return {'released', '[]'}
end
-- reserved or sold: the stock goes back to available.
local me = move(r[1], 'available')
if me then return me end
redis.call('HSET', KEYS[1], 'status', 'released', 'released_items', ARGV[1])
return {'released', ARGV[1]}
