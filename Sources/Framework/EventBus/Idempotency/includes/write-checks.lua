-- Shared by the transactional scripts (commit-event.lua, commit-batch.lua):
-- isInteger(s): s is an integer Redis can increment (at most 18 characters);
-- isNumber(s): s is what a float increment accepts;
-- xaddProblem(i, n): why the write at ARGV[i] (its argument count n, then XADD, the key,
--   ...) is not XADD key [MAXLEN ~ count] * field value ..., or nil.
-- luacheck: ignore 211
local function isInteger(s)
  return s ~= nil and string.match(s, '^-?%d+$') ~= nil and #s <= 18
end
local function isNumber(s)
  return s ~= nil and tonumber(s) ~= nil and string.match(s, '^%s') == nil and string.lower(s) ~= 'nan'
end
local function xaddProblem(i, n)
  local star = i + 3
  if string.upper(ARGV[star] or '') == 'MAXLEN' then
    if ARGV[star + 1] ~= '~' or not isInteger(ARGV[star + 2]) then return 'XADD takes MAXLEN ~ <count> only' end
    star = star + 3
  end
  local fields = i + n - star
  if ARGV[star] ~= '*' or fields < 2 or fields % 2 ~= 0 then
    return 'XADD must be XADD key [MAXLEN ~ count] * field value ...'
  end
  return nil
end
