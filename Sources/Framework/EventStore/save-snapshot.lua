#!lua
-- Saves a snapshot unless a newer one of the same schema version is stored.
-- KEYS[1] snapshot hash.
-- ARGV[1] version, ARGV[2] schema version, ARGV[3] state.
-- Reply: 1 saved, 0 (nothing written) when the stored one is as new or newer.
-- Before its first write: the versions are whole numbers; HMGET raises on a key of another type.
if not (string.match(ARGV[1] or '', '^%d+$') and string.match(ARGV[2] or '', '^%d+$')) then
  return redis.error_reply('ERR snapshot version ' .. tostring(ARGV[1]) .. ' or schema version ' .. tostring(ARGV[2])
    .. ' is not a whole number; nothing was written')
end
-- HMGET fails on a key of another type, before the write.
local stored = redis.call('HMGET', KEYS[1], 'version', 'schema_version')
if tonumber(stored[2]) == tonumber(ARGV[2]) and (tonumber(stored[1]) or 0) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'schema_version', ARGV[2], 'state', ARGV[3])
return 1
