import EventBus
import Foundation
import RedisClient
import TodoEvents

/// notification-service's subscriptions: `todo.created` and `todo.completed` (the group
/// acknowledges the other todo types without handling them). Each event notifies its user
/// once: the record (`NotificationLog`) is a transactional write, committed with the
/// event's processed marker per batch of events, and a webhook runs inside an
/// `IdempotencyGuard` of its own (`notification-webhook:processed:<event_id>`), so a
/// redelivered event never posts twice while the first POST may still be under way.
///
/// The guard's `running` lease is `webhookLease(timeout:)` of the webhook's whole-request
/// deadline: longer than a POST can take, short enough that after a crash mid-POST the event
/// is sent soon. A delivery refused by the lease does not count (`.effectInProgress`): the
/// event stays pending with its delivery count and is sent once the lease is over, never
/// dead-lettered for it.
public enum NotificationHandlers {
    public static let group = "notification-service"
    /// The guard's group of the webhook deliveries (its markers are not the record's).
    public static let webhookGuardGroup = "notification-webhook"

    /// The guard's lease for a webhook whose requests end within `timeout`: twice that, plus
    /// a second (the handler's own Redis round trips, a loaded machine).
    public static func webhookLease(timeout: Duration) -> Duration {
        timeout * 2 + .seconds(1)
    }

    /// - Parameters:
    ///   - markerWindow: how long a webhook delivery is remembered (its guard's marker).
    ///   - webhookLease: how long a webhook delivery holds its event (see `webhookLease(timeout:)`).
    public static func make(
        sender: any NotificationSender, client: RedisClient, markerWindow: Duration = .seconds(7 * 24 * 3600),
        webhookLease: Duration = .seconds(60)
    ) -> EventHandlers {
        let once = IdempotencyGuard(client: client, group: webhookGuardGroup, window: markerWindow, lease: webhookLease)
        @Sendable func deliverAndRecord(
            _ notification: Notification, _ envelope: EventEnvelope, stream: String
        ) async throws -> [RedisCommand] {
            var notification = notification
            notification.channel = sender.channel(for: notification)
            if notification.channel != StreamNotificationSender.channel {
                try await once.once(envelope) { try await sender.deliver(notification) }
            }
            return try NotificationLog.writes(recording: notification, eventStream: stream)
        }
        var handlers = EventHandlers()
        handlers.onTransactional(TodoCreated.self, commit: .perBatch) { received in
            let todo = received.event
            return try await deliverAndRecord(
                notification(for: received.envelope, userID: todo.userID, todoID: todo.todoID, kind: .todoCreated,
                    message: "New todo '\(todo.title)' (\(todo.priority.rawValue) priority) was added to your list."),
                received.envelope, stream: received.stream)
        }
        handlers.onTransactional(TodoCompleted.self, commit: .perBatch) { received in
            let todo = received.event
            return try await deliverAndRecord(
                notification(for: received.envelope, userID: todo.userID, todoID: todo.todoID, kind: .todoCompleted,
                    message: "Your todo '\(todo.title)' has been completed!"),
                received.envelope, stream: received.stream)
        }
        return handlers
    }

    static func notification(
        for envelope: EventEnvelope, userID: String, todoID: String, kind: Notification.Kind, message: String
    ) -> Notification {
        Notification(
            userID: userID, todoID: todoID, eventID: envelope.eventID, kind: kind, message: message, channel: "",
            sentAt: RFC3339.string(microsecondsSinceEpoch: RFC3339.nowMicroseconds()))
    }
}
