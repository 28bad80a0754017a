import ServiceKit

/// How payment-service decides a charge. It is a simulator: no card network is called, and
/// the decision depends only on the charge, so every instance and every redelivery decides
/// the same way. In order:
///
/// 1. the card `4000000000000002` is always declined: `card_declined`;
/// 2. a negative amount: `invalid_amount`;
/// 3. an amount strictly above `declineAboveCents` (`PAYMENT_DECLINE_ABOVE_CENTS`, default
///    1 000 000): `amount_above_limit`;
/// 4. `failurePercent` (`PAYMENT_FAILURE_PERCENT`, 0…100, default 0) of the orders:
///    `simulated_failure`. Which ones is stable: the order's bucket is the FNV-1a 64 hash
///    of its id's UTF-8 bytes modulo 100, and the order fails when its bucket is below the
///    percentage (0 declines none, 100 all).
///
/// Everything else is charged.
public struct PaymentPolicy: Sendable, Equatable {
    /// The card that is always declined.
    public static let declinedCard = "4000000000000002"

    public var declineAboveCents: Int
    public var failurePercent: Int

    public init(declineAboveCents: Int = 1_000_000, failurePercent: Int = 0) {
        self.declineAboveCents = declineAboveCents
        self.failurePercent = failurePercent
    }

    /// Reads `PAYMENT_DECLINE_ABOVE_CENTS` and `PAYMENT_FAILURE_PERCENT`.
    public init(environment: EnvironmentReader) throws {
        self.init(
            declineAboveCents: try environment.integer("PAYMENT_DECLINE_ABOVE_CENTS", default: 1_000_000, in: 0...Int.max),
            failurePercent: try environment.integer("PAYMENT_FAILURE_PERCENT", default: 0, in: 0...100))
    }

    /// What to do with a charge.
    public enum Decision: Sendable, Equatable {
        case charge
        case decline(reason: String)
    }

    public func decide(orderID: String, amountCents: Int, card: String) -> Decision {
        if card == Self.declinedCard { return .decline(reason: "card_declined") }
        if amountCents < 0 { return .decline(reason: "invalid_amount") }
        if amountCents > declineAboveCents { return .decline(reason: "amount_above_limit") }
        if Self.bucket(orderID: orderID) < failurePercent { return .decline(reason: "simulated_failure") }
        return .charge
    }

    /// The order's bucket, 0…99: FNV-1a 64 of the id's UTF-8 bytes, modulo 100.
    public static func bucket(orderID: String) -> Int {
        Int(fnv1a64(orderID) % 100)
    }

    /// FNV-1a, 64 bits (offset basis 0xcbf29ce484222325, prime 0x100000001b3).
    public static func fnv1a64(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }
}
