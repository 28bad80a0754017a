import EventBus

// The commands the order saga's coordinator sends, one per step and one per
// compensation. Each goes to its participant's command stream (`OrderStreams`), with the
// saga's correlation id and the metadata `meta.saga_id`, `meta.saga_type`,
// `meta.saga_step` that the participant copies onto its reply. Every command is
// idempotent per order: a participant that receives it twice does it once and answers
// the same way both times. Aggregate id: the order id.

/// Reserve the order's items (step `reserve-inventory`).
public struct InventoryReserve: DomainEvent, Equatable {
    public static let eventType = "inventory.reserve"
    public static let aggregateType = "inventory"
    public var orderID: String
    public var items: [OrderItem]
    public var aggregateID: String { orderID }

    public init(orderID: String, items: [OrderItem]) {
        self.orderID = orderID
        self.items = items
    }

    enum CodingKeys: String, CodingKey { case orderID = "order_id", items }
}

/// Give the order's reservation back (compensates `inventory.reserve`). Harmless when
/// nothing was reserved; a reserve that arrives after it is refused.
public struct InventoryRelease: DomainEvent, Equatable {
    public static let eventType = "inventory.release"
    public static let aggregateType = "inventory"
    public var orderID: String
    public var aggregateID: String { orderID }

    public init(orderID: String) { self.orderID = orderID }

    enum CodingKeys: String, CodingKey { case orderID = "order_id" }
}

/// Charge the order's amount (step `charge-payment`) to the card sealed in `payment_token`,
/// which only payment-service can open.
///
/// Schema versions, both accepted by payment-service:
/// - v1: `order_id`, `user_id`, `amount_cents`, `card` (the full number): commands written
///   before tokens, or made from a v1 `order.created`.
/// - v2 (written now): `card` replaced by `card_last4` and `payment_token`.
public struct PaymentCharge: DomainEvent, Equatable {
    public static let eventType = "payment.charge"
    public static let aggregateType = "payment"
    public static let schemaVersion = 2
    public var orderID: String
    public var userID: String
    public var amountCents: Int
    public var cardLast4: String
    /// The card sealed for payment-service (nil only for a v1 command).
    public var paymentToken: String?
    /// The full number of a v1 command or a v1 `order.created`; never made anew.
    public var legacyCard: String?
    public var aggregateID: String { orderID }

    public init(orderID: String, userID: String, amountCents: Int, cardLast4: String, paymentToken: String?, legacyCard: String? = nil) {
        self.orderID = orderID
        self.userID = userID
        self.amountCents = amountCents
        self.cardLast4 = cardLast4
        self.paymentToken = paymentToken
        self.legacyCard = legacyCard
    }

    enum CodingKeys: String, CodingKey {
        case orderID = "order_id", userID = "user_id", amountCents = "amount_cents", cardLast4 = "card_last4"
        case paymentToken = "payment_token", legacyCard = "card"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        orderID = try container.decode(String.self, forKey: .orderID)
        userID = try container.decode(String.self, forKey: .userID)
        amountCents = try container.decode(Int.self, forKey: .amountCents)
        legacyCard = try container.decodeIfPresent(String.self, forKey: .legacyCard)
        paymentToken = try container.decodeIfPresent(String.self, forKey: .paymentToken)
        cardLast4 = try container.decodeIfPresent(String.self, forKey: .cardLast4) ?? String((legacyCard ?? "").suffix(4))
        guard paymentToken != nil || legacyCard != nil else {
            throw DecodingError.keyNotFound(
                CodingKeys.paymentToken, .init(codingPath: container.codingPath, debugDescription: "neither payment_token nor card"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(orderID, forKey: .orderID)
        try container.encode(userID, forKey: .userID)
        try container.encode(amountCents, forKey: .amountCents)
        try container.encode(cardLast4, forKey: .cardLast4)
        try container.encodeIfPresent(paymentToken, forKey: .paymentToken)
        try container.encodeIfPresent(legacyCard, forKey: .legacyCard)
    }
}

/// Refund what was charged for the order (compensates `payment.charge`). Harmless when
/// nothing was charged; a charge that arrives after it is declined.
public struct PaymentRefund: DomainEvent, Equatable {
    public static let eventType = "payment.refund"
    public static let aggregateType = "payment"
    public var orderID: String
    public var aggregateID: String { orderID }

    public init(orderID: String) { self.orderID = orderID }

    enum CodingKeys: String, CodingKey { case orderID = "order_id" }
}

/// Confirm the order (step `confirm-order`).
public struct OrderConfirm: DomainEvent, Equatable {
    public static let eventType = "order.confirm"
    public static let aggregateType = "order"
    public var orderID: String
    public var aggregateID: String { orderID }

    public init(orderID: String) { self.orderID = orderID }

    enum CodingKeys: String, CodingKey { case orderID = "order_id" }
}

/// Cancel the order with the saga's reason (compensates `order.confirm`; also when the
/// order was confirmed by a confirm that came too late).
public struct OrderCancel: DomainEvent, Equatable {
    public static let eventType = "order.cancel"
    public static let aggregateType = "order"
    public var orderID: String
    public var reason: String
    public var aggregateID: String { orderID }

    public init(orderID: String, reason: String) {
        self.orderID = orderID
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey { case orderID = "order_id", reason }
}
