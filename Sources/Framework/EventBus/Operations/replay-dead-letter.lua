-- Replays one dead letter: XADD its original fields (with where it came from and the group
-- it is replayed for) to the original stream, then XDEL it.
-- KEYS[1] dead-letter stream, KEYS[2] original stream. No other key (no processed marker):
--   on a Redis Cluster both must be in one slot, as a partition stream `<stream>:{<tag>}` and
--   its dead letters `<stream>:{<tag>}:dlq:<group>` are (DeadLetterStore checks it first).
-- ARGV[1] dead-letter id, ARGV[2] replayed-from field, ARGV[3] replay-for-group field,
--   ARGV[4] group, ARGV[5] the oldest original entry accepted (its age in ms; 0: any).
-- Reply: {'replayed', new id, original id}, {'skipped', why} or {'refused', why}.
-- Before its first write: the original stream's type, that the dead letter exists, its
--   fields (reason not 'deleted', dlq_entry_id present, dlq_stream is KEYS[2], original
--   fields present) and the original entry's age.
local t = redis.call('TYPE', KEYS[2]).ok
if t ~= 'none' and t ~= 'stream' then return {'skipped', KEYS[2] .. ' is a ' .. t .. ', not a stream'} end
local found = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #found == 0 then return {'skipped', 'not found (already replayed or purged)'} end
local fields = found[1][2]
local out = {}
local reason, target, origin = false, false, false
for i = 1, #fields, 2 do
  local name, value = fields[i], fields[i + 1]
  if string.sub(name, 1, 4) == 'dlq_' then
    if name == 'dlq_reason' then reason = value
    elseif name == 'dlq_stream' then target = value
    elseif name == 'dlq_entry_id' then origin = value end
  elseif name ~= ARGV[2] and name ~= ARGV[3] then
    out[#out + 1] = name
    out[#out + 1] = value
  end
end
if reason == 'deleted' then
  return {'skipped', 'reason deleted: the event was gone when it was dead-lettered, nothing to replay'}
end
if not origin then return {'skipped', 'malformed: no dlq_entry_id'} end
if target and target ~= KEYS[2] then return {'skipped', 'malformed: dlq_stream is ' .. target} end
if #out == 0 then return {'skipped', 'malformed: no original fields'} end
local limit = tonumber(ARGV[5])
if limit > 0 then
  local now = redis.call('TIME')
  local age = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - tonumber(string.match(origin, '^(%d+)') or 0)
  if age > limit then
    return {'refused', string.format('original entry %s is %d h old, older than the processed-marker TTL (%d h)', origin,
      math.floor(age / 3600000), math.floor(limit / 3600000))}
  end
end
out[#out + 1] = ARGV[2]
out[#out + 1] = origin
out[#out + 1] = ARGV[3]
out[#out + 1] = ARGV[4]
local id = redis.call('XADD', KEYS[2], '*', unpack(out))
redis.call('XDEL', KEYS[1], ARGV[1])
return {'replayed', id, origin}
