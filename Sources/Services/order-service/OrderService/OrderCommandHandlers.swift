import EventBus
import Logging
import OrderEvents
import SagaRuntime

/// order-service's part in the order saga: the `order-service` group on `order-commands`.
///
/// - `order.confirm`: a pending order becomes confirmed and `order.confirmed` is published;
///   an order already confirmed gets `order.confirmed` again; a cancelled one stays
///   cancelled and gets `order.confirm_rejected`.
/// - `order.cancel`: a pending or confirmed order becomes cancelled with the command's
///   reason and `order.cancelled` is published; an order already cancelled gets
///   `order.cancelled` again with its recorded reason.
///
/// The state change is one conditional script (`OrderStore`), so it happens once however
/// often the command arrives; the reply is published after it every time, with the
/// command's correlation id and `meta.saga_*` (`EventContext.replying(to:)`). A crash in
/// between leaves the command pending: its redelivery publishes the reply. Duplicate
/// replies are harmless (the coordinator ignores them). A command for an unknown order
/// throws: it is retried, then dead-lettered, never dropped. Other event types on the
/// stream are dead-lettered (`unknown_type`).
public enum OrderCommandHandlers {
    public static let group = "order-service"

    public static func make(store: OrderStore, logger: Logger) -> EventHandlers {
        var handlers = EventHandlers()
        handlers.on(OrderConfirm.self) { received in
            let transition = try await store.confirm(received.event.orderID)
            let order = transition.order
            let reply: any DomainEvent
            switch order.status {
            case .confirmed:
                reply = OrderConfirmed(orderID: order.id, userID: order.userID, items: order.items, amountCents: order.amountCents)
            case .cancelled:
                reply = OrderConfirmRejected(orderID: order.id, reason: "order was cancelled: \(order.reason)")
            case .pending:
                // The script confirms every pending order: this would be a bug, so no reply.
                throw OrderError.corrupt(id: order.id, "still pending after order.confirm")
            }
            try await answer(received.envelope, with: reply, transition: transition, store: store, logger: logger)
        }
        handlers.on(OrderCancel.self) { received in
            let transition = try await store.cancel(received.event.orderID, reason: received.event.reason)
            let reply = OrderCancelled(orderID: transition.order.id, reason: transition.order.reason)
            try await answer(received.envelope, with: reply, transition: transition, store: store, logger: logger)
        }
        return handlers
    }

    /// Publishes the reply to `command` and logs what the command did.
    static func answer(
        _ command: EventEnvelope, with reply: any DomainEvent, transition: OrderStore.Transition, store: OrderStore,
        logger: Logger
    ) async throws {
        try await store.publisher.publish([reply], context: .replying(to: command))
        logger.info(
            "Answered saga command",
            metadata: [
                "order_id": "\(transition.order.id)", "command": "\(command.eventType)",
                "reply": "\(type(of: reply).eventType)", "status": "\(transition.order.status.rawValue)",
                "changed": "\(transition.changed)", "saga_id": "\(command.metadata[SagaMessageMetadata.sagaID] ?? "")",
                "correlation_id": "\(command.correlationID)",
            ])
    }
}
