-- Renews this consumer's claim on entries it is still handling (idle time back to 0,
-- delivery count unchanged), each only while still pending to this consumer and while its
-- body is in the stream: XCLAIM of a deleted entry drops it from the PEL with no trace
-- (Redis 7), which would lose the `deleted` dead letter the reclaim loop writes for it.
-- KEYS[1] stream.
-- ARGV[1] group, ARGV[2] consumer, then the entry ids.
-- Reply: how many were renewed.
-- Before its first write: XPENDING raises on a missing stream or group; each renewal is
--   complete by itself.
local renewed = 0
for i = 3, #ARGV do
  if #redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1, ARGV[2]) == 1
    and #redis.call('XRANGE', KEYS[1], ARGV[i], ARGV[i]) == 1 then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
    renewed = renewed + 1
  end
end
return renewed
