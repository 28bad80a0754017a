import EventBus
import OrderEvents
import PaymentCards
import SagaRuntime

/// payment-service's subscriptions: the saga's `payment.charge` and `payment.refund` on
/// `payment-commands`, in the group `payment-service`. Each decides (`PaymentPolicy`),
/// records once per order (`PaymentStore`), then publishes its reply on `payment-events`
/// with the command's correlation id and `meta.saga_*` fields
/// (`SagaReplyPublisher`). The reply is published after the record, on every
/// delivery: a process that dies in between leaves the command pending, and its
/// redelivery finds the record and publishes the same reply. The coordinator ignores
/// duplicate replies.
///
/// The card is opened from the command's `payment_token` with the installation's private key
/// only for the decision, and is kept nowhere (not in Redis, a log line or a span); a token
/// that does not open (another installation's key, tampered, made for another order) is
/// declined with `payment_token_invalid`. A v1 command's plain `card` is still charged.
public enum PaymentHandlers {
    public static let group = "payment-service"

    public static func make(
        store: PaymentStore, policy: PaymentPolicy, cardKey: PaymentCardOpeningKey, replies: SagaReplyPublisher
    ) -> EventHandlers {
        var handlers = EventHandlers()
        handlers.on(PaymentCharge.self) { received in
            let charge = received.event
            let decision: PaymentPolicy.Decision
            if let token = charge.paymentToken {
                if let card = try? PaymentCardToken.open(token, orderID: charge.orderID, with: cardKey) {
                    decision = policy.decide(orderID: charge.orderID, amountCents: charge.amountCents, card: card)
                } else {
                    decision = .decline(reason: "payment_token_invalid")
                }
            } else {
                decision = policy.decide(orderID: charge.orderID, amountCents: charge.amountCents, card: charge.legacyCard ?? "")
            }
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
