#!lua
-- Deletes every key matching the globs (a projection's read model and processed markers)
-- before a rebuild.
-- KEYS[1] the projection's state key (declared for cluster routing only; not written).
-- ARGV the globs to delete.
-- Reply: how many keys were deleted.
-- Before its first write: nothing can fail (SCAN and UNLINK accept any key type); each
--   UNLINK is complete by itself.
local deleted = 0
for a = 1, #ARGV do
  local cursor = '0'
  repeat
    local reply = redis.call('SCAN', cursor, 'MATCH', ARGV[a], 'COUNT', 1000)
    cursor = reply[1]
    if #reply[2] > 0 then deleted = deleted + redis.call('UNLINK', unpack(reply[2])) end
  until cursor == '0'
end
return deleted
