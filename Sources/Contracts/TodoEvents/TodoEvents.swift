import EventBus

// The todo service's events, shared by their publisher and every subscriber.
// Each carries what its consumers need (event-carried state transfer: user, title,
// priority, timestamps), so a consumer never has to call the todo service back.
// All go to the stream `todo-events` (aggregate type `todo`).

/// Todo priorities, as stored in events and in the todo service's API.
public enum TodoPriority: String, Codable, Sendable, CaseIterable {
    case low, medium, high, urgent
}

/// Every todo event type, for consumers that subscribe to all of them.
public enum TodoEvents {
    /// The stream all todo events go to.
    public static let stream = "todo-events"
    public static let types: [any DomainEvent.Type] = [
        TodoCreated.self, TodoCompleted.self, TodoDeleted.self, TodoPriorityChanged.self, TodoTitleChanged.self,
    ]
}
