import EventBus
import Foundation
import TodoEvents

/// A todo's lifecycle: open → completed, and either → deleted (a tombstone, kept so that a
/// late request on it is answered 409, not 404).
public enum TodoStatus: String, Codable, Sendable {
    case open, completed, deleted
}

/// A todo as the API returns it and as it is stored (the hash `todos:<id>`).
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
    /// Incremented by every change; a change commits only if it is still the version read.
    var version: Int

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
        version = 0
    }

    init(
        id: String, userID: String, title: String, description: String, priority: TodoPriority, status: TodoStatus,
        createdAt: Date, updatedAt: Date, completedAt: Date?, version: Int
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
        self.version = version
    }
}

extension Todo {
    /// The hash fields, as stored.
    var hashFields: [(String, String)] {
        var fields = [
            ("id", id), ("user_id", userID), ("title", title), ("description", description),
            ("priority", priority.rawValue), ("status", status.rawValue),
            ("created_at", RFC3339.string(from: createdAt)), ("updated_at", RFC3339.string(from: updatedAt)),
            ("version", "\(version)"),
        ]
        if let completedAt { fields.append(("completed_at", RFC3339.string(from: completedAt))) }
        return fields
    }

    /// Reads a todo from its hash fields; nil when the hash is empty or not a todo.
    init?(hash: [String: String]) {
        guard let id = hash["id"], let userID = hash["user_id"], let title = hash["title"],
            let priority = hash["priority"].flatMap(TodoPriority.init(rawValue:)),
            let status = hash["status"].flatMap(TodoStatus.init(rawValue:)),
            let createdAt = hash["created_at"].flatMap(RFC3339.date(from:)),
            let version = hash["version"].flatMap(Int.init)
        else { return nil }
        self.init(
            id: id, userID: userID, title: title, description: hash["description"] ?? "", priority: priority,
            status: status, createdAt: createdAt, updatedAt: hash["updated_at"].flatMap(RFC3339.date(from:)) ?? createdAt,
            completedAt: hash["completed_at"].flatMap(RFC3339.date(from:)), version: version)
    }
}
