#!lua
-- Appends events to an aggregate's history (at 0-<version>) and its type stream, with the
-- extra writes, when the history's length is the expected version.
-- KEYS[1] history stream, KEYS[2] type stream.
-- ARGV[1] expected version, ARGV[2] n, then per event the argument count and arguments of
--   its XADD <type stream> ... * fields, then the number of extra writes and per write its
--   argument count and arguments (ZADD, ZREM, HSET or DEL on a key tagged {<type stream>}).
-- Reply: the type stream ids of the events, or {'conflict', actual version} (nothing written).
-- Before its first write: the type stream's type, the history's (XLEN raises), the version,
--   every event is an XADD to KEYS[2], every extra write is supported, inside the tag and
--   on a key of the right type.
-- Every check before the first write (Redis does not roll a script back). XLEN fails
-- on a history of another type before anything is written; the type stream is checked.
local t = redis.call('TYPE', KEYS[2]).ok
if t ~= 'none' and t ~= 'stream' then
  return redis.error_reply('WRONGTYPE ' .. KEYS[2] .. ' is a ' .. t .. ', not a stream; nothing was written')
end
local version = redis.call('XLEN', KEYS[1])
if version ~= tonumber(ARGV[1]) then return {'conflict', version} end
local n = tonumber(ARGV[2])
local i = 3
for e = 1, n do
  local count = tonumber(ARGV[i])
  if string.upper(ARGV[i + 1]) ~= 'XADD' or ARGV[i + 2] ~= KEYS[2] then
    return redis.error_reply('ERR event ' .. e .. ' is not an XADD to ' .. KEYS[2] .. '; nothing was written')
  end
  i = i + count + 1
end
local writes = tonumber(ARGV[i])
local firstWrite = i + 1
-- The type stream's slot: its partition's hash tag, or its whole name for a plain stream.
local tag = string.match(KEYS[2], '(%b{})$') or ('{' .. KEYS[2] .. '}')
local wanted = {ZADD = 'zset', ZREM = 'zset', HSET = 'hash', DEL = false}
i = firstWrite
for w = 1, writes do
  local count = tonumber(ARGV[i])
  local name = string.upper(ARGV[i + 1])
  local key = ARGV[i + 2]
  if wanted[name] == nil or count < 2 then
    return redis.error_reply('ERR extra write ' .. w .. ' is not a ZADD, ZREM, HSET or DEL; nothing was written')
  end
  if not string.find(key, tag, 1, true) then
    return redis.error_reply('ERR extra write ' .. w .. ' key ' .. key .. ' is outside ' .. tag .. '; nothing was written')
  end
  local kt = redis.call('TYPE', key).ok
  if wanted[name] and kt ~= 'none' and kt ~= wanted[name] then
    return redis.error_reply('WRONGTYPE ' .. key .. ' is a ' .. kt .. ', not a ' .. wanted[name] .. '; nothing was written')
  end
  i = i + count + 1
end
-- Checked: each event into the history at 0-<version>, then onto the type stream.
i = 3
local ids = {}
for e = 1, n do
  local count = tonumber(ARGV[i])
  local star = i + 3
  while ARGV[star] ~= '*' do star = star + 1 end
  redis.call('XADD', KEYS[1], '0-' .. (version + e), unpack(ARGV, star + 1, i + count))
  ids[e] = redis.call(unpack(ARGV, i + 1, i + count))
  i = i + count + 1
end
i = firstWrite
for _ = 1, writes do
  local count = tonumber(ARGV[i])
  redis.call(unpack(ARGV, i + 1, i + count))
  i = i + count + 1
end
return ids
