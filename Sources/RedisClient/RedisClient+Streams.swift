import CHiredis
import Synchronization

/// Typed helpers for the stream commands the event bus uses.
extension RedisClient {
    /// `XADD stream [MAXLEN ~ n] * field value ...`; returns the new entry's id.
    @discardableResult
    public func xadd(
        _ stream: String, fields: [(String, String)], approximateMaxLength: Int? = nil
    ) async throws -> StreamEntryID {
        var command = RedisCommand.xadd(stream, approximateMaxLength: approximateMaxLength)
        for (name, value) in fields {
            command.append(name)
            command.append(value)
        }
        return try await entryIDs([command])[0]
    }

    /// Sends `XADD` commands (or any commands replying with an entry id) in one pipeline
    /// and returns the ids in order. Throws the first error reply, if any.
    public func entryIDs(_ commands: [RedisCommand], timeout: Duration? = nil) async throws -> [StreamEntryID] {
        try await execute(commands, timeout: timeout) { replies throws(RedisError) in
            var ids: [StreamEntryID] = []
            ids.reserveCapacity(replies.count)
            for index in 0..<replies.count {
                let reply = replies[index]
                try reply.checkError()
                guard reply.type == REDIS_REPLY_STRING, let id = StreamEntryID(bytes: reply.bytes) else {
                    throw reply.unexpected(expected: "a stream entry id")
                }
                ids.append(id)
            }
            return ids
        }
    }

    /// `XGROUP CREATE stream group start [MKSTREAM]`; returns false when the group existed.
    @discardableResult
    public func xgroupCreate(_ stream: String, group: String, startAt start: String = "$", makeStream: Bool = true)
        async throws -> Bool
    {
        var command = RedisCommand("XGROUP", "CREATE", stream, group, start)
        if makeStream { command.append("MKSTREAM") }
        do {
            try await send(command)
            return true
        } catch let error as RedisError where error.code == .busyGroup {
            return false
        }
    }

    /// `XREADGROUP GROUP group consumer COUNT n [BLOCK ms] STREAMS stream id`.
    /// `id` is `>` for new entries or `0` for this consumer's own pending entries.
    /// Returns no entries when the block time passes with nothing to read.
    public func xreadgroup(
        group: String, consumer: String, stream: String, id: String = ">", count: Int,
        block: Duration? = nil
    ) async throws -> [StreamEntry] {
        var command = RedisCommand("XREADGROUP", capacity: 96)
        command.append("GROUP")
        command.append(group)
        command.append(consumer)
        command.append("COUNT")
        command.append(count)
        if let block {
            command.append("BLOCK")
            command.append(block.wholeMilliseconds)
        }
        command.append("STREAMS")
        command.append(stream)
        command.append(id)
        return try await readEntries([command], block: block)
    }

    /// Sends `commands` in one pipeline where the last one is an `XREADGROUP`/`XREAD`;
    /// earlier replies must not be errors. Returns the entries the read returned.
    /// Used to acknowledge one batch and read the next in a single round trip.
    public func readEntries(_ commands: [RedisCommand], block: Duration?) async throws -> [StreamEntry] {
        try await execute(commands, timeout: configuration.commandTimeout + (block ?? .zero), decode: Self.decodeRead)
    }

    /// Like `readEntries`, but returns at once: the commands are queued now and the entries
    /// are awaited later, so the caller's own work overlaps Redis's.
    public func readEntriesLater(_ commands: [RedisCommand], block: Duration?) -> PendingEntries {
        let pending = PendingEntries()
        submit(commands, timeout: configuration.commandTimeout + (block ?? .zero), decode: Self.decodeRead) {
            pending.complete($0)
        }
        return pending
    }

    private static func decodeRead(_ replies: Replies) throws(RedisError) -> [StreamEntry] {
        for index in 0..<(replies.count - 1) { try replies[index].checkError() }
        var cursor = replies[replies.count - 1]
        return try StreamReadResponse(cursor: &cursor).results.first?.entries ?? []
    }

    /// `XACK stream group id...`; returns how many entries were acknowledged.
    @discardableResult
    public func xack(_ stream: String, group: String, ids: [StreamEntryID]) async throws -> Int {
        guard !ids.isEmpty else { return 0 }
        return try await send(RedisCommand.xack(stream, group: group, ids: ids)).int ?? 0
    }

    /// `XRANGE stream start end [COUNT n]`.
    public func xrange(_ stream: String, from start: String = "-", to end: String = "+", count: Int? = nil)
        async throws -> [StreamEntry]
    {
        var command = RedisCommand("XRANGE", stream, start, end)
        if let count {
            command.append("COUNT")
            command.append(count)
        }
        return try await execute([command], timeout: nil) { replies throws(RedisError) in
            var cursor = replies[0]
            return try StreamEntry.list(cursor: &cursor)
        }
    }

    /// `XLEN stream`.
    public func xlen(_ stream: String) async throws -> Int {
        try await send("XLEN", stream).int ?? 0
    }

    /// `PING`; true when the server answered `PONG`.
    public func ping() async throws -> Bool {
        try await send("PING").string == "PONG"
    }
}

extension RedisCommand {
    /// The start of `XADD stream [MAXLEN ~ n] *`; append the field names and values.
    public static func xadd(_ stream: String, approximateMaxLength: Int?, capacity: Int = 128) -> RedisCommand {
        var command = RedisCommand("XADD", capacity: capacity)
        command.append(stream)
        if let approximateMaxLength {
            command.append("MAXLEN")
            command.append("~")
            command.append(approximateMaxLength)
        }
        command.append("*")
        return command
    }

    /// `XACK stream group id...`.
    public static func xack(_ stream: String, group: String, ids: [StreamEntryID]) -> RedisCommand {
        var command = RedisCommand("XACK", capacity: 32 + ids.count * 28)
        command.append(stream)
        command.append(group)
        for id in ids { command.append(id) }
        return command
    }
}

/// Entries of a read queued with `readEntriesLater`, to be awaited once.
public final class PendingEntries: Sendable {
    private struct State {
        var result: Result<[StreamEntry], RedisError>?
        var waiter: CheckedContinuation<[StreamEntry], Error>?
    }
    private let state = Mutex(State())

    init() {}

    fileprivate func complete(_ result: Result<[StreamEntry], RedisError>) {
        let waiter = state.withLock { state -> CheckedContinuation<[StreamEntry], Error>? in
            guard let waiter = state.waiter else {
                state.result = result
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume(with: result.mapError { $0 as Error })
    }

    /// The entries, once the reply has arrived.
    public func value() async throws -> [StreamEntry] {
        try await withCheckedThrowingContinuation { continuation in
            let ready = state.withLock { state -> Result<[StreamEntry], RedisError>? in
                if let result = state.result { return result }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(with: ready.mapError { $0 as Error }) }
        }
    }
}

// MARK: - Pending entries and claiming

/// One entry of a group's pending-entries list (`XPENDING stream group [IDLE ms] start end count`).
public struct PendingEntry: Sendable, Hashable {
    public let id: StreamEntryID
    /// The consumer that owns it now.
    public let consumer: String
    /// Time since it was last delivered to (or claimed by) its owner.
    public let idle: Duration
    /// How many times it has been delivered.
    public let deliveries: Int
}

/// The reply of `XAUTOCLAIM`: where to continue, the entries claimed, and the ids that
/// were pending but whose entries no longer exist (trimmed or deleted; Redis removed them
/// from the pending list).
public struct AutoClaimResult: Sendable {
    public let nextStart: StreamEntryID
    public let entries: [StreamEntry]
    public let deletedIDs: [StreamEntryID]
}

extension RedisClient {
    /// `XPENDING stream group [IDLE minIdle] start end count [consumer]`.
    public func xpending(
        _ stream: String, group: String, minIdle: Duration? = nil, from start: String = "-", to end: String = "+",
        count: Int, consumer: String? = nil
    ) async throws -> [PendingEntry] {
        var command = RedisCommand("XPENDING", stream, group)
        if let minIdle {
            command.append("IDLE")
            command.append(minIdle.wholeMilliseconds)
        }
        command.append(start)
        command.append(end)
        command.append(count)
        if let consumer { command.append(consumer) }
        let reply = try await send(command)
        guard let rows = reply.array else {
            throw RedisError(.unexpectedReply, "expected an XPENDING list, got \(reply)")
        }
        return try rows.map { row in
            guard let fields = row.array, fields.count == 4,
                let id = fields[0].string.flatMap({ StreamEntryID($0) }), let consumer = fields[1].string,
                let idle = fields[2].int, let deliveries = fields[3].int
            else {
                throw RedisError(.unexpectedReply, "expected [id, consumer, idle, deliveries], got \(row)")
            }
            return PendingEntry(id: id, consumer: consumer, idle: .milliseconds(idle), deliveries: deliveries)
        }
    }

    /// `XAUTOCLAIM stream group consumer minIdle start COUNT n`: takes over entries idle for
    /// at least `minIdle` (raising their delivery count).
    public func xautoclaim(
        _ stream: String, group: String, consumer: String, minIdle: Duration, from start: String = "0-0", count: Int
    ) async throws -> AutoClaimResult {
        var command = RedisCommand("XAUTOCLAIM", stream, group, consumer)
        command.append(minIdle.wholeMilliseconds)
        command.append(start)
        command.append("COUNT")
        command.append(count)
        return try await claimReply(to: command)
    }

    /// Sends `command` (XAUTOCLAIM, or a script replying in its shape) and decodes the reply.
    /// Sends `first` and `range` (an `XRANGE` or `XREVRANGE`) in one pipeline: `first`'s
    /// reply as it is (an error reply is returned, not thrown), and `range`'s entries decoded
    /// straight into `StreamEntry`s. Redis runs them one after the other, not atomically.
    public func send(_ first: RedisCommand, thenEntries range: RedisCommand) async throws -> (first: RedisReply, entries: [StreamEntry]) {
        try await execute([first, range], timeout: nil) { replies throws(RedisError) in
            var cursor = replies[0]
            let reply = RedisReply(cursor: &cursor)
            var entries = replies[1]
            return (reply, try StreamEntry.list(cursor: &entries))
        }
    }

    func headerAndEntries(to command: RedisCommand) async throws -> (header: RedisReply, entries: [StreamEntry]) {
        try await execute([command], timeout: nil) { replies throws(RedisError) in
            var cursor = replies[0]
            try cursor.checkError()
            guard cursor.type == REDIS_REPLY_ARRAY, cursor.node.integer == 2 else {
                throw cursor.unexpected(expected: "a reply of {header, entries}")
            }
            cursor.advance()
            let header = RedisReply(cursor: &cursor)
            return (header, try StreamEntry.list(cursor: &cursor))
        }
    }

    func claimReply(to command: RedisCommand) async throws -> AutoClaimResult {
        try await execute([command], timeout: nil) { replies throws(RedisError) in
            var cursor = replies[0]
            try cursor.checkError()
            guard cursor.type == REDIS_REPLY_ARRAY, cursor.node.integer >= 2 else {
                throw cursor.unexpected(expected: "an XAUTOCLAIM reply")
            }
            let parts = Int(cursor.node.integer)
            cursor.advance()
            guard cursor.type == REDIS_REPLY_STRING, let next = StreamEntryID(bytes: cursor.bytes) else {
                throw cursor.unexpected(expected: "the next start id")
            }
            cursor.advance()
            var entries: [StreamEntry] = []
            for entry in try StreamEntry.list(cursor: &cursor) where !entry.isDeleted { entries.append(entry) }
            var deleted: [StreamEntryID] = []
            if parts >= 3 {  // Redis 7: ids of pending entries that no longer exist
                let count = Int(cursor.node.integer)
                cursor.advance()
                for _ in 0..<count {
                    if let id = StreamEntryID(bytes: cursor.bytes) { deleted.append(id) }
                    cursor.advance()
                }
            }
            return AutoClaimResult(nextStart: next, entries: entries, deletedIDs: deleted)
        }
    }

    /// `XCLAIM stream group consumer minIdle id... [JUSTID]`: claims the given entries if
    /// they have been idle for at least `minIdle`. With `justID` the delivery count is not
    /// raised (a lease renewal) and the entries come back without fields.
    public func xclaim(
        _ stream: String, group: String, consumer: String, minIdle: Duration, ids: [StreamEntryID], justID: Bool = false
    ) async throws -> [StreamEntryID] {
        var command = RedisCommand("XCLAIM", stream, group, consumer)
        command.append(minIdle.wholeMilliseconds)
        for id in ids { command.append(id) }
        if justID { command.append("JUSTID") }
        let reply = try await send(command)
        return (reply.array ?? []).compactMap { element in
            (element.array?.first ?? element).string.flatMap { StreamEntryID($0) }
        }
    }
}
