-- Claims pending entries that are due, or dead-letters those whose body is gone.
-- KEYS[1] stream, KEYS[2] dead-letter stream.
-- ARGV[1] group, ARGV[2] consumer, ARGV[3] now (RFC 3339), then per candidate: id, minimum
--   idle time (ms), owner, deliveries.
-- Reply: like XAUTOCLAIM's: {'0-0', claimed entries, ids dead-lettered as deleted}.
-- Before its first write: the first candidate's XRANGE/XPENDING/XCLAIM raises on a missing
--   or wrong-typed stream or a missing group. A dead letter Redis refuses is a pcall whose
--   failure skips that entry's XACK (it stays pending). Each candidate's step is complete
--   by itself.
local claimed, deleted = {}, {}
for i = 4, #ARGV, 4 do
  local id = ARGV[i]
  if #redis.call('XRANGE', KEYS[1], id, id) == 0 then
    if #redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1) == 1 then
      local added = redis.pcall('XADD', KEYS[2], '*',
        'dlq_stream', KEYS[1], 'dlq_entry_id', id,
        'dlq_group', ARGV[1], 'dlq_consumer', ARGV[i + 2],
        'dlq_deliveries', ARGV[i + 3], 'dlq_reason', 'deleted',
        'dlq_error', 'the entry was trimmed or deleted from the stream while pending; its body is gone',
        'dlq_failed_at', ARGV[3])
      if type(added) ~= 'table' or not added.err then
        redis.call('XACK', KEYS[1], ARGV[1], id)
        table.insert(deleted, id)
      end
    end
  else
    local got = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[i + 1], id)
    if #got == 1 then table.insert(claimed, got[1]) end
  end
end
return {'0-0', claimed, deleted}
