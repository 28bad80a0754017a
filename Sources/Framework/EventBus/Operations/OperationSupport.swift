import RedisClient

// The operations API (`DeadLetterStore`, `StreamInspector`, `StreamRetention`) reports a
// stream or group that does not exist, a key that is not a stream, or an argument out of
// range as an `EventBusError`; other Redis failures pass through as `RedisError`.

extension EventBusError {
    static func noSuchStream(_ stream: String, file: String = #fileID, line: Int = #line) -> Self {
        EventBusError(.noSuchStream, "stream \(stream) does not exist", file: file, line: line)
    }

    static func wrongType(_ key: String, type: String, file: String = #fileID, line: Int = #line) -> Self {
        EventBusError(.wrongType, "WRONGTYPE key \(key) holds a \(type), not a stream", file: file, line: line)
    }

    static func noSuchGroup(_ group: String, stream: String, file: String = #fileID, line: Int = #line) -> Self {
        EventBusError(.noSuchGroup, "consumer group \(group) does not exist on stream \(stream)", file: file, line: line)
    }
}

extension RedisClient {
    /// Throws `EventBusError` unless `key` holds a stream.
    func requireStream(_ key: String) async throws {
        let type = try await send("TYPE", key).string ?? "none"
        switch type {
        case "stream": return
        case "none": throw EventBusError.noSuchStream(key)
        default: throw EventBusError.wrongType(key, type: type)
        }
    }
}

/// Runs `body`, turning `NOGROUP` replies into `EventBusError.noSuchGroup`.
func mappingNoGroup<T>(_ group: String, stream: String, _ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as RedisError where error.code == .noGroup {
        throw EventBusError.noSuchGroup(group, stream: stream)
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
