#!lua
-- Parks a deadline that cannot run: moves ARGV[1] from the deadlines to the parked deadlines
-- with the error, when it is still a deadline.
-- KEYS[1] deadlines (sorted set), KEYS[2] parked deadlines (hash).
-- ARGV[1] member, ARGV[2] error, ARGV[3] now (ms).
-- Reply: 1 parked, 0 (nothing written) when the member is no longer a deadline.
-- Before its first write: the parked hash's type, the time is a number, then the deadline
--   (ZSCORE raises on a deadlines key of another type).
-- Every check before the first write: the parked hash's type, then the deadline
-- (ZSCORE fails on a deadlines key of another type).
local t = redis.call('TYPE', KEYS[2]).ok
if t ~= 'none' and t ~= 'hash' then
  return redis.error_reply('WRONGTYPE ' .. KEYS[2] .. ' is a ' .. t .. ', not a hash; nothing was written')
end
local now = tonumber(ARGV[3])
if not now then return redis.error_reply('ERR parking time ' .. tostring(ARGV[3]) .. ' is not a number; nothing was written') end
local due = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not due then return 0 end
redis.call('HSET', KEYS[2], ARGV[1],
  cjson.encode({error = ARGV[2], due_at_ms = tonumber(due), parked_at_ms = now}))
redis.call('ZREM', KEYS[1], ARGV[1])
return 1
