-- Shared by the scripts that work on a reservation's recorded items (release-stock.lua,
-- sell-stock.lua), after includes/stock-checks.lua. KEYS[1] the reservation, KEYS[1 + i] the
-- stock of recorded item i. ARGV[1] the items field as the caller read it (empty: none),
-- ARGV[1 + i] the quantity of item i. Answers {'stale'} when the record's items are no longer
-- those. Leaves n (the number of items), r (the reservation's status, items, released_items,
-- or nil) and move(from, to) (moves each item's quantity between stock fields after checking
-- every stock hash holds it; returns the error or nil).
-- luacheck: read globals checkTypes refuse isCount reservation stock
-- luacheck: ignore 211
local err = checkTypes()
if err then return err end
local n = #KEYS - 1
if #ARGV ~= 1 + n then return refuse('one quantity per stock key is needed') end
for i = 1, n do
  if not isCount(ARGV[1 + i]) then return refuse('the quantity ' .. tostring(ARGV[1 + i]) .. ' is not a whole number') end
end
local r, e = reservation('items', 'released_items')
if e then return e end
if r and (r[2] or '') ~= ARGV[1] then return {'stale'} end
if not r and ARGV[1] ~= '' then return {'stale'} end
-- Moves each item's quantity from the stock field `from` to `to`, after checking that
-- every stock hash holds it.
local function move(from, to)
  for i = 1, n do
    local s, se = stock(1 + i)
    if se then return se end
    if tonumber(s[from]) < tonumber(ARGV[1 + i]) then
      return refuse(KEYS[1 + i] .. ' has ' .. s[from] .. ' ' .. from .. ', less than the ' .. ARGV[1 + i] .. ' of ' .. KEYS[1])
    end
  end
  for i = 1, n do
    redis.call('HINCRBY', KEYS[1 + i], from, '-' .. ARGV[1 + i])
    redis.call('HINCRBY', KEYS[1 + i], to, ARGV[1 + i])
  end
  return nil
end
