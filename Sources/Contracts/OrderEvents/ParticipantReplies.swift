import EventBus

// inventory-service's events (on `inventory-events`) and payment-service's (on
// `payment-events`): the replies to the saga's commands. Each carries the command's
// `meta.saga_*` fields and correlation id; aggregate id: the order id.

/// The order's items are reserved (`available` went down, `reserved` up, once per order).
public struct InventoryReserved: DomainEvent, Equatable {
    public static let eventType = "inventory.reserved"
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

/// Not enough stock for one of the order's SKUs: nothing was reserved. A failure reply,
/// not an error.
public struct InventoryOutOfStock: DomainEvent, Equatable {
    public static let eventType = "inventory.out_of_stock"
    public static let aggregateType = "inventory"
    public var orderID: String
    public var sku: String
    public var requested: Int
    public var available: Int
    public var aggregateID: String { orderID }

    public init(orderID: String, sku: String, requested: Int, available: Int) {
        self.orderID = orderID
        self.sku = sku
        self.requested = requested
        self.available = available
    }

    enum CodingKeys: String, CodingKey { case orderID = "order_id", sku, requested, available }
}

/// A reserve arrived after the order's release (a late command): nothing was reserved.
public struct InventoryReservationRefused: DomainEvent, Equatable {
    public static let eventType = "inventory.reservation_refused"
    public static let aggregateType = "inventory"
    public var orderID: String
    public var reason: String
    public var aggregateID: String { orderID }

    public init(orderID: String, reason: String) {
        self.orderID = orderID
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey { case orderID = "order_id", reason }
}

/// The order's reservation (or sale) was given back; `items` is empty when nothing had
/// been reserved.
public struct InventoryReleased: DomainEvent, Equatable {
    public static let eventType = "inventory.released"
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

/// The order's amount was charged (once per order).
public struct PaymentCharged: DomainEvent, Equatable {
    public static let eventType = "payment.charged"
    public static let aggregateType = "payment"
    public var orderID: String
    public var amountCents: Int
    public var aggregateID: String { orderID }

    public init(orderID: String, amountCents: Int) {
        self.orderID = orderID
        self.amountCents = amountCents
    }

    enum CodingKeys: String, CodingKey { case orderID = "order_id", amountCents = "amount_cents" }
}

/// The charge was declined (card, amount, simulated failure, or refunded before it came):
/// nothing was charged.
public struct PaymentDeclined: DomainEvent, Equatable {
    public static let eventType = "payment.declined"
    public static let aggregateType = "payment"
    public var orderID: String
    public var reason: String
    public var aggregateID: String { orderID }

    public init(orderID: String, reason: String) {
        self.orderID = orderID
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey { case orderID = "order_id", reason }
}

/// What was charged for the order is refunded (`refunded_cents` 0 when nothing was).
public struct PaymentRefunded: DomainEvent, Equatable {
    public static let eventType = "payment.refunded"
    public static let aggregateType = "payment"
    public var orderID: String
    public var refundedCents: Int
    public var aggregateID: String { orderID }

    public init(orderID: String, refundedCents: Int) {
        self.orderID = orderID
        self.refundedCents = refundedCents
    }

    enum CodingKeys: String, CodingKey { case orderID = "order_id", refundedCents = "refunded_cents" }
}
