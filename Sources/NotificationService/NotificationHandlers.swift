import EventBus
import Foundation
import RedisClient
import TodoEvents

/// notification-service's subscriptions: `todo.created` and `todo.completed` (the group
/// acknowledges the other todo types without handling them). Each event notifies its user
/// once: the sender runs inside an `IdempotencyGuard`, so a redelivered event never
/// notifies twice.
public enum NotificationHandlers {
    public static let group = "notification-service"

    public static func make(sender: any NotificationSender, client: RedisClient) -> EventHandlers {
        let once = IdempotencyGuard(client: client, group: group)
        var handlers = EventHandlers()
        handlers.on(TodoCreated.self) { received in
            let todo = received.event
            try await once.once(received.envelope) {
                try await sender.send(
                    notification(for: received.envelope, userID: todo.userID, todoID: todo.todoID, kind: .todoCreated,
                        message: "New todo '\(todo.title)' (\(todo.priority.rawValue) priority) was added to your list."))
            }
        }
        handlers.on(TodoCompleted.self) { received in
            let todo = received.event
            try await once.once(received.envelope) {
                try await sender.send(
                    notification(for: received.envelope, userID: todo.userID, todoID: todo.todoID, kind: .todoCompleted,
                        message: "Your todo '\(todo.title)' has been completed!"))
            }
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
