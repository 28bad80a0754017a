-- Shared by the payment scripts: checks KEYS[1] (a hash or nothing) and, when it exists, its
-- fields, before any write. Leaves refuse(message) (an error reply that says nothing was
-- written), isCents(s) (a whole number of cents as text) and record (its status,
-- charged_cents, refunded_cents, reason; or nil).
-- luacheck: ignore 211 311
local function refuse(message) return redis.error_reply('ERR ' .. message .. '; nothing was written') end
local function isCents(s) return type(s) == 'string' and #s <= 18 and string.match(s, '^-?%d+$') ~= nil end
local t = redis.call('TYPE', KEYS[1]).ok
if t ~= 'none' and t ~= 'hash' then
  return redis.error_reply('WRONGTYPE ' .. KEYS[1] .. ' is a ' .. t .. ', not a hash; nothing was written')
end
local record = nil
if t == 'hash' then
  record = redis.call('HMGET', KEYS[1], 'status', 'charged_cents', 'refunded_cents', 'reason')
  local statuses = {charged = true, declined = true, refunded = true}
  if not statuses[record[1] or ''] or not isCents(record[2]) or not isCents(record[3]) then
    return refuse(KEYS[1] .. ' is not a payment record (status, charged_cents, refunded_cents)')
  end
  record[4] = record[4] or ''
end
