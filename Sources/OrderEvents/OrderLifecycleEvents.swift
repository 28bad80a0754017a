import EventBus
import Foundation

// order-service's events, on `order-events` (aggregate type `order`, aggregate id the
// order id). `order.created` starts the order saga; the others answer the saga's
// `order.confirm` and `order.cancel` commands and are facts other services may read
// (inventory-service turns a confirmed order's reservation into a sale).

/// An order was accepted and awaits its saga. Carries everything the saga's steps need.
public struct OrderCreated: DomainEvent, Equatable {
    public static let eventType = "order.created"
    public static let aggregateType = "order"
    public var orderID: String
    public var userID: String
    public var items: [OrderItem]
    public var amountCents: Int
    /// The card to charge. A real system would carry a payment token from a vault here,
    /// never a card number; this project's payment-service is a simulator.
    public var card: String
    public var createdAt: Date
    public var aggregateID: String { orderID }

    public init(orderID: String, userID: String, items: [OrderItem], amountCents: Int, card: String, createdAt: Date = Date()) {
        self.orderID = orderID
        self.userID = userID
        self.items = items
        self.amountCents = amountCents
        self.card = card
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case orderID = "order_id", userID = "user_id", items, amountCents = "amount_cents", card, createdAt = "created_at"
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
