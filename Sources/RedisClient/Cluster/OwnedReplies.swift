import CHiredis
import Glibc

/// One reply copied out of a connection's arena (which is reused by its next batch), so the
/// replies of a request split over several cluster nodes can be put back together.
struct OwnedReply: Sendable {
    /// The reply's nodes in pre-order, offsets into `bytes`.
    var nodes: [chiredis_node]
    var bytes: [UInt8]

    /// Copies the reply at `cursor` (and its elements).
    init(copying cursor: ReplyCursor) {
        var cursor = cursor
        let first = cursor.position
        cursor.skipValue()
        nodes = []
        nodes.reserveCapacity(cursor.position - first)
        bytes = []
        for position in first..<cursor.position {
            var node = cursor.arena.pointee.nodes[position]
            if node.length > 0, let start = cursor.arena.pointee.bytes {
                let source = UnsafeRawBufferPointer(start: UnsafeRawPointer(start) + node.offset, count: node.length)
                node.offset = bytes.count
                bytes.append(contentsOf: source)
            } else {
                node.offset = bytes.count
            }
            nodes.append(node)
        }
    }

    /// An error reply made here (a request that could not be routed).
    init(error text: String) {
        bytes = Array(text.utf8)
        nodes = [chiredis_node(type: REDIS_REPLY_ERROR, integer: 0, offset: 0, length: bytes.count)]
    }

    /// The top-level error text, nil when the reply is not an error.
    var errorText: String? {
        guard nodes.first?.type == REDIS_REPLY_ERROR else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}

// `chiredis_node` is plain data (integers).
extension chiredis_node: @retroactive @unchecked Sendable {}

extension Replies {
    /// Rebuilds `replies` in one arena and hands them to `body` as `Replies` (the arena is
    /// freed when `body` returns).
    static func assembling<Result>(_ replies: [OwnedReply], _ body: (Replies) throws(RedisError) -> Result)
        throws(RedisError) -> Result
    {
        let arena = UnsafeMutablePointer<chiredis_arena>.allocate(capacity: 1)
        arena.initialize(to: chiredis_arena())
        defer {
            chiredis_arena_release(arena)
            arena.deinitialize(count: 1)
            arena.deallocate()
        }
        var roots: [Int] = []
        roots.reserveCapacity(replies.count)
        for reply in replies {
            roots.append(arena.pointee.node_count)
            reply.bytes.withUnsafeBufferPointer { bytes in
                for node in reply.nodes {
                    let text = node.length > 0
                        ? UnsafeRawPointer(bytes.baseAddress! + node.offset).assumingMemoryBound(to: CChar.self) : nil
                    _ = chiredis_arena_add(arena, node.type, node.integer, text, node.length)
                }
            }
        }
        if arena.pointee.failed != 0 { throw RedisError(.protocolError, "out of memory assembling replies") }
        return try roots.withUnsafeBufferPointer { (roots) throws(RedisError) -> Result in
            try body(Replies(arena: arena, roots: roots))
        }
    }

    /// Whether a reply is an error that routes it elsewhere (`MOVED`, `ASK`) or, unless
    /// `movedOrAskOnly`, asks to try again (`TRYAGAIN`, `CLUSTERDOWN`, `LOADING`): checked
    /// before a request is decoded.
    func hasRedirection(movedOrAskOnly: Bool) -> Bool {
        for index in 0..<count {
            let cursor = self[index]
            guard cursor.type == REDIS_REPLY_ERROR else { continue }
            switch ClusterRedirection(cursor.bytes) {
            case .moved, .ask: return true
            case .tryAgain: if !movedOrAskOnly { return true }
            case nil: continue
            }
        }
        return false
    }
}

/// An error reply that means "not here" or "not now": the command was not run.
enum ClusterRedirection: Equatable {
    /// `MOVED <slot> <host>:<port>`: the slot lives there now.
    case moved(slot: Int, endpoint: RedisConfiguration.Endpoint)
    /// `ASK <slot> <host>:<port>`: this key is being migrated there; ask once with `ASKING`.
    case ask(slot: Int, endpoint: RedisConfiguration.Endpoint)
    /// `TRYAGAIN` (a multi-key command during a migration), `CLUSTERDOWN` (no quorum or an
    /// unserved slot, e.g. during a failover), `LOADING`: retry after a backoff.
    case tryAgain

    init?(_ bytes: UnsafeRawBufferPointer) {
        guard let first = bytes.first, first == UInt8(ascii: "M") || first == UInt8(ascii: "A")
            || first == UInt8(ascii: "T") || first == UInt8(ascii: "C") || first == UInt8(ascii: "L")
        else { return nil }
        self.init(String(decoding: bytes, as: UTF8.self))
    }

    init?(_ text: String) {
        if text.hasPrefix("TRYAGAIN") || text.hasPrefix("CLUSTERDOWN") || text.hasPrefix("LOADING") {
            self = .tryAgain
            return
        }
        let words = text.split(separator: " ")
        guard words.count == 3, words[0] == "MOVED" || words[0] == "ASK", let slot = Int(words[1]),
            let colon = words[2].lastIndex(of: ":"), let port = Int(words[2][words[2].index(after: colon)...])
        else { return nil }
        var host = String(words[2][..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let endpoint = RedisConfiguration.Endpoint.tcp(host: host, port: port)
        self = words[0] == "MOVED" ? .moved(slot: slot, endpoint: endpoint) : .ask(slot: slot, endpoint: endpoint)
    }
}
