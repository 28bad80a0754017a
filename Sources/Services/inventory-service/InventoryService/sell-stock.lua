#!lua
-- Turns an order's reservation into a sale (reserved -> sold), once; any other state is
-- left as it is.
-- KEYS[1] the reservation, KEYS[1 + i] the stock of recorded item i.
-- ARGV[1] the items field as the caller read it (empty: none), ARGV[1 + i] the quantity of item i.
-- Reply: {'sold'}, {'unchanged', status or 'none'}, or {'stale'} (nothing written: read again).
-- Before its first write: as release-stock.lua (includes/recorded-items.lua), and that every
--   stock hash holds the reserved quantities.
--! include "includes/stock-checks.lua"
--! include "includes/recorded-items.lua"
-- luacheck: read globals move r
if not r then return {'unchanged', 'none'} end
if r[1] ~= 'reserved' then return {'unchanged', r[1]} end
local me = move('reserved', 'sold')
if me then return me end
redis.call('HSET', KEYS[1], 'status', 'sold')
return {'sold'}
