import EventBus
import Foundation

/// A todo was created.
public struct TodoCreated: DomainEvent, Equatable {
    public static let eventType = "todo.created"
    public static let aggregateType = "todo"
    public var todoID: String
    public var userID: String
    public var title: String
    public var description: String
    public var priority: TodoPriority
    public var createdAt: Date
    public var aggregateID: String { todoID }

    public init(
        todoID: String, userID: String, title: String, description: String = "", priority: TodoPriority = .medium,
        createdAt: Date = Date()
    ) {
        self.todoID = todoID
        self.userID = userID
        self.title = title
        self.description = description
        self.priority = priority
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case todoID = "todo_id", userID = "user_id", title, description, priority, createdAt = "created_at"
    }
}
