import RedisClient

/// Read-only views of a stream, its consumer groups and their pending entries, as an
/// operator needs them (`XINFO STREAM`, `XINFO GROUPS`, `XINFO CONSUMERS`, `XPENDING`).
///
/// Guarantees: nothing is modified (no `XCLAIM`, no reads through a group). A missing
/// stream throws `EventBusError` `.noSuchStream` ("stream X does not exist"), a key
/// of another type `.wrongType` ("WRONGTYPE key X holds a string, not a stream"), a
/// missing group `.noSuchGroup`. Each answer is a snapshot: the views are read one
/// command after another, so counts may move between them on a busy stream.
public struct StreamInspector: Sendable {
    let client: RedisClient

    public init(client: RedisClient) {
        self.client = client
    }

    // MARK: Stream

    /// `XINFO STREAM`: length, first and last entries, groups.
    public func streamInfo(stream: String) async throws -> StreamInfo {
        try await client.requireStream(stream)
        let info = pairs(try await client.send("XINFO", "STREAM", stream))
        func entryID(_ name: String) -> StreamEntryID? {
            info[name]?.array?.first?.string.flatMap { StreamEntryID($0) }
        }
        return StreamInfo(
            stream: stream, length: info["length"]?.int ?? 0, firstEntryID: entryID("first-entry"),
            lastEntryID: entryID("last-entry"),
            lastGeneratedID: info["last-generated-id"]?.string.flatMap { StreamEntryID($0) },
            entriesAdded: info["entries-added"]?.int, groupCount: info["groups"]?.int ?? 0)
    }

    // MARK: Groups

    /// Every consumer group of `stream` (`XINFO GROUPS`) with its consumers
    /// (`XINFO CONSUMERS`), in Redis's order.
    public func groups(stream: String) async throws -> [GroupInfo] {
        try await client.requireStream(stream)
        let rows = try await client.send("XINFO", "GROUPS", stream).array ?? []
        let groups = rows.map(pairs)
        let names = groups.map { $0["name"]?.string ?? "" }
        let consumerReplies = try await client.pipeline(names.map { RedisCommand("XINFO", "CONSUMERS", stream, $0) })
        return try zip(groups, consumerReplies).map { group, reply in
            let consumers = (try reply.throwingError().array ?? []).map(pairs).map { consumer in
                ConsumerInfo(
                    name: consumer["name"]?.string ?? "", pending: consumer["pending"]?.int ?? 0,
                    idle: .milliseconds(consumer["idle"]?.int ?? 0))
            }
            return GroupInfo(
                name: group["name"]?.string ?? "", consumers: consumers, pending: group["pending"]?.int ?? 0,
                lastDeliveredID: group["last-delivered-id"]?.string.flatMap { StreamEntryID($0) },
                entriesRead: group["entries-read"]?.int, lag: group["lag"]?.int)
        }
    }

    // MARK: Pending

    /// The pending entries of `group` (`XPENDING stream group` for the summary, then
    /// `XPENDING stream group - + limit` for the oldest `limit` entries).
    public func pending(stream: String, group: String, limit: Int = 100) async throws -> PendingReport {
        guard limit >= 0 else { throw EventBusError(.invalidArgument, "limit must not be negative") }
        try await client.requireStream(stream)
        return try await mappingNoGroup(group, stream: stream) {
            let summary = try await client.send("XPENDING", stream, group).array ?? []
            guard summary.count == 4 else {
                throw EventBusError(.unexpectedReply, "expected an XPENDING summary, got \(summary)")
            }
            let consumers = (summary[3].array ?? []).compactMap { row -> PendingReport.ConsumerCount? in
                guard let pair = row.array, pair.count == 2, let name = pair[0].string, let count = pair[1].int else {
                    return nil
                }
                return .init(consumer: name, count: count)
            }
            let entries = limit == 0 ? [] : try await client.xpending(stream, group: group, count: limit)
            return PendingReport(
                stream: stream, group: group, count: summary[0].int ?? 0,
                smallestID: summary[1].string.flatMap { StreamEntryID($0) },
                greatestID: summary[2].string.flatMap { StreamEntryID($0) }, consumers: consumers, entries: entries)
        }
    }
}

/// A stream as `XINFO STREAM` describes it.
public struct StreamInfo: Sendable, Hashable {
    public let stream: String
    /// Entries in the stream now (`XLEN`).
    public let length: Int
    /// The oldest and newest entries' ids; nil when the stream is empty.
    public let firstEntryID: StreamEntryID?
    public let lastEntryID: StreamEntryID?
    /// The last id the stream handed out (survives trimming and deletion).
    public let lastGeneratedID: StreamEntryID?
    /// Entries ever added (Redis 7+).
    public let entriesAdded: Int?
    /// Number of consumer groups.
    public let groupCount: Int
}

/// A consumer group as `XINFO GROUPS` describes it.
public struct GroupInfo: Sendable, Hashable {
    public let name: String
    public let consumers: [ConsumerInfo]
    /// Entries delivered to the group and not yet acknowledged.
    public let pending: Int
    /// The last entry delivered to any consumer of the group; entries after it are undelivered.
    public let lastDeliveredID: StreamEntryID?
    /// Entries the group has read (Redis 7+; nil when Redis cannot tell).
    public let entriesRead: Int?
    /// Entries not yet delivered to the group. Nil when Redis cannot tell (after entries
    /// were deleted or the group was created or moved to an arbitrary id): "unknown", not 0.
    public let lag: Int?
}

/// A consumer of a group (`XINFO CONSUMERS`).
public struct ConsumerInfo: Sendable, Hashable {
    public let name: String
    /// Entries it holds pending.
    public let pending: Int
    /// Time since its last interaction with the server.
    public let idle: Duration
}

/// A group's pending-entries list: the summary and the oldest entries.
public struct PendingReport: Sendable, Hashable {
    /// How many pending entries one consumer holds.
    public struct ConsumerCount: Sendable, Hashable {
        public let consumer: String
        public let count: Int

        public init(consumer: String, count: Int) {
            self.consumer = consumer
            self.count = count
        }
    }

    public let stream: String
    public let group: String
    /// All pending entries of the group.
    public let count: Int
    /// The smallest and greatest pending ids; nil when nothing is pending.
    public let smallestID: StreamEntryID?
    public let greatestID: StreamEntryID?
    /// Pending entries per consumer (consumers holding none are not listed).
    public let consumers: [ConsumerCount]
    /// The oldest pending entries, at most the limit asked for.
    public let entries: [PendingEntry]
}
