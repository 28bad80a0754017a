-- Gives deliveries back: sets each entry's delivery count (XCLAIM ... RETRYCOUNT n JUSTID),
-- only for entries still pending to this consumer and whose body is in the stream (XCLAIM of
-- a deleted entry drops it from the PEL with no trace; the reclaim loop dead-letters it).
-- KEYS[1] stream.
-- ARGV[1] group, ARGV[2] consumer, then per entry: id, the delivery count to set.
-- Reply: how many were set.
-- Before its first write: XPENDING raises on a missing stream or group; each entry's
--   XCLAIM is complete by itself.
local restored = 0
for i = 3, #ARGV, 2 do
  if #redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1, ARGV[2]) == 1
    and #redis.call('XRANGE', KEYS[1], ARGV[i], ARGV[i]) == 1 then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'RETRYCOUNT', ARGV[i + 1], 'JUSTID')
    restored = restored + 1
  end
end
return restored
