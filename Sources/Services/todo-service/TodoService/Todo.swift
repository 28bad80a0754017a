import EventBus
import EventStore
import Foundation
import TodoEvents

/// A todo's lifecycle: open → completed, and either → deleted (a tombstone, kept so that a
/// late request on it is answered 409, not 404).
public enum TodoStatus: String, Codable, Sendable {
    case open, completed, deleted
}

/// A todo as the API returns it: the fold of its events (an event-sourced aggregate, whose
/// snapshot is this JSON form).
public struct Todo: Codable, Sendable, Equatable {
    public var id: String
    public var userID: String
    public var title: String
    public var description: String
    public var priority: TodoPriority
    public var status: TodoStatus
    public var createdAt: Date
    public var updatedAt: Date
    public var completedAt: Date?

    enum CodingKeys: String, CodingKey {
        case id, userID = "user_id", title, description, priority, status
        case createdAt = "created_at", updatedAt = "updated_at", completedAt = "completed_at"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(userID, forKey: .userID)
        try container.encode(title, forKey: .title)
        try container.encode(description, forKey: .description)
        try container.encode(priority, forKey: .priority)
        try container.encode(status, forKey: .status)
        try container.encode(RFC3339.string(from: createdAt), forKey: .createdAt)
        try container.encode(RFC3339.string(from: updatedAt), forKey: .updatedAt)
        try container.encode(completedAt.map { RFC3339.string(from: $0) }, forKey: .completedAt)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        func date(_ key: CodingKeys) throws -> Date? {
            guard let text = try container.decodeIfPresent(String.self, forKey: key) else { return nil }
            guard let date = RFC3339.date(from: text) else {
                throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "not RFC 3339")
            }
            return date
        }
        id = try container.decode(String.self, forKey: .id)
        userID = try container.decode(String.self, forKey: .userID)
        title = try container.decode(String.self, forKey: .title)
        description = try container.decode(String.self, forKey: .description)
        priority = try container.decode(TodoPriority.self, forKey: .priority)
        status = try container.decode(TodoStatus.self, forKey: .status)
        createdAt = try date(.createdAt) ?? Date(timeIntervalSince1970: 0)
        updatedAt = try date(.updatedAt) ?? createdAt
        completedAt = try date(.completedAt)
    }

    init(
        id: String, userID: String, title: String, description: String, priority: TodoPriority, status: TodoStatus,
        createdAt: Date, updatedAt: Date, completedAt: Date?
    ) {
        self.id = id
        self.userID = userID
        self.title = title
        self.description = description
        self.priority = priority
        self.status = status
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.completedAt = completedAt
    }
}

extension Todo: EventSourcedAggregate {
    public static let aggregateType = "todo"
    /// The snapshot is the API's JSON form of the todo.
    public static let snapshotSchemaVersion = 1

    /// Before its `todo.created`: nothing but the id.
    public init(id: String) {
        self.init(
            id: id, userID: "", title: "", description: "", priority: .medium, status: .open,
            createdAt: Date(timeIntervalSince1970: 0), updatedAt: Date(timeIntervalSince1970: 0), completedAt: nil)
    }

    /// The todo after `event` (events of other types are ignored).
    public mutating func apply(_ event: RecordedEvent) throws {
        switch event.envelope.eventType {
        case TodoCreated.eventType:
            let created = try event.decode(TodoCreated.self)
            self = Todo(
                id: id, userID: created.userID, title: created.title, description: created.description,
                priority: created.priority, status: .open, createdAt: created.createdAt, updatedAt: created.createdAt,
                completedAt: nil)
        case TodoCompleted.eventType:
            // v1 carries no completion time: the event's own timestamp is when it happened.
            let completed = try event.decode(TodoCompleted.self)
            let at = completed.completedAt ?? Date(timeIntervalSince1970: Double(event.envelope.timestampMicroseconds) / 1_000_000)
            status = .completed
            completedAt = at
            updatedAt = at
        case TodoPriorityChanged.eventType:
            let changed = try event.decode(TodoPriorityChanged.self)
            priority = changed.newPriority
            updatedAt = changed.changedAt
        case TodoTitleChanged.eventType:
            let changed = try event.decode(TodoTitleChanged.self)
            title = changed.newTitle
            updatedAt = changed.changedAt
        case TodoDeleted.eventType:
            status = .deleted
            updatedAt = try event.decode(TodoDeleted.self).deletedAt
        default:
            break
        }
    }
}
