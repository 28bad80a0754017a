#!lua
-- Creates a pending order and appends its order.created, once per idempotency key.
-- KEYS[1] order hash, KEYS[2] order-events, KEYS[3] (optional) idempotency record.
-- ARGV[1] idempotency window (s), ARGV[2] request fingerprint, ARGV[3] order id, ARGV[4] n,
--   ARGV[5 .. 4+n] hash fields and values, then the XADD: its argument count and arguments.
-- Reply: {created|existing|reused, order id} (existing, reused: nothing written).
-- Before its first write: every key's type, the idempotency record, that the order does not
--   exist yet. The #!lua flags make Redis above maxmemory refuse the whole script before it starts.
local expected = {'hash', 'stream', 'hash'}
for k = 1, #KEYS do
  local t = redis.call('TYPE', KEYS[k]).ok
  if t ~= 'none' and t ~= expected[k] then
    return redis.error_reply('WRONGTYPE ' .. KEYS[k] .. ' is a ' .. t .. ', not a ' .. expected[k] .. '; nothing was written')
  end
end
local fingerprint = redis.sha1hex(ARGV[2])
if #KEYS == 3 then
  local earlier = redis.call('HMGET', KEYS[3], 'order_id', 'fingerprint')
  if earlier[1] then
    if earlier[2] == fingerprint then return {'existing', earlier[1]} end
    return {'reused', earlier[1]}
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.error_reply('ERR order ' .. ARGV[3] .. ' already exists; nothing was written')
end
local n = tonumber(ARGV[4])
local i = 5 + n
redis.call(unpack(ARGV, i + 1, i + tonumber(ARGV[i])))
redis.call('HSET', KEYS[1], unpack(ARGV, 5, 4 + n))
if #KEYS == 3 then
  redis.call('HSET', KEYS[3], 'order_id', ARGV[3], 'fingerprint', fingerprint)
  redis.call('EXPIRE', KEYS[3], ARGV[1])
end
return {'created', ARGV[3]}
