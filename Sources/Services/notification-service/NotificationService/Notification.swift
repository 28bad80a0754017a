import EventBus
import Foundation

/// A message sent to a user about one of their todos.
public struct Notification: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case todoCreated = "todo_created"
        case todoCompleted = "todo_completed"
    }

    public var userID: String
    public var todoID: String
    /// The event that caused it (one notification per event).
    public var eventID: String
    public var kind: Kind
    public var message: String
    /// How it was delivered: `stream` or `webhook`.
    public var channel: String
    public var sentAt: String

    enum CodingKeys: String, CodingKey {
        case userID = "user_id", todoID = "todo_id", eventID = "event_id", kind, message, channel, sentAt = "sent_at"
    }
}
