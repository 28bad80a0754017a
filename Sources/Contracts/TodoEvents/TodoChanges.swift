import EventBus
import Foundation

/// A todo's priority changed.
public struct TodoPriorityChanged: DomainEvent, Equatable {
    public static let eventType = "todo.priority_changed"
    public static let aggregateType = "todo"
    public var todoID: String
    public var userID: String
    public var title: String
    public var oldPriority: TodoPriority
    public var newPriority: TodoPriority
    public var changedAt: Date
    public var aggregateID: String { todoID }

    public init(
        todoID: String, userID: String, title: String, oldPriority: TodoPriority, newPriority: TodoPriority,
        changedAt: Date = Date()
    ) {
        self.todoID = todoID
        self.userID = userID
        self.title = title
        self.oldPriority = oldPriority
        self.newPriority = newPriority
        self.changedAt = changedAt
    }

    enum CodingKeys: String, CodingKey {
        case todoID = "todo_id", userID = "user_id", title, oldPriority = "old_priority", newPriority = "new_priority"
        case changedAt = "changed_at"
    }
}

/// A todo's title changed.
public struct TodoTitleChanged: DomainEvent, Equatable {
    public static let eventType = "todo.title_changed"
    public static let aggregateType = "todo"
    public var todoID: String
    public var userID: String
    public var oldTitle: String
    public var newTitle: String
    public var changedAt: Date
    public var aggregateID: String { todoID }

    public init(todoID: String, userID: String, oldTitle: String, newTitle: String, changedAt: Date = Date()) {
        self.todoID = todoID
        self.userID = userID
        self.oldTitle = oldTitle
        self.newTitle = newTitle
        self.changedAt = changedAt
    }

    enum CodingKeys: String, CodingKey {
        case todoID = "todo_id", userID = "user_id", oldTitle = "old_title", newTitle = "new_title", changedAt = "changed_at"
    }
}
