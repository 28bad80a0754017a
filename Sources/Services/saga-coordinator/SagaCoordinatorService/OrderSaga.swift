import EventBus
import OrderEvents
import SagaRuntime

/// The order saga: create order (done by order-service's `POST /orders`, which publishes
/// `order.created`) → reserve inventory → charge payment → confirm order. When a step
/// fails or times out, the steps done are undone in reverse order: refund the payment,
/// release the inventory, cancel the order; the saga ends `compensated`.
public enum OrderSaga {
    /// The saga type: keys `saga:{order}:*`.
    public static let name = "order"

    /// Step and compensation timeouts, and the sends of a compensation before `failed`.
    public struct Timing: Sendable {
        public var stepTimeout: Duration
        public var compensationTimeout: Duration
        public var maxCompensationAttempts: Int

        public init(stepTimeout: Duration = .seconds(5), compensationTimeout: Duration = .seconds(5), maxCompensationAttempts: Int = 5) {
            self.stepTimeout = stepTimeout
            self.compensationTimeout = compensationTimeout
            self.maxCompensationAttempts = maxCompensationAttempts
        }
    }

    public static func definition(_ timing: Timing = Timing()) -> SagaDefinition {
        func compensation(_ command: String, _ acknowledgement: String, stream: String? = nil) -> SagaCompensation {
            SagaCompensation(command: command, acknowledgements: [acknowledgement], timeout: timing.compensationTimeout, stream: stream)
        }
        return SagaDefinition(
            name: name,
            steps: [
                SagaStep(
                    doneAtStart: "create-order",
                    compensation: compensation(OrderCancel.eventType, OrderCancelled.eventType, stream: OrderStreams.orderCommands)),
                SagaStep(
                    name: "reserve-inventory", command: InventoryReserve.eventType, commandStream: OrderStreams.inventoryCommands,
                    successReplies: [InventoryReserved.eventType],
                    failureReplies: [InventoryOutOfStock.eventType, InventoryReservationRefused.eventType],
                    timeout: timing.stepTimeout, compensation: compensation(InventoryRelease.eventType, InventoryReleased.eventType)),
                SagaStep(
                    name: "charge-payment", command: PaymentCharge.eventType, commandStream: OrderStreams.paymentCommands,
                    successReplies: [PaymentCharged.eventType], failureReplies: [PaymentDeclined.eventType],
                    timeout: timing.stepTimeout, compensation: compensation(PaymentRefund.eventType, PaymentRefunded.eventType)),
                // Confirming has nothing of its own to undo: the order's cancellation
                // (create-order's compensation) also undoes a confirmation that came late.
                SagaStep(
                    name: "confirm-order", command: OrderConfirm.eventType, commandStream: OrderStreams.orderCommands,
                    successReplies: [OrderConfirmed.eventType], failureReplies: [OrderConfirmRejected.eventType],
                    timeout: timing.stepTimeout, compensation: nil),
            ],
            maxCompensationAttempts: timing.maxCompensationAttempts)
    }

    /// The replies the coordinator reads, by the stream they come on.
    public static let replies: [(stream: String, types: [any DomainEvent.Type])] = [
        (OrderStreams.orderEvents, [OrderConfirmed.self, OrderConfirmRejected.self, OrderCancelled.self]),
        (
            OrderStreams.inventoryEvents,
            [InventoryReserved.self, InventoryOutOfStock.self, InventoryReservationRefused.self, InventoryReleased.self]
        ),
        (OrderStreams.paymentEvents, [PaymentCharged.self, PaymentDeclined.self, PaymentRefunded.self]),
    ]

    /// The event a command of the saga becomes, from the `order.created` it started with.
    @Sendable public static func makeCommand(_ command: SagaEffects.Command, saga: SagaState) throws -> any DomainEvent {
        let order = try EventDataDecoder().decode(OrderCreated.self, from: Array(saga.data.utf8))
        switch command.type {
        case InventoryReserve.eventType: return InventoryReserve(orderID: order.orderID, items: order.items)
        case InventoryRelease.eventType: return InventoryRelease(orderID: order.orderID)
        case PaymentCharge.eventType:
            // The token as order-service sealed it (the card number itself is never on the bus).
            return PaymentCharge(
                orderID: order.orderID, userID: order.userID, amountCents: order.amountCents, cardLast4: order.cardLast4,
                paymentToken: order.paymentToken, legacyCard: order.legacyCard)
        case PaymentRefund.eventType: return PaymentRefund(orderID: order.orderID)
        case OrderConfirm.eventType: return OrderConfirm(orderID: order.orderID)
        case OrderCancel.eventType: return OrderCancel(orderID: order.orderID, reason: saga.reason ?? "saga compensated")
        default: throw EventBusError(.handlerFailed, "the order saga has no command \(command.type)")
        }
    }
}
