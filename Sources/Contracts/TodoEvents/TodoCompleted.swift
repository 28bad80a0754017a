import EventBus
import Foundation

/// A todo was completed.
///
/// Schema versions, both accepted by every consumer:
/// - v1: `todo_id`, `user_id`, `title`.
/// - v2 (written now): adds `priority`, `created_at` and `completed_at`, so that consumers
///   can compute how long todos take without looking the todo up. A v1 event decodes with
///   these fields nil.
public struct TodoCompleted: DomainEvent, Equatable {
    public static let eventType = "todo.completed"
    public static let aggregateType = "todo"
    public static let schemaVersion = 2
    public var todoID: String
    public var userID: String
    public var title: String
    public var priority: TodoPriority?
    public var createdAt: Date?
    public var completedAt: Date?
    public var aggregateID: String { todoID }

    public init(
        todoID: String, userID: String, title: String, priority: TodoPriority?, createdAt: Date?,
        completedAt: Date? = Date()
    ) {
        self.todoID = todoID
        self.userID = userID
        self.title = title
        self.priority = priority
        self.createdAt = createdAt
        self.completedAt = completedAt
    }

    enum CodingKeys: String, CodingKey {
        case todoID = "todo_id", userID = "user_id", title, priority, createdAt = "created_at", completedAt = "completed_at"
    }

    /// The v1 shape.
    struct Version1: Codable {
        var todoID: String
        var userID: String
        var title: String
        enum CodingKeys: String, CodingKey { case todoID = "todo_id", userID = "user_id", title }
    }

    public static func decode(from data: ArraySlice<UInt8>, version: Int) throws -> TodoCompleted {
        switch version {
        case 1:
            let old = try EventDataDecoder().decode(Version1.self, from: data)
            return TodoCompleted(
                todoID: old.todoID, userID: old.userID, title: old.title, priority: nil, createdAt: nil, completedAt: nil)
        case 2:
            return try EventDataDecoder().decode(TodoCompleted.self, from: data)
        default:
            throw EventBusError(
                .unsupportedVersion, "\(eventType) version \(version) is newer than the newest this consumer knows (2)")
        }
    }
}
