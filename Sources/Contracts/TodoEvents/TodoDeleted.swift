import EventBus
import Foundation

/// A todo was deleted (whatever its status).
public struct TodoDeleted: DomainEvent, Equatable {
    public static let eventType = "todo.deleted"
    public static let aggregateType = "todo"
    public var todoID: String
    public var userID: String
    public var title: String
    public var priority: TodoPriority
    /// Whether it had been completed before it was deleted.
    public var wasCompleted: Bool
    public var deletedAt: Date
    public var aggregateID: String { todoID }

    public init(
        todoID: String, userID: String, title: String, priority: TodoPriority, wasCompleted: Bool, deletedAt: Date = Date()
    ) {
        self.todoID = todoID
        self.userID = userID
        self.title = title
        self.priority = priority
        self.wasCompleted = wasCompleted
        self.deletedAt = deletedAt
    }

    enum CodingKeys: String, CodingKey {
        case todoID = "todo_id", userID = "user_id", title, priority, wasCompleted = "was_completed", deletedAt = "deleted_at"
    }
}
