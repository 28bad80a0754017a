#!lua
-- Puts parked deadlines back among the deadlines, due at ARGV[1] (members not parked are
-- skipped; an existing deadline is kept).
-- KEYS[1] deadlines (sorted set), KEYS[2] parked deadlines (hash).
-- ARGV[1] now (ms), then the members (none: every parked one).
-- Reply: how many were put back.
-- Before its first write: both keys' types and that ARGV[1] is a number.
-- Every check before the first write: both keys' types and the score.
for k, want in ipairs({'zset', 'hash'}) do
  local t = redis.call('TYPE', KEYS[k]).ok
  if t ~= 'none' and t ~= want then
    return redis.error_reply('WRONGTYPE ' .. KEYS[k] .. ' is a ' .. t .. ', not a ' .. want .. '; nothing was written')
  end
end
if not tonumber(ARGV[1]) then
  return redis.error_reply('ERR due time ' .. tostring(ARGV[1]) .. ' is not a number; nothing was written')
end
local members = {}
if #ARGV > 1 then
  for i = 2, #ARGV do members[#members + 1] = ARGV[i] end
else
  members = redis.call('HKEYS', KEYS[2])
end
local moved = 0
for _, member in ipairs(members) do
  if redis.call('HDEL', KEYS[2], member) == 1 then
    redis.call('ZADD', KEYS[1], 'NX', ARGV[1], member)
    moved = moved + 1
  end
end
return moved
