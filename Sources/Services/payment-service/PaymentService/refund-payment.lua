#!lua
-- Refunds what was charged, once; with no record, leaves a refunded tombstone (a late charge
-- is declined).
-- KEYS[1] the payment record (hash).
-- ARGV none.
-- Reply: the refunded cents, as text (Lua numbers are doubles).
-- Before its first write: the record's type and fields (includes/payment-record.lua).
--! include "includes/payment-record.lua"
-- luacheck: read globals record
if not record then
  -- Refunded before any charge: a tombstone, so that a late charge is declined.
  redis.call('HSET', KEYS[1], 'status', 'refunded', 'amount_cents', '0', 'charged_cents', '0',
    'refunded_cents', '0', 'reason', 'refunded_before_charge')
  return '0'
end
if record[1] == 'charged' then
  redis.call('HSET', KEYS[1], 'status', 'refunded', 'refunded_cents', record[2])
  return record[2]
end
if record[1] == 'declined' then
  redis.call('HSET', KEYS[1], 'status', 'refunded', 'refunded_cents', '0')
  return '0'
end
return record[3]
