/// Why an order request or command cannot be done. The routes answer 404 / 422 / 409 for
/// the first three; a command handler throws them (the command is retried, then
/// dead-lettered: never dropped).
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
