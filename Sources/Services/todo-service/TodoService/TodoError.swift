import Hummingbird
import ServiceKit

/// Why a todo request cannot be done. Each case answers for itself (`ServiceError`):
/// 404 `not_found`, 409 `conflict`, 422 `invalid_field` (the message names the field as
/// the client wrote it).
public enum TodoError: Error, Equatable, CustomStringConvertible {
    case notFound(String)
    case conflict(String)
    case invalid(field: String, reason: String)

    public var description: String {
        switch self {
        case .notFound(let id): "todo \(id) does not exist"
        case .conflict(let message): message
        case .invalid(let field, let reason): "field '\(field)' \(reason)"
        }
    }
}

extension TodoError: ServiceError {
    public var status: HTTPResponse.Status {
        switch self {
        case .notFound: .notFound
        case .conflict: .conflict
        case .invalid: .unprocessableContent
        }
    }

    public var code: String {
        switch self {
        case .notFound: "not_found"
        case .conflict: "conflict"
        case .invalid: "invalid_field"
        }
    }

    public var message: String { description }
}
