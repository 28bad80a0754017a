import EventBus

// The todo service's events, shared by their publisher and every subscriber.
// Each carries what its consumers need (event-carried state transfer), so a consumer
// rarely has to call the todo service back. All go to the `todo-events` stream.

/// Todo priorities, as stored in events.
public enum TodoPriority: String, Codable, Sendable, CaseIterable {
    case low, medium, high, urgent
}

/// A todo was created.
public struct TodoCreated: DomainEvent, Equatable {
    public static let eventType = "todo.created"
    public static let aggregateType = "todo"
    public var todoID: String
    public var userID: String
    public var title: String
    public var description: String
    public var priority: TodoPriority
    public var aggregateID: String { todoID }

    public init(todoID: String, userID: String, title: String, description: String = "", priority: TodoPriority = .medium) {
        self.todoID = todoID
        self.userID = userID
        self.title = title
        self.description = description
        self.priority = priority
    }

    enum CodingKeys: String, CodingKey {
        case todoID = "todo_id", userID = "user_id", title, description, priority
    }
}

/// A todo was completed.
public struct TodoCompleted: DomainEvent, Equatable {
    public static let eventType = "todo.completed"
    public static let aggregateType = "todo"
    public var todoID: String
    public var userID: String
    public var title: String
    public var aggregateID: String { todoID }

    public init(todoID: String, userID: String, title: String) {
        self.todoID = todoID
        self.userID = userID
        self.title = title
    }

    enum CodingKeys: String, CodingKey {
        case todoID = "todo_id", userID = "user_id", title
    }
}

/// A todo's priority changed.
public struct TodoPriorityChanged: DomainEvent, Equatable {
    public static let eventType = "todo.priority_changed"
    public static let aggregateType = "todo"
    public var todoID: String
    public var userID: String
    public var oldPriority: TodoPriority
    public var newPriority: TodoPriority
    public var aggregateID: String { todoID }

    public init(todoID: String, userID: String, oldPriority: TodoPriority, newPriority: TodoPriority) {
        self.todoID = todoID
        self.userID = userID
        self.oldPriority = oldPriority
        self.newPriority = newPriority
    }

    enum CodingKeys: String, CodingKey {
        case todoID = "todo_id", userID = "user_id", oldPriority = "old_priority", newPriority = "new_priority"
    }
}

/// A todo was deleted.
public struct TodoDeleted: DomainEvent, Equatable {
    public static let eventType = "todo.deleted"
    public static let aggregateType = "todo"
    public var todoID: String
    public var userID: String
    public var aggregateID: String { todoID }

    public init(todoID: String, userID: String) {
        self.todoID = todoID
        self.userID = userID
    }

    enum CodingKeys: String, CodingKey {
        case todoID = "todo_id", userID = "user_id"
    }
}
