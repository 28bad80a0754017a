#!lua
-- Commits a saga's transition: its outbox commands, state, status index, deadline and
-- history, when the stored version is the expected one.
-- KEYS[1] state hash, KEYS[2] deadlines, KEYS[3] history, KEYS[4..8] the status sets
--   (running, compensating, completed, compensated, failed), KEYS[9] parked deadlines,
--   then one command stream per command.
-- ARGV[1] expected version, ARGV[2] n, then n hash fields and values (deadline_member among
--   them: the member, or empty), set|clear, deadline member, score, history event, new
--   status, now (ms), history bound, saga id, retention of an ended saga (ms, 0: none), then
--   per command its argument count and its arguments (XADD <its stream> ...).
-- Reply: 'OK', or nil on a version conflict (nothing written).
-- Before its first write: the version, the retention is a number, the statuses are known,
--   every command is an XADD to its stream, and the types of every key it writes.
-- Every check before the first write (Redis does not roll a script back). HMGET
-- fails on a state key of another type, before anything is written.
local stored = redis.call('HMGET', KEYS[1], 'version', 'status', 'deadline_member')
if (stored[1] or '0') ~= ARGV[1] then return false end
local n = tonumber(ARGV[2])
local i = 3 + n
local mode, member, score, event = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
local status, now, bound, id = ARGV[i + 4], ARGV[i + 5], ARGV[i + 6], ARGV[i + 7]
local retention = tonumber(ARGV[i + 8])
local statuses = {running = 4, compensating = 5, completed = 6, compensated = 7, failed = 8}
if not retention then
  return redis.error_reply('ERR saga retention ' .. tostring(ARGV[i + 8]) .. ' is not a number; nothing was written')
end
if not statuses[status] or (stored[2] and not statuses[stored[2]]) then
  return redis.error_reply('ERR saga status ' .. tostring(stored[2]) .. ' -> ' .. status .. ' unknown; nothing was written')
end
local old_deadline = stored[3]
if old_deadline == '' then old_deadline = nil end
local old_status = stored[2]
if old_status == status then old_status = nil end
-- The types of the keys this commit writes (and only those).
local function check(key, want)
  local t = redis.call('TYPE', key).ok
  if t ~= 'none' and t ~= want then
    return 'WRONGTYPE ' .. key .. ' is a ' .. t .. ', not a ' .. want .. '; nothing was written'
  end
end
local problem = check(KEYS[3], 'stream') or check(KEYS[statuses[status]], 'zset')
  or (old_status and check(KEYS[statuses[old_status]], 'zset'))
  or ((old_deadline or mode == 'set') and check(KEYS[2], 'zset'))
  or (old_deadline and check(KEYS[9], 'hash'))
local j = i + 9
for c = 10, #KEYS do
  local count = tonumber(ARGV[j])
  if string.upper(ARGV[j + 1]) ~= 'XADD' or ARGV[j + 2] ~= KEYS[c] or count < 5 then
    return redis.error_reply('ERR saga command ' .. (c - 9) .. ' is not an XADD to ' .. KEYS[c] .. '; nothing was written')
  end
  problem = problem or check(KEYS[c], 'stream')
  j = j + count + 1
end
if problem then return redis.error_reply(problem) end
-- Every check passed: the outbox first, then the state, index, deadline, history.
j = i + 9
for _ = 10, #KEYS do
  local count = tonumber(ARGV[j])
  redis.call(unpack(ARGV, j + 1, j + count))
  j = j + count + 1
end
redis.call('HSET', KEYS[1], unpack(ARGV, 3, 2 + n))
if old_status then redis.call('ZREM', KEYS[statuses[old_status]], id) end
redis.call('ZADD', KEYS[statuses[status]], now, id)
if retention > 0 and (status == 'completed' or status == 'compensated' or status == 'failed') then
  -- Ended: kept for the retention, as are the others that ended in this status.
  redis.call('PEXPIRE', KEYS[1], retention)
  redis.call('ZREMRANGEBYSCORE', KEYS[statuses[status]], '-inf', '(' .. (tonumber(now) - retention))
end
-- A saga awaits one thing at a time: its earlier deadline goes, due or parked.
if old_deadline then
  redis.call('ZREM', KEYS[2], old_deadline)
  redis.call('HDEL', KEYS[9], old_deadline)
end
if mode == 'set' then redis.call('ZADD', KEYS[2], score, member) end
redis.call('XADD', KEYS[3], 'MAXLEN', '~', bound, '*', 'saga_id', id, 'event', event, 'status', status,
  'version', ARGV[1] + 1)
return 'OK'
