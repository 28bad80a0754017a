/// A reply from the server, copied out of hiredis into Swift values.
///
/// Error replies are values here (a pipeline can mix successes and errors);
/// `RedisClient.send` turns them into thrown `RedisError`s.
public enum RedisReply: Sendable, Hashable {
    case status(String)
    case error(String)
    case integer(Int)
    case bulkString([UInt8])
    case null
    case array([RedisReply])

    /// The text of a status or bulk string reply.
    public var string: String? {
        switch self {
        case .status(let text): text
        case .bulkString(let bytes): String(decoding: bytes, as: UTF8.self)
        default: nil
        }
    }

    /// The value of an integer reply (or of a bulk string holding a decimal integer).
    public var int: Int? {
        switch self {
        case .integer(let value): value
        case .bulkString(let bytes): Int(String(decoding: bytes, as: UTF8.self))
        default: nil
        }
    }

    /// The elements of an array reply.
    public var array: [RedisReply]? {
        if case .array(let elements) = self { return elements }
        return nil
    }

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The reply itself, or the `RedisError` it carries when it is an error reply.
    public func throwingError(file: String = #fileID, line: Int = #line) throws(RedisError) -> RedisReply {
        if case .error(let text) = self { throw RedisError.server(text, file: file, line: line) }
        return self
    }
}

extension RedisReply: CustomStringConvertible {
    public var description: String {
        switch self {
        case .status(let text): "+\(text)"
        case .error(let text): "-\(text)"
        case .integer(let value): ":\(value)"
        case .bulkString(let bytes): "\"\(String(decoding: bytes, as: UTF8.self))\""
        case .null: "(nil)"
        case .array(let elements): "[\(elements.map(\.description).joined(separator: ", "))]"
        }
    }
}
