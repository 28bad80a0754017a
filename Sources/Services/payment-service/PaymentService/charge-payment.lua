#!lua
-- Records a payment decision (charged: the whole amount) unless the order has a record;
-- then answers the recorded outcome without changing it.
-- KEYS[1] the payment record (hash).
-- ARGV[1] charged|declined, ARGV[2] amount in cents, ARGV[3] the decline reason.
-- Reply: {status, charged cents, reason}.
-- Before its first write: the record's type and fields (includes/payment-record.lua), the
--   amount a whole number of cents, the decision charged or declined with a reason.
--! include "includes/payment-record.lua"
-- luacheck: read globals refuse isCents record
if record then return {record[1], record[2], record[4]} end
if not isCents(ARGV[2]) then return refuse('the amount ' .. tostring(ARGV[2]) .. ' is not a whole number of cents') end
if ARGV[1] == 'charged' then
  redis.call('HSET', KEYS[1], 'status', 'charged', 'amount_cents', ARGV[2], 'charged_cents', ARGV[2],
    'refunded_cents', '0', 'reason', '')
  return {'charged', ARGV[2], ''}
elseif ARGV[1] == 'declined' and ARGV[3] ~= '' then
  redis.call('HSET', KEYS[1], 'status', 'declined', 'amount_cents', ARGV[2], 'charged_cents', '0',
    'refunded_cents', '0', 'reason', ARGV[3])
  return {'declined', '0', ARGV[3]}
end
return refuse('unknown charge decision ' .. tostring(ARGV[1]))
