import CHiredis

/// The replies of one request, as hiredis's reader laid them out in the connection's
/// reply arena (see `shim.h`): nodes in pre-order, string bytes in one buffer. Valid only
/// while the request's completion runs on the connection thread; never leaves this module.
struct Replies {
    let arena: UnsafeMutablePointer<chiredis_arena>
    let roots: UnsafeBufferPointer<Int>

    var count: Int { roots.count }

    /// A cursor at the `index`-th reply of the request.
    subscript(index: Int) -> ReplyCursor { ReplyCursor(arena: arena, position: roots[index]) }
}

/// Reads reply nodes in pre-order: an array's node is followed by its elements.
struct ReplyCursor {
    let arena: UnsafeMutablePointer<chiredis_arena>
    var position: Int

    /// The node at the cursor (without moving).
    var node: chiredis_node { arena.pointee.nodes[position] }
    var type: Int32 { node.type }

    /// Moves past the current node (not its elements).
    mutating func advance() { position += 1 }

    /// The current node's bytes (string, status, error).
    var bytes: UnsafeRawBufferPointer {
        let node = self.node
        return UnsafeRawBufferPointer(start: arena.pointee.bytes.map { UnsafeRawPointer($0) + node.offset }, count: node.length)
    }

    var text: String { String(decoding: bytes, as: UTF8.self) }

    /// Moves past the current node and all its elements.
    mutating func skipValue() {
        var remaining = 1
        while remaining > 0 {
            let node = self.node
            remaining -= 1
            if node.type == REDIS_REPLY_ARRAY { remaining += Int(node.integer) }
            position += 1
        }
    }

    /// Throws the server's error when the current node is an error reply.
    func checkError() throws(RedisError) {
        if type == REDIS_REPLY_ERROR { throw RedisError.server(text) }
    }

    func unexpected(expected: String) -> RedisError {
        var copy = self
        return RedisError(.unexpectedReply, "expected \(expected), got \(RedisReply(cursor: &copy))")
    }
}

extension RedisReply {
    /// Copies the value at the cursor (and its elements) and moves past it.
    init(cursor: inout ReplyCursor) {
        let node = cursor.node
        switch node.type {
        case REDIS_REPLY_STATUS: self = .status(cursor.text)
        case REDIS_REPLY_ERROR: self = .error(cursor.text)
        case REDIS_REPLY_INTEGER: self = .integer(Int(node.integer))
        case REDIS_REPLY_STRING: self = .bulkString(Array(cursor.bytes))
        case REDIS_REPLY_ARRAY:
            cursor.advance()
            var elements: [RedisReply] = []
            elements.reserveCapacity(Int(node.integer))
            for _ in 0..<Int(node.integer) { elements.append(RedisReply(cursor: &cursor)) }
            self = .array(elements)
            return
        default: self = .null
        }
        cursor.advance()
    }
}
