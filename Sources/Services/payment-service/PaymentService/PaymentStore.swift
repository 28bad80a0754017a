import RedisClient

/// An order's payment record, as `GET /payments/{order_id}` shows it.
public struct Payment: Codable, Sendable, Equatable {
    public var orderID: String
    /// `charged`, `declined` or `refunded`.
    public var status: String
    public var chargedCents: Int
    public var refundedCents: Int
    /// Why the charge was declined (also kept once refunded); empty otherwise.
    public var reason: String

    public init(orderID: String, status: String, chargedCents: Int, refundedCents: Int, reason: String) {
        self.orderID = orderID
        self.status = status
        self.chargedCents = chargedCents
        self.refundedCents = refundedCents
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey {
        case orderID = "order_id", status, chargedCents = "charged_cents", refundedCents = "refunded_cents", reason
    }
}

/// What `payment.charge` did for an order (the first time, or as recorded then).
public enum ChargeOutcome: Sendable, Equatable {
    case charged(amountCents: Int)
    case declined(reason: String)
}

/// A payment record the service cannot read back.
public struct PaymentStoreError: Error, CustomStringConvertible {
    public let description: String
}

/// payment-service's state in Redis: `payment:<order_id>` (hash: `status` = `charged` |
/// `declined` | `refunded`, `amount_cents`, `charged_cents`, `refunded_cents`, `reason`).
/// No card number is stored.
///
/// Guarantees: each order is charged at most once and refunded at most once, whatever the
/// number of deliveries. A charge or refund is one Lua script that checks the key's type
/// and the record's fields before its first write (Redis does not roll a script back), and
/// that answers what the record says when there is one: a repeated charge repeats its
/// outcome, a repeated refund refunds nothing more. A refund that comes before any charge
/// leaves a `refunded` record with nothing charged, so a charge arriving later is declined
/// (`refunded_before_charge`).
public struct PaymentStore: Sendable {
    let client: RedisClient

    public init(client: RedisClient) {
        self.client = client
    }

    public static func key(_ orderID: String) -> String { "payment:\(orderID)" }

    /// The order's payment record, or nil when there is none.
    public func payment(orderID: String) async throws -> Payment? {
        let hash = try await client.hgetall(Self.key(orderID))
        guard !hash.isEmpty else { return nil }
        guard let status = hash["status"], let charged = hash["charged_cents"].flatMap(Int.init),
            let refunded = hash["refunded_cents"].flatMap(Int.init)
        else { throw PaymentStoreError(description: "\(Self.key(orderID)) is not a payment record: \(hash)") }
        return Payment(orderID: orderID, status: status, chargedCents: charged, refundedCents: refunded, reason: hash["reason"] ?? "")
    }

    /// Records the decision (charged: the whole amount) unless the order has a record; then
    /// answers the recorded outcome without changing it: `charged` (also when refunded
    /// since), or `declined` with its reason (`refunded_before_charge` for a refund that
    /// came first).
    public func charge(orderID: String, amountCents: Int, decision: PaymentPolicy.Decision) async throws -> ChargeOutcome {
        let reply = try await client.run(Self.chargeScript, keys: [Self.key(orderID)]) { command in
            switch decision {
            case .charge:
                command.append("charged")
                command.append(amountCents)
                command.append("")
            case .decline(let reason):
                command.append("declined")
                command.append(amountCents)
                command.append(reason)
            }
        }
        let values = (reply.array ?? []).map { $0.string ?? "" }
        guard values.count == 3, let charged = Int(values[1]) else {
            throw PaymentStoreError(description: "payment.charge replied \(reply)")
        }
        // A record with no reason was charged (and maybe refunded since); else it was declined,
        // or refunded before the charge came.
        return values[2].isEmpty ? .charged(amountCents: charged) : .declined(reason: values[2])
    }

    /// Refunds what was charged, once, and returns the order's refunded amount (the same on
    /// every repeat; 0 when nothing was charged).
    public func refund(orderID: String) async throws -> Int {
        let reply = try await client.run(Self.refundScript, keys: [Self.key(orderID)])
        guard let refunded = reply.int else { throw PaymentStoreError(description: "payment.refund replied \(reply)") }
        return refunded
    }

    /// Checks KEYS[1] (a hash or nothing) and, when it exists, its fields; sets `record` to
    /// its fields (status, charged, refunded, reason) or nil.
    static let prelude = """
        #!lua
        local function refuse(message) return redis.error_reply('ERR ' .. message .. '; nothing was written') end
        local function isCents(s) return type(s) == 'string' and #s <= 18 and string.match(s, '^-?%d+$') ~= nil end
        local t = redis.call('TYPE', KEYS[1]).ok
        if t ~= 'none' and t ~= 'hash' then
          return redis.error_reply('WRONGTYPE ' .. KEYS[1] .. ' is a ' .. t .. ', not a hash; nothing was written')
        end
        local record = nil
        if t == 'hash' then
          record = redis.call('HMGET', KEYS[1], 'status', 'charged_cents', 'refunded_cents', 'reason')
          local statuses = {charged = true, declined = true, refunded = true}
          if not statuses[record[1] or ''] or not isCents(record[2]) or not isCents(record[3]) then
            return refuse(KEYS[1] .. ' is not a payment record (status, charged_cents, refunded_cents)')
          end
          record[4] = record[4] or ''
        end

        """

    /// ARGV[1] charged|declined, ARGV[2] amount in cents, ARGV[3] the decline reason.
    /// Returns {status, charged cents, reason}.
    static let chargeScript = RedisScript(
        prelude + """
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
            """)

    /// Returns the refunded cents (as text: Lua numbers are doubles).
    static let refundScript = RedisScript(
        prelude + """
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
            """)
}
