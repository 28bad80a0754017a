import EventBus
import OrderEvents
import SagaRuntime

/// payment-service's subscriptions: the saga's `payment.charge` and `payment.refund` on
/// `payment-commands`, in the group `payment-service`. Each decides (`PaymentPolicy`),
/// records once per order (`PaymentStore`), then publishes its reply on `payment-events`
/// with the command's correlation id and `meta.saga_*` fields
/// (`SagaReplyPublisher`). The reply is published after the record, on every
/// delivery: a process that dies in between leaves the command pending, and its
/// redelivery finds the record and publishes the same reply. The coordinator ignores
/// duplicate replies.
public enum PaymentHandlers {
    public static let group = "payment-service"

    public static func make(
        store: PaymentStore, policy: PaymentPolicy, replies: SagaReplyPublisher
    ) -> EventHandlers {
        var handlers = EventHandlers()
        handlers.on(PaymentCharge.self) { received in
            let charge = received.event
            let decision = policy.decide(orderID: charge.orderID, amountCents: charge.amountCents, card: charge.card)
            let outcome = try await store.charge(orderID: charge.orderID, amountCents: charge.amountCents, decision: decision)
            let reply: any DomainEvent
            switch outcome {
            case .charged(let amount): reply = PaymentCharged(orderID: charge.orderID, amountCents: amount)
            case .declined(let reason): reply = PaymentDeclined(orderID: charge.orderID, reason: reason)
            }
            try await replies.reply(reply, to: received.envelope, outcome: "\(outcome)")
        }
        handlers.on(PaymentRefund.self) { received in
            let orderID = received.event.orderID
            let refunded = try await store.refund(orderID: orderID)
            try await replies.reply(
                PaymentRefunded(orderID: orderID, refundedCents: refunded), to: received.envelope,
                outcome: "refunded \(refunded) cents")
        }
        return handlers
    }
}
