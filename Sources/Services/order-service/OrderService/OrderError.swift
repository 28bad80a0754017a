import Hummingbird
import ServiceKit

/// Why an order request or command cannot be done. Each case answers for itself
/// (`ServiceError`): 404 `not_found`, 422 `invalid_field` (naming the field as the client
/// wrote it), 422 `idempotency_key_reused`, and `corrupt` a 500 (logged, answered
/// `internal_error` with the request id only). A command handler throws them (the command
/// is retried, then dead-lettered: never dropped).
public enum OrderError: Error, Equatable, CustomStringConvertible {
    case notFound(String)
    /// A value the request could parse but that is not acceptable (`field` names it).
    case invalid(field: String, reason: String)
    /// An `Idempotency-Key` used before with another request body.
    case idempotencyKeyReused(String)
    /// The order's hash holds something this service did not write.
    case corrupt(id: String, String)

    public var description: String {
        switch self {
        case .notFound(let id): "order \(id) does not exist"
        case .invalid(let field, let reason): "field '\(field)' \(reason)"
        case .idempotencyKeyReused(let key):
            "Idempotency-Key '\(key)' was already used with a different request body"
        case .corrupt(let id, let message): "order \(id) cannot be read: \(message)"
        }
    }
}

extension OrderError: ServiceError {
    public var status: HTTPResponse.Status {
        switch self {
        case .notFound: .notFound
        case .invalid, .idempotencyKeyReused: .unprocessableContent
        case .corrupt: .internalServerError
        }
    }

    public var code: String {
        switch self {
        case .notFound: "not_found"
        case .invalid: "invalid_field"
        case .idempotencyKeyReused: "idempotency_key_reused"
        case .corrupt: "internal_error"
        }
    }

    public var message: String { description }
}
