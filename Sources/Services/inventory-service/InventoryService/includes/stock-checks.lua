-- Shared by the inventory scripts: checks of the keys' types and of the stock hashes, each
-- called before a script's first write, returning the error to answer.
-- refuse(message): an error reply that says nothing was written;
-- checkTypes(): the error when a key is not a hash (or nothing);
-- isCount(s): s is a whole number of at most 13 digits;
-- stock(k): the stock hash KEYS[k] as {available, reserved, sold}, or nil and the error;
-- reservation(...): nil when KEYS[1] does not exist, else its status and the fields named,
--   or nil and the error for an unknown status.
-- luacheck: ignore 211
local function refuse(message) return redis.error_reply('ERR ' .. message .. '; nothing was written') end
local function checkTypes()
  for k = 1, #KEYS do
    local t = redis.call('TYPE', KEYS[k]).ok
    if t ~= 'none' and t ~= 'hash' then
      return redis.error_reply('WRONGTYPE ' .. KEYS[k] .. ' is a ' .. t .. ', not a hash; nothing was written')
    end
  end
  return nil
end
local function isCount(s) return type(s) == 'string' and #s <= 13 and string.match(s, '^%d+$') ~= nil end
-- The stock hash KEYS[k] (its fields as text), or nil and the error when it is missing or not one.
local function stock(k)
  local v = redis.call('HMGET', KEYS[k], 'available', 'reserved', 'sold')
  if not (isCount(v[1]) and isCount(v[2]) and isCount(v[3])) then
    return nil, refuse(KEYS[k] .. ' is missing or not a stock hash (available, reserved, sold as whole numbers)')
  end
  return {available = v[1], reserved = v[2], sold = v[3]}
end
local statuses = {reserved = true, sold = true, out_of_stock = true, released = true}
-- The reservation KEYS[1]: nil when there is none, else its status and fields, or the error.
local function reservation(...)
  if redis.call('EXISTS', KEYS[1]) == 0 then return nil end
  local r = redis.call('HMGET', KEYS[1], 'status', ...)
  if not statuses[r[1] or ''] then
    return nil, refuse(KEYS[1] .. ' has the unknown status ' .. tostring(r[1]))
  end
  return r
end
