import EventBus
import Foundation
import RedisClient

/// The events of one aggregate type, kept forever per aggregate and published on the
/// type's stream for the consumers.
///
/// Guarantees:
/// - `append` is atomic and checked: the events go to the aggregate's history and to the
///   type stream in one script, only when the aggregate is at `expectedVersion` (else a
///   `EventStoreError.conflict` and nothing written); the script checks the keys' types
///   before its first write. Versions are 1, 2, 3, ... without gaps.
/// - `load` returns an aggregate's events in order, in one round trip, from its snapshot
///   when one of the wanted schema version exists (an older one is ignored).
/// - Trimming the type stream never loses history: the histories are never trimmed.
/// - Events are upcast (`EventUpcasters`) before they are returned.
public struct EventStore: Sendable {
    public let aggregateType: String
    public let keys: EventStoreKeys
    public let upcasters: EventUpcasters
    let client: RedisClient
    let publisher: EventPublisher

    /// - Parameter publisher: builds the entries (and names the type stream: its stream for
    ///   `aggregateType`, with its retention).
    public init(aggregateType: String, client: RedisClient, publisher: EventPublisher, upcasters: EventUpcasters = EventUpcasters()) {
        self.aggregateType = aggregateType
        self.client = client
        self.publisher = publisher
        self.upcasters = upcasters
        keys = EventStoreKeys(stream: publisher.stream(for: aggregateType), partitions: publisher.partitions)
    }

    // MARK: Appending

    /// Appends `events` (in order) to aggregate `id`, which must be at `expectedVersion` (0:
    /// a new aggregate). Returns the new version.
    ///
    /// `alsoWrite`: extra writes run by the same script after the events (e.g. a read
    /// model's index kept atomically with the history). Only `ZADD`, `ZREM`, `HSET` and
    /// `DEL`, each on a key containing the type stream's hash tag `{<type stream>}` (so it
    /// lives in the same slot); the script checks every one of them, and its key's type
    /// (`ZADD`/`ZREM`: a sorted set, `HSET`: a hash), before its first write, and refuses the
    /// whole append (an error, nothing written) when one does not pass.
    @discardableResult
    public func append(
        _ events: [any DomainEvent], to id: String, expectedVersion: Int, context: EventContext = EventContext(),
        alsoWrite: [RedisCommand] = []
    ) async throws -> Int {
        precondition(expectedVersion >= 0, "versions start at 0")
        guard !events.isEmpty else { return expectedVersion }
        return try await EventSpans.run(
            "append \(aggregateType)", ofKind: .producer,
            describe: { span in
                span.attributes["messaging.system"] = "redis"
                span.attributes["messaging.operation.type"] = "publish"
                span.attributes["messaging.destination.name"] = keys.stream
                span.attributes["event.aggregate_id"] = id
                span.attributes["event.expected_version"] = expectedVersion
                span.attributes["messaging.batch.message_count"] = events.count
                span.attributes["db.system.name"] = "redis"
                span.attributes["db.operation.name"] = "EVALSHA"
            }
        ) {
            try await appendChecked(events, to: id, expectedVersion: expectedVersion, context: context, alsoWrite: alsoWrite)
        }
    }

    private func appendChecked(
        _ events: [any DomainEvent], to id: String, expectedVersion: Int, context: EventContext, alsoWrite: [RedisCommand]
    ) async throws -> Int {
        var entries: [RedisCommand] = []
        for (offset, event) in events.enumerated() {
            var context = context
            context.metadata["aggregate_version"] = "\(expectedVersion + offset + 1)"
            entries.append(try xadd(event, to: id, context: context))
        }
        let reply = try await client.run(Self.appendScript, keys: [keys.history(id), keys.typeStream(for: id)], as: AppendReply.self,
            replicated: publisher.replicaAcknowledgement
        ) { command in
            command.append(expectedVersion)
            command.append(entries.count)
            for entry in entries {
                command.append(entry.argumentCount)
                command.append(argumentsOf: entry)
            }
            command.append(alsoWrite.count)
            for write in alsoWrite { command.append(countedArgumentsOf: write) }
        }
        if case .conflict(let actual) = reply {
            throw EventStoreError.conflict(expected: expectedVersion, actual: actual)
        }
        for (offset, event) in events.enumerated() {
            var context = context
            context.metadata["aggregate_version"] = "\(expectedVersion + offset + 1)"
            publisher.recordPublished(event, context: context)
        }
        return expectedVersion + events.count
    }

    /// The `XADD` of `event` to aggregate `id`'s type stream partition (partitioned by the
    /// aggregate id, whatever the event's own partition key).
    private func xadd<Event: DomainEvent>(_ event: Event, to id: String, context: EventContext) throws -> RedisCommand {
        try publisher.xaddCommand(for: event, stream: keys.typeStream(for: id), context: context)
    }

    /// KEYS: history, type stream. ARGV: expected version, n, then per event the argument
    /// count and arguments of its `XADD <type stream> ... * fields` (the history gets the
    /// same fields under id `0-<version>`), then the number of extra writes and per write its
    /// argument count and arguments.
    /// The script is `append-events.lua` (its header: KEYS, ARGV, reply, what it checks before writing).
    static let appendScript = LuaScripts.appendEvents

    // MARK: Loading

    /// An aggregate's stored snapshot and the events after it.
    public struct History: Sendable {
        /// The snapshot loading started from, when one of the wanted schema version existed.
        public var snapshot: Snapshot?
        /// The events after the snapshot (or all of them), in order, upcast.
        public var events: [RecordedEvent]
        /// The version the aggregate has once `events` are applied (0: no such aggregate).
        public var version: Int { events.last?.version ?? snapshot?.version ?? 0 }
    }

    /// A saved state of an aggregate after its `version`-th event.
    public struct Snapshot: Sendable, Equatable {
        public var version: Int
        public var schemaVersion: Int
        public var state: [UInt8]

        public init(version: Int, schemaVersion: Int, state: [UInt8]) {
            self.version = version
            self.schemaVersion = schemaVersion
            self.state = state
        }
    }

    /// Aggregate `id`'s events, up to `version` (all when nil), starting after its snapshot
    /// when `snapshotSchemaVersion` is given and the stored snapshot has that schema version
    /// and is not newer than `version`. One round trip when the events after the snapshot are
    /// at most `tailWindow` (the newest events read with the snapshot: more than a snapshot
    /// interval keeps loads to one round trip; each one read past the snapshot is wasted work);
    /// two otherwise.
    ///
    /// Consistent without a script: the snapshot is read before the history in one pipeline,
    /// a snapshot is saved only after its events were appended, and a history only grows, so
    /// the events read always reach at least the snapshot's version.
    public func load(
        _ id: String, upTo version: Int? = nil, snapshotSchemaVersion: Int? = nil, tailWindow: Int = 16
    ) async throws -> History {
        let tailWindow = max(tailWindow, 1)
        let history = keys.history(id)
        let upper = version.map { "0-\(max($0, 0))" } ?? "+"
        var tail = RedisCommand("XREVRANGE", history, upper, "-")
        tail.append("COUNT")
        tail.append(tailWindow)
        let snapshotRead =
            snapshotSchemaVersion == nil
            ? RedisCommand("PING") : RedisCommand("HMGET", keys.snapshot(id), "version", "schema_version", "state")
        let (snapshotReply, newestFirst) = try await client.send(snapshotRead, thenEntries: tail)
        var loaded = History(snapshot: nil, events: [])
        // A snapshot key of another type, or a partial snapshot, is no snapshot (it is a cache).
        if let wanted = snapshotSchemaVersion, let fields = snapshotReply.array, fields.count == 3,
            let snapshotVersion = fields[0].string.flatMap({ Int($0) }), fields[1].string.flatMap({ Int($0) }) == wanted,
            case .bulkString(let state) = fields[2], version.map({ snapshotVersion <= $0 }) ?? true
        {
            loaded.snapshot = Snapshot(version: snapshotVersion, schemaVersion: wanted, state: state)
        }
        if let version, version <= 0 { return loaded }
        let from = UInt64((loaded.snapshot?.version ?? 0) + 1)
        var entries = newestFirst.reversed().filter { $0.id.sequence >= from }
        if newestFirst.count == tailWindow, let oldest = newestFirst.last, oldest.id.sequence > from {
            // More events after the snapshot than the window held: read the ones before it.
            entries = try await client.xrange(history, from: "0-\(from)", to: "(\(oldest.id)") + entries
        }
        loaded.events.reserveCapacity(entries.count)
        for entry in entries {
            loaded.events.append(try upcasters.upcast(try RecordedEvent(historyEntry: entry, stream: history)))
        }
        return loaded
    }

    // MARK: Snapshots

    /// Saves `snapshot` of aggregate `id` unless a newer one of the same schema version is
    /// stored (a snapshot is a cache: losing one only means a longer load).
    public func save(_ snapshot: Snapshot, of id: String) async throws {
        _ = try await client.run(Self.snapshotScript, keys: [keys.snapshot(id)], as: SnapshotReply.self) { command in
            command.append(snapshot.version)
            command.append(snapshot.schemaVersion)
            command.append(snapshot.state)
        }
    }

    /// The script is `save-snapshot.lua` (its header: KEYS, ARGV, reply, what it checks before writing).
    static let snapshotScript = LuaScripts.saveSnapshot

    // MARK: Reading by type and time

    /// Events of `eventType` on the type stream from `since` on (by the stream ids' time), in
    /// order, at most `limit`. Trimmed entries are gone from the type stream: the histories
    /// keep them. With partitions, each partition is read and the results merged by entry id
    /// (the time order of the entries' publication, across partitions to the millisecond).
    public func events(ofType eventType: String, since: Date, limit: Int = 1000) async throws -> [RawEvent] {
        let start = StreamEntryID(milliseconds: UInt64(max(0, since.timeIntervalSince1970 * 1000)), sequence: 0)
        var found: [RawEvent] = []
        for stream in keys.partitions.streamKeys(keys.stream) {
            var cursor = start.description
            var inPartition = 0
            while inPartition < limit {
                let page = try await client.xrange(stream, from: cursor, to: "+", count: 500)
                for entry in page where entry.string(named: EventStreamFields.eventType) == eventType {
                    found.append(try RawEvent(stream: stream, entry: entry))
                    inPartition += 1
                    if inPartition == limit { break }
                }
                guard page.count == 500, let last = page.last else { break }
                cursor = "(" + last.id.description
            }
        }
        if keys.partitions.count > 1 { found.sort { $0.entryID < $1.entryID } }
        return Array(found.prefix(limit))
    }
}
