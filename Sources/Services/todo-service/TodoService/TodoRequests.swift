import Foundation
import TodoEvents

/// `POST /todos` body.
struct CreateTodoRequest: Decodable {
    var userID: String
    var title: String
    var description: String?
    var priority: String?
    enum CodingKeys: String, CodingKey { case userID = "user_id", title, description, priority }
}

/// `PUT /todos/{id}/priority` body.
struct ChangePriorityRequest: Decodable {
    var priority: String
}

/// `PUT /todos/{id}/title` body.
struct ChangeTitleRequest: Decodable {
    var title: String
}

/// The limits requests are checked against.
enum TodoLimits {
    static let userID = 64
    static let title = 200
    static let description = 2000

    static func userID(_ value: String) throws -> String {
        guard !value.isEmpty, value.count <= userID,
            value.unicodeScalars.allSatisfy({ $0.properties.isAlphabetic || ("0"..."9").contains($0) || "._-@".unicodeScalars.contains($0) })
        else {
            throw TodoError.invalid(field: "user_id", reason: "must be 1 to \(userID) letters, digits or . _ - @")
        }
        return value
    }

    static func title(_ value: String) throws -> String {
        // Swift's own trim (Unicode white space and newlines), not NSString's bridged one.
        guard let first = value.firstIndex(where: { !$0.isWhitespace }),
            let last = value.lastIndex(where: { !$0.isWhitespace })
        else { throw TodoError.invalid(field: "title", reason: "must not be empty") }
        let trimmed = String(value[first...last])
        guard trimmed.count <= title else { throw TodoError.invalid(field: "title", reason: "is longer than \(title) characters") }
        return trimmed
    }

    static func description(_ value: String?) throws -> String {
        let value = value ?? ""
        guard value.count <= description else {
            throw TodoError.invalid(field: "description", reason: "is longer than \(description) characters")
        }
        return value
    }

    static func priority(_ value: String?) throws -> TodoPriority {
        guard let value else { return .medium }
        guard let priority = TodoPriority(rawValue: value) else {
            throw TodoError.invalid(
                field: "priority", reason: "must be one of \(TodoPriority.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return priority
    }
}
