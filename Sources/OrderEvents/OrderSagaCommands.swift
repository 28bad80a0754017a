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

/// Charge the order's amount (step `charge-payment`).
public struct PaymentCharge: DomainEvent, Equatable {
    public static let eventType = "payment.charge"
    public static let aggregateType = "payment"
    public var orderID: String
    public var userID: String
    public var amountCents: Int
    public var card: String
    public var aggregateID: String { orderID }

    public init(orderID: String, userID: String, amountCents: Int, card: String) {
        self.orderID = orderID
        self.userID = userID
        self.amountCents = amountCents
        self.card = card
    }

    enum CodingKeys: String, CodingKey { case orderID = "order_id", userID = "user_id", amountCents = "amount_cents", card }
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
