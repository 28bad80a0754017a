/// Why a todo request cannot be done; the routes answer 404 / 409 / 400 for these.
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
