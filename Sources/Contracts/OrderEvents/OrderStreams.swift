/// The order saga's streams. Each participant reads its commands from its own command
/// stream and publishes what it did (the replies, and facts such as `order.confirmed`) on
/// its own event stream; the saga coordinator reads the three event streams.
public enum OrderStreams {
    /// `order.created`, `order.confirmed`, `order.cancelled`, `order.confirm_rejected`.
    public static let orderEvents = "order-events"
    /// `order.confirm`, `order.cancel`: read by order-service.
    public static let orderCommands = "order-commands"
    /// `inventory.reserved`, `inventory.out_of_stock`, `inventory.reservation_refused`, `inventory.released`.
    public static let inventoryEvents = "inventory-events"
    /// `inventory.reserve`, `inventory.release`: read by inventory-service.
    public static let inventoryCommands = "inventory-commands"
    /// `payment.charged`, `payment.declined`, `payment.refunded`.
    public static let paymentEvents = "payment-events"
    /// `payment.charge`, `payment.refund`: read by payment-service.
    public static let paymentCommands = "payment-commands"
}

/// One line of an order: a quantity of one SKU.
public struct OrderItem: Codable, Sendable, Hashable {
    public var sku: String
    public var quantity: Int

    public init(sku: String, quantity: Int) {
        self.sku = sku
        self.quantity = quantity
    }
}
