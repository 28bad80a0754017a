import CHiredis

/// How many replicas must have a write before it counts as done (`WAIT`), and for how long
/// to wait for them.
///
/// Guarantees: a request sent with an acknowledgement returns only once `replicas` replicas
/// of the master that applied it confirmed it (`WAIT` right after it on the same connection
/// covers every earlier write of that connection); otherwise it throws `.notReplicated`
/// (applied on the master, not known to be anywhere else). So with one replica per master
/// and `replicas: 1`, a master killed after a successful request loses nothing of it when
/// its replica is promoted.
public struct ReplicaAcknowledgement: Sendable, Hashable {
    public var replicas: Int
    public var timeout: Duration

    public init(replicas: Int, timeout: Duration = .seconds(1)) {
        self.replicas = replicas
        self.timeout = timeout
    }

    var command: RedisCommand {
        var command = RedisCommand("WAIT")
        command.append(replicas)
        command.append(timeout.wholeMilliseconds)
        return command
    }

    /// Throws `.notReplicated` unless the `WAIT` reply at `cursor` counts enough replicas.
    func check(_ cursor: ReplyCursor) throws(RedisError) {
        try cursor.checkError()
        guard cursor.type == REDIS_REPLY_INTEGER else { throw cursor.unexpected(expected: "WAIT's replica count") }
        let acknowledged = Int(cursor.node.integer)
        if acknowledged < replicas {
            throw RedisError(
                .notReplicated,
                "the write was applied on its master but only \(acknowledged) of \(replicas) replica(s) confirmed it within \(timeout)")
        }
    }
}

extension RedisClient {
    /// Sends `command` followed by `WAIT` in one request (so both run on the same node) and
    /// returns its reply once `acknowledgement` holds; an error reply is thrown.
    public func send(_ command: RedisCommand, replicated acknowledgement: ReplicaAcknowledgement) async throws -> RedisReply {
        try await execute([command, acknowledgement.command], timeout: nil) { replies throws(RedisError) in
            var cursor = replies[0]
            let reply = try RedisReply(cursor: &cursor).throwingError()
            try acknowledgement.check(replies[1])
            return reply
        }
    }

    /// Like `entryIDs`, with a `WAIT` after the last `XADD` to each stream (on its node).
    public func entryIDs(_ commands: [RedisCommand], replicated acknowledgement: ReplicaAcknowledgement?) async throws
        -> [StreamEntryID]
    {
        guard let acknowledgement else { return try await entryIDs(commands) }
        // Where the WAITs go: after the last command of each slot.
        var lastOfSlot: [Int: Int] = [:]
        for (index, command) in commands.enumerated() {
            if case .slot(let slot) = command.route { lastOfSlot[slot] = index }
        }
        let waitAfter = Set(lastOfSlot.values)
        var sent: [RedisCommand] = []
        sent.reserveCapacity(commands.count + waitAfter.count)
        for (index, command) in commands.enumerated() {
            sent.append(command)
            if waitAfter.contains(index) { sent.append(acknowledgement.command) }
        }
        if waitAfter.isEmpty { sent.append(acknowledgement.command) }
        return try await execute(sent, timeout: nil) { replies throws(RedisError) in
            var ids: [StreamEntryID] = []
            ids.reserveCapacity(commands.count)
            var position = 0
            for index in commands.indices {
                let reply = replies[position]
                try reply.checkError()
                guard reply.type == REDIS_REPLY_STRING, let id = StreamEntryID(bytes: reply.bytes) else {
                    throw reply.unexpected(expected: "a stream entry id")
                }
                ids.append(id)
                position += 1
                if waitAfter.contains(index) {
                    try acknowledgement.check(replies[position])
                    position += 1
                }
            }
            if waitAfter.isEmpty { try acknowledgement.check(replies[position]) }
            return ids
        }
    }
}
