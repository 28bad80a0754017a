import CHiredis

/// Turns a hiredis reply into a Swift value on the connection's thread, right before
/// the reply is freed. Implemented only inside this module, so the C pointer never
/// leaves it.
protocol ReplyDecodable: Sendable {
    init(reply: UnsafeMutablePointer<redisReply>) throws(RedisError)
}

extension RedisReply: ReplyDecodable {
    init(reply: UnsafeMutablePointer<redisReply>) {
        let node = reply.pointee
        switch node.type {
        case REDIS_REPLY_STATUS: self = .status(RedisConnection.string(reply))
        case REDIS_REPLY_ERROR: self = .error(RedisConnection.string(reply))
        case REDIS_REPLY_INTEGER: self = .integer(Int(node.integer))
        case REDIS_REPLY_STRING: self = .bulkString(ReplyBytes.copy(reply))
        case REDIS_REPLY_ARRAY:
            var elements: [RedisReply] = []
            elements.reserveCapacity(node.elements)
            for index in 0..<node.elements {
                elements.append(RedisReply(reply: node.element[index]!))
            }
            self = .array(elements)
        default: self = .null
        }
    }
}

/// Byte access to string replies.
enum ReplyBytes {
    static func copy(_ reply: UnsafeMutablePointer<redisReply>) -> [UInt8] {
        guard let str = reply.pointee.str, reply.pointee.len > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: str, count: reply.pointee.len))
    }

    static func buffer(_ reply: UnsafeMutablePointer<redisReply>) -> UnsafeRawBufferPointer {
        guard let str = reply.pointee.str else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: str, count: reply.pointee.len)
    }

    /// Throws the server's error when the reply is an error reply.
    static func checkError(_ reply: UnsafeMutablePointer<redisReply>) throws(RedisError) {
        if reply.pointee.type == REDIS_REPLY_ERROR {
            throw RedisError.server(RedisConnection.string(reply))
        }
    }

    static func unexpected(_ reply: UnsafeMutablePointer<redisReply>, expected: String) -> RedisError {
        RedisError(.unexpectedReply, "expected \(expected), got \(RedisReply(reply: reply))")
    }
}
