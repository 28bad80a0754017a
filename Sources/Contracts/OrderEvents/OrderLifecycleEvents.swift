import EventBus
import Foundation

// order-service's events, on `order-events` (aggregate type `order`, aggregate id the
// order id). `order.created` starts the order saga; the others answer the saga's
// `order.confirm` and `order.cancel` commands and are facts other services may read
// (inventory-service turns a confirmed order's reservation into a sale).

/// An order was accepted and awaits its saga. Carries everything the saga's steps need, and
/// no card number: the card travels as `payment_token`, sealed for payment-service (see
/// `PaymentCards`), beside its last four digits.
///
/// Schema versions, both accepted:
/// - v1: `order_id`, `user_id`, `items`, `amount_cents`, `card` (the full number),
///   `created_at`. Decoded with `legacyCard` set (and `card_last4` from it), so that an
///   order accepted before the upgrade is still charged; never written any more.
/// - v2 (written now): `card` replaced by `card_last4` and `payment_token`.
public struct OrderCreated: DomainEvent, Equatable {
    public static let eventType = "order.created"
    public static let aggregateType = "order"
    public static let schemaVersion = 2
    public var orderID: String
    public var userID: String
    public var items: [OrderItem]
    public var amountCents: Int
    /// The card's last four digits, the only part of it shown or stored.
    public var cardLast4: String
    /// The card sealed for payment-service (nil only in a v1 event).
    public var paymentToken: String?
    /// The full number of a v1 event (written before tokens); never encoded.
    public var legacyCard: String?
    public var createdAt: Date
    public var aggregateID: String { orderID }

    public init(
        orderID: String, userID: String, items: [OrderItem], amountCents: Int, cardLast4: String, paymentToken: String,
        createdAt: Date = Date()
    ) {
        self.orderID = orderID
        self.userID = userID
        self.items = items
        self.amountCents = amountCents
        self.cardLast4 = cardLast4
        self.paymentToken = paymentToken
        self.legacyCard = nil
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case orderID = "order_id", userID = "user_id", items, amountCents = "amount_cents", cardLast4 = "card_last4"
        case paymentToken = "payment_token", legacyCard = "card", createdAt = "created_at"
    }

    /// Reads both versions' fields (the saga keeps the data of the event that started it,
    /// whatever its version).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        orderID = try container.decode(String.self, forKey: .orderID)
        userID = try container.decode(String.self, forKey: .userID)
        items = try container.decode([OrderItem].self, forKey: .items)
        amountCents = try container.decode(Int.self, forKey: .amountCents)
        createdAt = try container.decode(Date.self, forKey: .createdAt)
        legacyCard = try container.decodeIfPresent(String.self, forKey: .legacyCard)
        paymentToken = try container.decodeIfPresent(String.self, forKey: .paymentToken)
        if let last4 = try container.decodeIfPresent(String.self, forKey: .cardLast4) {
            cardLast4 = last4
        } else if let legacyCard {
            cardLast4 = String(legacyCard.suffix(4))
        } else {
            throw DecodingError.keyNotFound(
                CodingKeys.cardLast4, .init(codingPath: container.codingPath, debugDescription: "neither card_last4 nor card"))
        }
        guard paymentToken != nil || legacyCard != nil else {
            throw DecodingError.keyNotFound(
                CodingKeys.paymentToken, .init(codingPath: container.codingPath, debugDescription: "neither payment_token nor card"))
        }
    }

    /// Writes the v2 fields; a v1 event's card is written back only as it came (never made).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(orderID, forKey: .orderID)
        try container.encode(userID, forKey: .userID)
        try container.encode(items, forKey: .items)
        try container.encode(amountCents, forKey: .amountCents)
        try container.encode(cardLast4, forKey: .cardLast4)
        try container.encodeIfPresent(paymentToken, forKey: .paymentToken)
        try container.encodeIfPresent(legacyCard, forKey: .legacyCard)
        try container.encode(createdAt, forKey: .createdAt)
    }
}

/// The order is confirmed (the saga's last step succeeded). Replies to `order.confirm`.
public struct OrderConfirmed: DomainEvent, Equatable {
    public static let eventType = "order.confirmed"
    public static let aggregateType = "order"
    public var orderID: String
    public var userID: String
    public var items: [OrderItem]
    public var amountCents: Int
    public var aggregateID: String { orderID }

    public init(orderID: String, userID: String, items: [OrderItem], amountCents: Int) {
        self.orderID = orderID
        self.userID = userID
        self.items = items
        self.amountCents = amountCents
    }

    enum CodingKeys: String, CodingKey {
        case orderID = "order_id", userID = "user_id", items, amountCents = "amount_cents"
    }
}

/// The order is cancelled, with the saga's reason. Replies to `order.cancel` (also when it
/// was already cancelled).
public struct OrderCancelled: DomainEvent, Equatable {
    public static let eventType = "order.cancelled"
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

/// `order.confirm` arrived for an order already cancelled (a late command): it stays
/// cancelled. A failure reply of the confirm step.
public struct OrderConfirmRejected: DomainEvent, Equatable {
    public static let eventType = "order.confirm_rejected"
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
