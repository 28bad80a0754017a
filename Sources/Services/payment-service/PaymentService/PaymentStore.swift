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
        let reply = try await client.run(Self.chargeScript, keys: [Self.key(orderID)], as: ChargePaymentReply.self) { command in
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
        // A record with no reason was charged (and maybe refunded since); else it was declined,
        // or refunded before the charge came.
        return reply.reason.isEmpty ? .charged(amountCents: reply.chargedCents) : .declined(reason: reply.reason)
    }

    /// Refunds what was charged, once, and returns the order's refunded amount (the same on
    /// every repeat; 0 when nothing was charged).
    public func refund(orderID: String) async throws -> Int {
        try await client.run(Self.refundScript, keys: [Self.key(orderID)], as: RefundPaymentReply.self).refundedCents
    }

    /// ARGV[1] charged|declined, ARGV[2] amount in cents, ARGV[3] the decline reason.
    /// Returns {status, charged cents, reason}.
    /// The script is `charge-payment.lua` (its header: KEYS, ARGV, reply, what it checks before writing).
    static let chargeScript = LuaScripts.chargePayment

    /// Returns the refunded cents (as text: Lua numbers are doubles).
    /// The script is `refund-payment.lua` (its header: KEYS, ARGV, reply, what it checks before writing).
    static let refundScript = LuaScripts.refundPayment
}
