#!lua
-- One heartbeat of a consumer of a group with partition ownership: keeps the consumer a live
-- member, releases the partitions it has drained, renews its leases and takes the free
-- partitions assigned to it.
-- KEYS[1] the group's ownership hash (<stream>:owners:<group>): 'member:<consumer>' -> expiry
--   (ms, server clock), 'lease:<partition>' -> '<consumer>|<expiry>'.
-- ARGV[1] consumer, ARGV[2] lease (ms), ARGV[3] partition count, ARGV[4] 'beat' or 'leave',
--   ARGV[5..] partitions this consumer has stopped reading and gives up.
-- Assignment: the live members sorted by name; partition p goes to member (p mod count) + 1.
-- A lease is taken only when free (never held, released, or expired): a partition changes
-- hands only after its previous owner released it or stopped renewing it for a whole lease.
-- Reply: {partitions owned after this beat, of which newly acquired, owned partitions
--   assigned to another member (to drain and release), live members}.
-- Before its first write: the key's type and the arguments are checked; every write is an
-- HSET or HDEL on that hash, which cannot fail after those checks.
local key, me, ttl, n, mode = KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local t = redis.call('TYPE', key).ok
if t ~= 'none' and t ~= 'hash' then
  return redis.error_reply('WRONGTYPE ' .. key .. ' is a ' .. t .. ', not a hash; nothing was written')
end
if me == '' or not ttl or ttl < 1 or not n or n < 1 or (mode ~= 'beat' and mode ~= 'leave') then
  return redis.error_reply('ERR partition-ownership: bad arguments; nothing was written')
end
for i = 5, #ARGV do
  if not tonumber(ARGV[i]) then
    return redis.error_reply('ERR partition-ownership: partition ' .. ARGV[i] .. ' is not a number; nothing was written')
  end
end

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local mine = me .. '|'

for i = 5, #ARGV do
  local field = 'lease:' .. ARGV[i]
  local value = redis.call('HGET', key, field)
  if value and string.sub(value, 1, #mine) == mine and not string.find(value, '|', #mine + 1, true) then
    redis.call('HDEL', key, field)
  end
end

if mode == 'leave' then
  redis.call('HDEL', key, 'member:' .. me)
else
  redis.call('HSET', key, 'member:' .. me, now + ttl)
end

local members, leases = {}, {}
local all = redis.call('HGETALL', key)
for i = 1, #all, 2 do
  local field, value = all[i], all[i + 1]
  if string.sub(field, 1, 7) == 'member:' then
    if (tonumber(value) or 0) > now then
      members[#members + 1] = string.sub(field, 8)
    else
      redis.call('HDEL', key, field)
    end
  elseif string.sub(field, 1, 6) == 'lease:' then
    local owner, expiry = string.match(value, '^(.*)|(%d+)$')
    local partition = tonumber(string.sub(field, 7))
    if owner and partition and tonumber(expiry) > now then
      leases[partition] = owner
    else
      redis.call('HDEL', key, field)
    end
  end
end
table.sort(members)

local owned, acquired, release = {}, {}, {}
if mode == 'leave' then return {owned, acquired, release, #members} end
for p = 0, n - 1 do
  local target = nil
  if #members > 0 then target = members[(p % #members) + 1] end
  local owner = leases[p]
  if owner == me then
    redis.call('HSET', key, 'lease:' .. p, mine .. (now + ttl))
    owned[#owned + 1] = p
    if target ~= me then release[#release + 1] = p end
  elseif owner == nil and target == me then
    redis.call('HSET', key, 'lease:' .. p, mine .. (now + ttl))
    owned[#owned + 1] = p
    acquired[#acquired + 1] = p
  end
end
return {owned, acquired, release, #members}
