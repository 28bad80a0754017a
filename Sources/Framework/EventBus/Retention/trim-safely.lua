-- Trims a stream up to what every consumer group still needs (XTRIM MINID), keeping at
-- least the newest ARGV[1] entries when given.
-- KEYS[1] stream.
-- ARGV[1] maxLength or '', ARGV[2] '~' or '='.
-- Reply: {'ok', removed, minimum id or false, limiting group or false}, {'missing'} or
--   {'wrongtype', type}.
-- Before its first write (the XTRIM, its only one): the key's type. Ids are compared as
--   decimal strings (exact for any 64-bit part); the id after ms-seq is ms-(seq+1), or
--   (ms+1)-0 when seq is the largest 64-bit value.
local key = KEYS[1]
local kind = redis.call('TYPE', key).ok
if kind == 'none' then return {'missing'} end
if kind ~= 'stream' then return {'wrongtype', kind} end
local function split(id) return string.match(id, '^(%d+)-(%d+)$') end
local function numless(a, b)
  if #a ~= #b then return #a < #b end
  return a < b
end
local function idless(a, b)
  local am, as = split(a)
  local bm, bs = split(b)
  if am ~= bm then return numless(am, bm) end
  return numless(as, bs)
end
local function incr(d)
  local i = #d
  while i > 0 and string.sub(d, i, i) == '9' do i = i - 1 end
  if i == 0 then return '1' .. string.rep('0', #d) end
  return string.sub(d, 1, i - 1) .. string.char(string.byte(d, i) + 1) .. string.rep('0', #d - i)
end
local function after(id)
  local ms, seq = split(id)
  if seq == '18446744073709551615' then return incr(ms) .. '-0' end
  return ms .. '-' .. incr(seq)
end
local need, limiting = false, false
for _, row in ipairs(redis.call('XINFO', 'GROUPS', key)) do
  local group = {}
  for i = 1, #row, 2 do group[row[i]] = row[i + 1] end
  local candidate = after(group['last-delivered-id'])
  if group['pending'] > 0 then
    local oldest = redis.call('XPENDING', key, group['name'], '-', '+', 1)
    if #oldest > 0 and idless(oldest[1][1], candidate) then candidate = oldest[1][1] end
  end
  if not need or idless(candidate, need) then
    need = candidate
    limiting = group['name']
  end
end
local minid = need
local maxlen = tonumber(ARGV[1])
if maxlen then
  local length = redis.call('XLEN', key)
  if length <= maxlen then return {'ok', 0, false, false} end
  local start
  if maxlen == 0 then
    start = after(redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)[1][1])
  elseif length - maxlen < maxlen then
    local oldest = redis.call('XRANGE', key, '-', '+', 'COUNT', length - maxlen + 1)
    start = oldest[#oldest][1]
  else
    local newest = redis.call('XREVRANGE', key, '+', '-', 'COUNT', ARGV[1])
    start = newest[#newest][1]
  end
  if not need or not idless(need, start) then
    minid = start
    limiting = false
  end
end
if not minid then return {'ok', 0, false, false} end
local removed = redis.call('XTRIM', key, 'MINID', ARGV[2], minid)
return {'ok', removed, minid, limiting}
