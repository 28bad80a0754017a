#!lua
-- Commits one event's transactional writes once: the writes, the processed marker and the
-- XACK, all or nothing.
-- KEYS[1] stream, KEYS[2] processed marker.
-- ARGV[1] group, ARGV[2] entry id, ARGV[3] marker TTL (ms), ARGV[4] consumer ('': no
--   ownership check), then the writes, each as its argument count followed by its arguments.
-- Reply: 1 (applied), 0 (already applied: acknowledged only), -1 (not pending to ARGV[4]:
--   nothing written, nothing acknowledged).
-- Before its first write: KEYS[1] a stream or nothing; every write supported, with the
--   right number of arguments, on a key of the right type, with numbers where numbers are
--   due. A failed check answers 'ERR transactional write refused, nothing written: ...'.
local function fail(message) return redis.error_reply('ERR transactional write refused, nothing written: ' .. message) end
--! include "includes/write-checks.lua"
-- luacheck: read globals isInteger isNumber xaddProblem
-- command -> { key type, minimum arguments after the key, pairs after the key? }
local shapes = {
  hset = {'hash', 2, 2}, hdel = {'hash', 1, 1}, hincrby = {'hash', 2, 0}, hincrbyfloat = {'hash', 2, 0},
  set = {'any', 1, 0}, del = {'any', 0, 1}, incr = {'string', 0, 0}, incrby = {'string', 1, 0},
  decr = {'string', 0, 0}, decrby = {'string', 1, 0}, incrbyfloat = {'string', 1, 0},
  sadd = {'set', 1, 1}, srem = {'set', 1, 1}, zadd = {'zset', 2, 2}, zrem = {'zset', 1, 1},
  zincrby = {'zset', 2, 0}, lpush = {'list', 1, 1}, rpush = {'list', 1, 1}, ltrim = {'list', 2, 0},
  xadd = {'stream', 3, 0}, expire = {'any', 1, 0}, pexpire = {'any', 1, 0},
}
local t = redis.call('TYPE', KEYS[1]).ok
if t ~= 'none' and t ~= 'stream' then return fail(KEYS[1] .. ' is a ' .. t .. ', not a stream') end
if ARGV[4] ~= '' and #redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1, ARGV[4]) == 0 then
  return -1
end
local applied = 0
if redis.call('EXISTS', KEYS[2]) == 0 then
  -- Check every write before the first one.
  local i = 5
  while i <= #ARGV do
    local n = tonumber(ARGV[i])
    local name = string.lower(ARGV[i + 1] or '')
    local shape = shapes[name]
    if shape == nil then return fail(name .. ' is not a supported transactional write') end
    local key = ARGV[i + 2]
    local rest = n - 2
    if key == nil or rest < shape[2] or (shape[3] > 0 and rest % shape[3] ~= 0) then
      return fail(name .. ' has the wrong number of arguments')
    end
    if shape[1] ~= 'any' then
      local kt = redis.call('TYPE', key).ok
      if kt ~= 'none' and kt ~= shape[1] then
        return fail(name .. ' on ' .. key .. ', which is a ' .. kt .. ', not a ' .. shape[1])
      end
    end
    local a1, a2 = ARGV[i + 3], ARGV[i + 4]
    if name == 'hincrby' then
      if not isInteger(a2) then return fail('HINCRBY increment ' .. tostring(a2) .. ' is not an integer') end
      local v = redis.call('HGET', key, a1)
      if v and not isInteger(v) then return fail(key .. ' ' .. a1 .. ' holds ' .. v .. ', not an integer') end
    elseif name == 'hincrbyfloat' then
      if not isNumber(a2) then return fail('HINCRBYFLOAT increment ' .. tostring(a2) .. ' is not a number') end
      local v = redis.call('HGET', key, a1)
      if v and not isNumber(v) then return fail(key .. ' ' .. a1 .. ' holds ' .. v .. ', not a number') end
    elseif name == 'incr' or name == 'decr' or name == 'incrby' or name == 'decrby' or name == 'incrbyfloat' then
      if name ~= 'incr' and name ~= 'decr' then
        local ok = (name == 'incrbyfloat') and isNumber(a1) or isInteger(a1)
        if not ok then return fail(string.upper(name) .. ' argument ' .. tostring(a1) .. ' is not a number') end
      end
      local v = redis.call('GET', key)
      local ok = v == false or ((name == 'incrbyfloat') and isNumber(v) or isInteger(v))
      if not ok then return fail(key .. ' holds ' .. tostring(v) .. ', not a number') end
    elseif name == 'zincrby' then
      if not isNumber(a1) then return fail('ZINCRBY increment ' .. tostring(a1) .. ' is not a number') end
    elseif name == 'zadd' then
      for j = i + 3, i + n, 2 do
        if not isNumber(ARGV[j]) then return fail('ZADD score ' .. tostring(ARGV[j]) .. ' is not a number') end
      end
    elseif name == 'ltrim' then
      if not (isInteger(a1) and isInteger(a2)) then return fail('LTRIM takes two integers') end
    elseif name == 'expire' or name == 'pexpire' then
      if not isInteger(a1) then return fail(string.upper(name) .. ' takes an integer') end
    elseif name == 'xadd' then
      local problem = xaddProblem(i, n)
      if problem then return fail(problem) end
    elseif name == 'set' then
      if n ~= 3 then return fail('SET takes a key and a value only (use PEXPIRE for a lifetime)') end
    end
    i = i + n + 1
  end
  i = 5
  while i <= #ARGV do
    local n = tonumber(ARGV[i])
    redis.call(unpack(ARGV, i + 1, i + n))
    i = i + n + 1
  end
  redis.call('SET', KEYS[2], 'done', 'PX', ARGV[3])
  applied = 1
end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return applied
