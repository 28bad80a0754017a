import RedisClient

/// An error from the operations API (`DeadLetterStore`, `StreamInspector`,
/// `StreamRetention`): a stream or group that does not exist, a key that is not a stream,
/// or an argument out of range. Other Redis failures are passed through as `RedisError`.
public struct StreamOperationError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is. New codes may be added without breaking users.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case noSuchStream, noSuchGroup, wrongType, invalidArgument, unexpectedReply
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }
        public var description: String { base.rawValue }

        /// The key does not exist.
        public static let noSuchStream = Code(.noSuchStream)
        /// The stream has no consumer group of that name.
        public static let noSuchGroup = Code(.noSuchGroup)
        /// The key holds something other than a stream.
        public static let wrongType = Code(.wrongType)
        /// An argument was rejected before anything was sent.
        public static let invalidArgument = Code(.invalidArgument)
        /// Redis answered with a shape this API does not know.
        public static let unexpectedReply = Code(.unexpectedReply)
    }

    public let code: Code
    /// A sentence naming the stream, group or key concerned, e.g. `stream orders does not exist`.
    public let message: String
    public let file: String
    public let line: Int

    public init(_ code: Code, _ message: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.file = file
        self.line = line
    }

    public var description: String { message }

    static func noSuchStream(_ stream: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(.noSuchStream, "stream \(stream) does not exist", file: file, line: line)
    }

    static func wrongType(_ key: String, type: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(.wrongType, "WRONGTYPE key \(key) holds a \(type), not a stream", file: file, line: line)
    }

    static func noSuchGroup(_ group: String, stream: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(.noSuchGroup, "consumer group \(group) does not exist on stream \(stream)", file: file, line: line)
    }
}

extension RedisClient {
    /// Throws `StreamOperationError` unless `key` holds a stream.
    func requireStream(_ key: String) async throws {
        let type = try await send("TYPE", key).string ?? "none"
        switch type {
        case "stream": return
        case "none": throw StreamOperationError.noSuchStream(key)
        default: throw StreamOperationError.wrongType(key, type: type)
        }
    }
}

/// Runs `body`, turning `NOGROUP` replies into `StreamOperationError.noSuchGroup`.
func mappingNoGroup<T>(_ group: String, stream: String, _ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as RedisError where error.code == .noGroup {
        throw StreamOperationError.noSuchGroup(group, stream: stream)
    }
}

/// The fields of a reply made of name/value pairs (`XINFO`), by name.
func pairs(_ reply: RedisReply) -> [String: RedisReply] {
    guard let elements = reply.array else { return [:] }
    var result: [String: RedisReply] = [:]
    var index = 0
    while index + 1 < elements.count {
        if let name = elements[index].string { result[name] = elements[index + 1] }
        index += 2
    }
    return result
}
