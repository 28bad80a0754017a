#!lua
-- Commits several events' transactional writes: for each event not yet processed its
-- writes and its marker, then one XACK for all of them. All or nothing for the whole call.
-- KEYS[1] stream, KEYS[1 + e] processed marker of event e.
-- ARGV[1] group, ARGV[2] marker TTL (ms), ARGV[3] consumer ('': no ownership check), then
--   per event: its entry id, its number of writes, and each write as its argument count
--   followed by its arguments.
-- Reply: per event 1 (committed: applied or already applied, acknowledged) or 0 (not pending
--   to ARGV[3]: left out, nothing written or acknowledged for it).
-- Before its first write: every write of every event, against the state the batch's earlier
--   writes leave; where it cannot be sure it refuses the whole batch ('BATCHREFUSED ...',
--   nothing written) and the caller commits the events one by one.
local function refuse(message) return redis.error_reply('BATCHREFUSED ' .. message) end
--! include "includes/write-checks.lua"
-- luacheck: read globals isInteger isNumber xaddProblem
local function kindOf(value)
  if value == false or value == nil then return 'none' end
  if isInteger(value) then return 'int' end
  if isNumber(value) then return 'num' end
  return 'text'
end
-- command -> key type, minimum arguments after the key, pairs after the key
local function shapeOf(name)
  if name == 'hincrby' or name == 'hincrbyfloat' then return 'hash', 2, 0 end
  if name == 'hset' then return 'hash', 2, 2 end
  if name == 'hdel' then return 'hash', 1, 1 end
  if name == 'sadd' or name == 'srem' then return 'set', 1, 1 end
  if name == 'zadd' then return 'zset', 2, 2 end
  if name == 'zrem' then return 'zset', 1, 1 end
  if name == 'zincrby' then return 'zset', 2, 0 end
  if name == 'lpush' or name == 'rpush' then return 'list', 1, 1 end
  if name == 'ltrim' then return 'list', 2, 0 end
  if name == 'xadd' then return 'stream', 3, 0 end
  if name == 'incr' or name == 'decr' then return 'string', 0, 0 end
  if name == 'incrby' or name == 'decrby' or name == 'incrbyfloat' then return 'string', 1, 0 end
  if name == 'set' or name == 'expire' or name == 'pexpire' then return 'any', 1, 0 end
  if name == 'del' then return 'any', 0, 1 end
  return nil
end
local t = redis.call('TYPE', KEYS[1]).ok
if t ~= 'none' and t ~= 'stream' then return refuse(KEYS[1] .. ' is a ' .. t .. ', not a stream') end
-- What the writes checked so far leave: key types ('unknown': cannot tell), and the
-- kind of value ('int', 'num', 'text', 'none') of strings (by key) and hash fields.
local types, values, cleared = {}, {}, {}
local function typeOf(key)
  local v = types[key]
  if v == nil then v = redis.call('TYPE', key).ok; types[key] = v end
  return v
end
local function fieldKind(key, field)
  local slot = key .. '\0' .. field
  local v = values[slot]
  if v == nil then
    if cleared[key] or typeOf(key) == 'none' then v = 'none' else v = kindOf(redis.call('HGET', key, field)) end
    values[slot] = v
  end
  return v, slot
end
local function stringKind(key)
  local v = values[key]
  if v == nil then
    if cleared[key] or typeOf(key) == 'none' then v = 'none' else v = kindOf(redis.call('GET', key)) end
    values[key] = v
  end
  return v
end
local n = #KEYS - 1
local events, seen = {}, {}
local i = 4
for e = 1, n do
  local marker = KEYS[1 + e]
  local id = ARGV[i]
  local owned = ARGV[3] == '' or #redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1, ARGV[3]) == 1
  local done = (not owned) or seen[marker] or redis.call('EXISTS', marker) == 1
  if owned then seen[marker] = true end
  local w = tonumber(ARGV[i + 1])
  events[e] = {id, i + 2, w, done, owned}
  i = i + 2
  for _ = 1, w do
    local count = tonumber(ARGV[i])
    if not done then
      local name = string.lower(ARGV[i + 1] or '')
      local key = ARGV[i + 2]
      local keyType, minimum, pairs = shapeOf(name)
      if keyType == nil then return refuse(name .. ' is not a supported transactional write') end
      local rest = count - 2
      if key == nil or rest < minimum or (pairs > 0 and rest % pairs ~= 0) then
        return refuse(name .. ' has the wrong number of arguments')
      end
      local current = typeOf(key)
      if current == 'unknown' then return refuse(key .. ' may have expired in this batch') end
      if keyType ~= 'any' and current ~= 'none' and current ~= keyType then
        return refuse(name .. ' on ' .. key .. ', which is a ' .. current)
      end
      local a1, a2 = ARGV[i + 3], ARGV[i + 4]
      if name == 'hincrby' or name == 'hincrbyfloat' then
        local float = name == 'hincrbyfloat'
        if not (float and isNumber(a2) or isInteger(a2)) then return refuse(name .. ' increment is not a number') end
        local kind, slot = fieldKind(key, a1)
        if kind == 'text' or (kind == 'num' and not float) then return refuse(key .. ' ' .. a1 .. ' is not a number') end
        values[slot] = float and 'num' or 'int'
      elseif name == 'hset' then
        for j = i + 3, i + count, 2 do values[key .. '\0' .. ARGV[j]] = kindOf(ARGV[j + 1]) end
      elseif name == 'hdel' then
        for j = i + 3, i + count do values[key .. '\0' .. ARGV[j]] = 'none' end
      elseif name == 'incr' or name == 'decr' or name == 'incrby' or name == 'decrby' or name == 'incrbyfloat' then
        local float = name == 'incrbyfloat'
        if name ~= 'incr' and name ~= 'decr' and not (float and isNumber(a1) or isInteger(a1)) then
          return refuse(name .. ' argument is not a number')
        end
        local kind = stringKind(key)
        if kind == 'text' or (kind == 'num' and not float) then return refuse(key .. ' is not a number') end
        values[key] = float and 'num' or 'int'
      elseif name == 'set' then
        if count ~= 3 then return refuse('SET takes a key and a value only') end
        values[key] = kindOf(a1)
        types[key] = 'string'
      elseif name == 'del' then
        for j = i + 2, i + count do types[ARGV[j]] = 'none'; values[ARGV[j]] = 'none'; cleared[ARGV[j]] = true end
      elseif name == 'expire' or name == 'pexpire' then
        if not isInteger(a1) then return refuse(name .. ' takes an integer') end
        if tonumber(a1) <= 0 then types[key] = 'unknown' end
      elseif name == 'zadd' then
        for j = i + 3, i + count, 2 do
          if not isNumber(ARGV[j]) then return refuse('ZADD score is not a number') end
        end
      elseif name == 'zincrby' then
        if not isNumber(a1) then return refuse('ZINCRBY increment is not a number') end
      elseif name == 'ltrim' then
        if not (isInteger(a1) and isInteger(a2)) then return refuse('LTRIM takes two integers') end
      elseif name == 'xadd' then
        local problem = xaddProblem(i, count)
        if problem then return refuse(problem) end
      end
      if keyType ~= 'any' and types[key] ~= 'unknown' then types[key] = keyType end
    end
    i = i + count + 1
  end
end
-- Everything checked: the writes and markers of the events not yet processed, in order.
local ids, committed = {}, {}
for e = 1, n do
  local event = events[e]
  committed[e] = event[5] and 1 or 0
  if event[5] then ids[#ids + 1] = event[1] end
  if not event[4] then
    local j = event[2]
    for _ = 1, event[3] do
      local count = tonumber(ARGV[j])
      redis.call(unpack(ARGV, j + 1, j + count))
      j = j + count + 1
    end
    redis.call('SET', KEYS[1 + e], 'done', 'PX', ARGV[2])
  end
end
if #ids > 0 then redis.call('XACK', KEYS[1], ARGV[1], unpack(ids)) end
return committed
