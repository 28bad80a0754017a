#!lua
-- Moves entries to the dead letters: per entry, if still pending to this consumer, XACK it
-- and XADD its fields with the dlq_* fields to the dead-letter stream.
-- KEYS[1] stream, KEYS[2] dead-letter stream.
-- ARGV[1] group, ARGV[2] consumer, ARGV[3] failed at (RFC 3339); then per entry: id,
--   deliveries, reason, error, the number of field arguments, the fields (name, value, ...).
-- Reply: per entry 1 (moved) or 0 (not pending to ARGV[2]: nothing written for it).
-- Before its first write: KEYS[2] must be a stream or nothing (else WRONGTYPE, nothing
--   written); XPENDING raises on a missing stream or group before any write.
local t = redis.call('TYPE', KEYS[2]).ok
if t ~= 'none' and t ~= 'stream' then
  return redis.error_reply('WRONGTYPE ' .. KEYS[2] .. ' is a ' .. t .. ', not a stream: no dead letter written')
end
local moved = {}
local i = 4
while i <= #ARGV do
  local id, n = ARGV[i], tonumber(ARGV[i + 4])
  local result = 0
  if #redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1, ARGV[2]) == 1
    and redis.call('XACK', KEYS[1], ARGV[1], id) == 1 then
    local fields = {KEYS[2], '*'}
    for j = i + 5, i + 4 + n do fields[#fields + 1] = ARGV[j] end
    for _, v in ipairs({
      'dlq_stream', KEYS[1], 'dlq_entry_id', id,
      'dlq_group', ARGV[1], 'dlq_consumer', ARGV[2],
      'dlq_deliveries', ARGV[i + 1], 'dlq_reason', ARGV[i + 2],
      'dlq_error', ARGV[i + 3], 'dlq_failed_at', ARGV[3]}) do
      fields[#fields + 1] = v
    end
    redis.call('XADD', unpack(fields))
    result = 1
  end
  moved[#moved + 1] = result
  i = i + 5 + n
end
return moved
