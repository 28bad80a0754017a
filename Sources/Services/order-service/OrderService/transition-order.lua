#!lua
-- Moves an order: pending -> confirmed, or pending|confirmed -> cancelled (a cancelled order
-- keeps its first reason).
-- KEYS[1] order hash.
-- ARGV[1] confirmed|cancelled, ARGV[2] reason (cancel), ARGV[3] now (RFC 3339).
-- Reply: nil for an unknown order, else {1 if changed else 0, HGETALL of the order}.
-- Before its first write (its only one): the key's type and the stored status.
local t = redis.call('TYPE', KEYS[1]).ok
if t == 'none' then return false end
if t ~= 'hash' then
  return redis.error_reply('WRONGTYPE ' .. KEYS[1] .. ' is a ' .. t .. ', not an order hash; nothing was written')
end
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'pending' and status ~= 'confirmed' and status ~= 'cancelled' then
  return redis.error_reply('ERR ' .. KEYS[1] .. ' has status ' .. tostring(status)
    .. ', not an order status; nothing was written')
end
local changed = 0
if ARGV[1] == 'confirmed' and status == 'pending' then
  redis.call('HSET', KEYS[1], 'status', 'confirmed', 'confirmed_at', ARGV[3])
  changed = 1
elseif ARGV[1] == 'cancelled' and status ~= 'cancelled' then
  redis.call('HSET', KEYS[1], 'status', 'cancelled', 'reason', ARGV[2], 'cancelled_at', ARGV[3])
  changed = 1
end
return {changed, redis.call('HGETALL', KEYS[1])}
