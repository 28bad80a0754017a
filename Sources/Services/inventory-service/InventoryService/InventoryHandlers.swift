import EventBus
import Logging
import OrderEvents
import SagaRuntime

/// inventory-service's subscriptions, in its group `inventory-service`:
///
/// - on `inventory-commands`, the saga's `inventory.reserve` and `inventory.release`. Each
///   changes the stock once per order (`InventoryStore`), then publishes its reply on
///   `inventory-events` with the command's correlation id and `meta.saga_*` fields
///   (`SagaReplyPublisher`). The reply is published after the change, on every
///   delivery: a process that dies in between leaves the command pending, and its
///   redelivery finds the recorded outcome and publishes the same reply. The coordinator
///   ignores duplicate replies.
/// - on `order-events`, `order.confirmed`: the order's reservation becomes a sale (the other
///   order events are acknowledged without handling).
public enum InventoryHandlers {
    public static let group = "inventory-service"

    /// The handlers of `inventory-commands`.
    public static func commands(
        store: InventoryStore, seeder: InventorySeeder, replies: SagaReplyPublisher
    ) -> EventHandlers {
        var handlers = EventHandlers()
        handlers.on(InventoryReserve.self) { received in
            try await seeder.ensureSeeded()
            let orderID = received.event.orderID
            let reply: any DomainEvent
            let outcome = try await store.reserve(orderID: orderID, items: received.event.items)
            switch outcome {
            case .reserved(let items):
                reply = InventoryReserved(orderID: orderID, items: items)
            case .outOfStock(let sku, let requested, let available):
                reply = InventoryOutOfStock(orderID: orderID, sku: sku, requested: requested, available: available)
            case .refused(let reason):
                reply = InventoryReservationRefused(orderID: orderID, reason: reason)
            }
            try await replies.reply(reply, to: received.envelope, outcome: "\(outcome)")
        }
        handlers.on(InventoryRelease.self) { received in
            // No seed needed: a release only gives back what a reserve took.
            let orderID = received.event.orderID
            let items = try await store.release(orderID: orderID)
            try await replies.reply(
                InventoryReleased(orderID: orderID, items: items), to: received.envelope,
                outcome: "gave back \(items.count) item(s)")
        }
        return handlers
    }

    /// The handlers of `order-events` (the consumer acknowledges the other types).
    public static func orderEvents(store: InventoryStore, logger: Logger) -> EventHandlers {
        var handlers = EventHandlers()
        handlers.on(OrderConfirmed.self) { received in
            let orderID = received.event.orderID
            let outcome = try await store.confirmSale(orderID: orderID)
            let metadata: Logger.Metadata = [
                "order_id": "\(orderID)", "event.id": "\(received.envelope.eventID)",
                "correlation_id": "\(received.envelope.correlationID)",
            ]
            switch outcome {
            case .sold:
                logger.info("Reservation sold", metadata: metadata)
            case .unchanged(let status):
                // A confirmed order whose reservation is gone, released or already sold
                // (a redelivery): nothing to do.
                logger.info("Confirmed order's reservation left as it is", metadata: metadata.merging(["inventory.status": "\(status)"]) { $1 })
            }
        }
        return handlers
    }
}
