-- Removes the group's consumers (other than the caller) that own no pending entry and have
-- been idle at least ARGV[3] ms.
-- KEYS[1] stream.
-- ARGV[1] group, ARGV[2] the calling consumer (never removed), ARGV[3] idle time (ms).
-- Reply: the names removed.
-- Before its first write: XINFO CONSUMERS raises on a missing stream or group; every
--   removal is complete by itself.
local removed = {}
for _, consumer in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local info = {}
  for i = 1, #consumer, 2 do info[consumer[i]] = consumer[i + 1] end
  if info['name'] ~= ARGV[2] and info['pending'] == 0 and info['idle'] >= tonumber(ARGV[3]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], info['name'])
    table.insert(removed, info['name'])
  end
end
return removed
