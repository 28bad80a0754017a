import EventBus
import EventStore
import Foundation
import RedisClient

/// Where a projection's group stands on its stream, and its rebuild state.
public struct ProjectionPosition: Sendable, Equatable {
    public var name: String
    public var stream: String
    /// The group's last-delivered id (nil: no such group).
    public var lastDeliveredID: String?
    /// `XINFO GROUPS`' lag (nil when Redis cannot tell, e.g. after trimming or SETID).
    public var lag: Int?
    public var pending: Int
    /// The id of the stream's last entry (nil: no stream, or empty).
    public var lastEntryID: String?
    /// `projection:<name>:state`'s status (`rebuilding`, `ready`), or nil when never rebuilt.
    public var status: String?
    public var phase: String?
    /// For a partitioned stream, the group's position on each partition (the fields above
    /// then sum lag and pending, and leave the ids nil).
    public var partitions: [ProjectionPosition] = []

    /// The group exists, has delivered the stream's last entry (if any) and has nothing
    /// pending. (The last entry, not the last generated id: a group set to 0 on an emptied
    /// stream has nothing to read, and its last-delivered id stays 0-0.)
    public var caughtUp: Bool {
        if !partitions.isEmpty { return partitions.allSatisfy(\.caughtUp) }
        guard let delivered = lastDeliveredID.flatMap(StreamEntryID.init), pending == 0 else { return false }
        guard let last = lastEntryID.flatMap(StreamEntryID.init) else { return true }
        return delivered >= last
    }

    /// What `streamsctl projections list` shows: the stored status, else `ready`.
    public var statusText: String { status ?? "ready" }
}

/// Rebuilds a projection's read model while its consumers keep running and events keep
/// arriving, and reports its position.
///
/// The steps, in this order (see README "Projections"):
/// 1. `projection:<name>:state` := `status rebuilding`, `phase reset`, `started_at`,
///    `generation` + 1: the service answers with `"rebuilding": true` from now on.
/// 2. Reset, in **one** script: every key under the read model's prefix and every marker
///    `<name>:processed:*` is deleted (SCAN by pattern inside the script, UNLINK in batches
///    of the scan). One script, because a live consumer applying an event between a
///    batched deletion of the read model and of the markers would leave either its writes
///    without its marker (counted twice later) or its marker without its writes (lost).
///    Atomic, the reset sees each event either fully applied (erased with its marker) or
///    not yet applied (applied after, with its marker). The cost: Redis is blocked for
///    one pass over the keyspace.
/// 3. When the stream was trimmed (`XINFO STREAM` entries-added > length), every history
///    `es:{<stream>}:<id>` is replayed in its order through the same transactional
///    handlers: same markers, so an event also seen on the stream (now or later) is
///    applied once, whichever comes first.
/// 4. `XGROUP SETID <stream> <name> 0` (the group is created when missing): the live
///    consumers re-read the whole stream; events applied since step 2 are skipped by their
///    markers, the others applied. New events are appended after and read as usual.
/// 5. Caught up (last-delivered id >= the stream's last entry's id, nothing pending):
///    `status ready`, `phase done`, `finished_at`. `waitUntilCaughtUp` and `refresh`
///    (called by `streamsctl projections list`) record it.
///
/// Guarantees: every event of the stream after step 4 and of the histories is applied
/// exactly once (its marker lives `processedMarkerTTL`, longer than a rebuild), none is
/// missed: events on the stream are all re-read from 0, events trimmed away are in the
/// histories. Not covered: events published on the stream without the event store and
/// trimmed away before the rebuild (no history holds them); read models whose writes
/// depend on the order of events (history replay applies aggregates one after another,
/// not in the stream's global order; analytics' counters commute).
public struct ProjectionRebuilder: Sendable {
    public let projection: Projection
    let client: RedisClient
    let processedMarkerTTL: Duration

    public init(projection: Projection, client: RedisClient, processedMarkerTTL: Duration = .seconds(7 * 24 * 3600)) {
        self.projection = projection
        self.client = client
        self.processedMarkerTTL = processedMarkerTTL
    }

    /// What a rebuild did.
    public struct Report: Sendable, Equatable {
        public var generation: Int
        public var deletedKeys: Int
        public var streamWasTrimmed: Bool
        public var historiesReplayed: Int
        public var historyEventsReplayed: Int
    }

    /// Runs steps 1 to 4; `progress` gets one line per step.
    @discardableResult
    public func rebuild(progress: @Sendable (String) -> Void = { _ in }) async throws -> Report {
        let name = projection.name
        let stateKey = ProjectionKeys.state(name)
        let generation = try await client.send(RedisCommand("HINCRBY", stateKey, "generation", "1")).int ?? 0
        _ = try await client.send(
            RedisCommand(
                "HSET", stateKey, "status", "rebuilding", "phase", "reset", "stream", projection.stream, "started_at", Self.now(),
                "finished_at", "")
        ).throwingError()
        progress("\(name): rebuilding (generation \(generation))")

        let globs = [Self.globEscaped(projection.keyPrefix) + "*", Self.globEscaped(name) + ":processed:*"]
        let deleted: Int
        if client.isClustered {
            // No one script sees every node: SCAN and UNLINK node by node (see `deleteKeys`).
            deleted = try await Self.deleteKeys(matching: globs, client: client)
        } else {
            // One script: the read model and the markers go together, so no event applied by a
            // running consumer meanwhile can keep its marker and lose its count (or the reverse).
            deleted = try await client.run(Self.resetScript, keys: [stateKey], as: ResetReply.self) { command in
                for glob in globs { command.append(glob) }
            }.deleted
        }
        progress("\(name): deleted \(deleted) keys (read model under \(projection.keyPrefix)* and processed markers)")

        let trimmed = try await streamWasTrimmed()
        var histories = 0
        var events = 0
        if trimmed {
            _ = try await client.send(RedisCommand("HSET", stateKey, "phase", "history")).throwingError()
            progress("\(name): \(projection.stream) was trimmed: replaying the histories \(projection.historyKeys.history("*"))")
            for key in try await historyStreams() {
                histories += 1
                events += try await replayHistory(key)
            }
            progress("\(name): replayed \(events) events of \(histories) histories")
        }

        for stream in projection.partitionStreams {
            let setID = try await client.pipeline([RedisCommand("XGROUP", "SETID", stream, name, "0")])[0]
            if case .error(let message) = setID, message.contains("NOGROUP") || message.contains("key to exist") {
                _ = try await client.send(RedisCommand("XGROUP", "CREATE", stream, name, "0", "MKSTREAM"))
                    .throwingError()
            } else {
                _ = try setID.throwingError()
            }
        }
        _ = try await client.send(RedisCommand("HSET", stateKey, "phase", "catching_up")).throwingError()
        progress("\(name): group \(name) set to 0 on \(projection.stream): the consumers re-read the stream")
        return Report(
            generation: generation, deletedKeys: deleted, streamWasTrimmed: trimmed, historiesReplayed: histories,
            historyEventsReplayed: events)
    }

    /// Marks the rebuild done when the group caught up; returns the position.
    @discardableResult
    public func refresh() async throws -> ProjectionPosition {
        try await Self.refresh(
            name: projection.name, stream: projection.stream, partitions: projection.partitions, client: client)
    }

    /// Polls `refresh` until the projection is `ready` (true) or `timeout` passed (false).
    public func waitUntilCaughtUp(
        timeout: Duration = .seconds(600), progress: @Sendable (ProjectionPosition) -> Void = { _ in }
    ) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while true {
            let position = try await refresh()
            progress(position)
            if position.status != "rebuilding" { return true }
            if ContinuousClock.now >= deadline { return false }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    // MARK: Positions (no handlers needed)

    /// The position of group `name` on `stream`, and its state; a rebuild in phase
    /// `catching_up` whose group caught up is marked `ready` first.
    public static func refresh(
        name: String, stream: String, partitions: StreamPartitions = .single, client: RedisClient
    ) async throws -> ProjectionPosition {
        var position = try await position(name: name, stream: stream, partitions: partitions, client: client)
        if position.status == "rebuilding", position.phase == "catching_up", position.caughtUp {
            _ = try await client.send(
                RedisCommand("HSET", ProjectionKeys.state(name), "status", "ready", "phase", "done", "finished_at", now())
            ).throwingError()
            position.status = "ready"
            position.phase = "done"
        }
        return position
    }

    /// The position of group `name` on `stream` (on each of its partitions), and its state.
    public static func position(
        name: String, stream: String, partitions: StreamPartitions = .single, client: RedisClient
    ) async throws -> ProjectionPosition {
        guard partitions.count > 1 else { return try await streamPosition(name: name, stream: stream, client: client) }
        var total = try await streamPosition(name: name, stream: stream, client: client, readStream: false)
        for key in partitions.streamKeys(stream) {
            let partition = try await streamPosition(name: name, stream: key, client: client)
            total.partitions.append(partition)
            total.pending += partition.pending
            total.lag = total.lag.map { $0 + (partition.lag ?? 0) } ?? partition.lag
        }
        return total
    }

    private static func streamPosition(
        name: String, stream: String, client: RedisClient, readStream: Bool = true
    ) async throws -> ProjectionPosition {
        let state = try await client.hgetall(ProjectionKeys.state(name))
        var position = ProjectionPosition(
            name: name, stream: stream, lastDeliveredID: nil, lag: nil, pending: 0, lastEntryID: nil,
            status: state["status"], phase: state["phase"])
        guard readStream else { return position }
        let info = try await client.pipeline([RedisCommand("XINFO", "STREAM", stream)])[0]
        if case .error = info { return position }
        position.lastEntryID = pairs(info)["last-entry"]?.array?.first?.string
        for group in try await client.send(RedisCommand("XINFO", "GROUPS", stream)).throwingError().array ?? [] {
            let fields = pairs(group)
            guard fields["name"]?.string == name else { continue }
            position.lastDeliveredID = fields["last-delivered-id"]?.string
            position.lag = fields["lag"]?.int
            position.pending = fields["pending"]?.int ?? 0
        }
        return position
    }

    /// The projections with a state key (`projection:*:state`), sorted.
    public static func namesWithState(client: RedisClient) async throws -> [String] {
        try await scan(client, pattern: ProjectionKeys.statePattern, type: "hash").compactMap(ProjectionKeys.name(inStateKey:))
            .sorted()
    }

    // MARK: Steps

    /// Whether entries were removed from the stream (or it is gone while histories exist).
    func streamWasTrimmed() async throws -> Bool {
        for stream in projection.partitionStreams {
            let info = try await client.pipeline([RedisCommand("XINFO", "STREAM", stream)])[0]
            if case .error = info { return true }
            let fields = Self.pairs(info)
            let length = fields["length"]?.int ?? 0
            // Redis < 7 has no entries-added: the histories are replayed to be safe.
            guard let added = fields["entries-added"]?.int else { return true }
            if added > length { return true }
        }
        return false
    }

    /// Every history stream of the type (snapshots, hashes, are left out), sorted.
    func historyStreams() async throws -> [String] {
        var histories: [String] = []
        for prefix in projection.historyKeys.prefixes {
            histories += try await Self.scan(client, pattern: Self.globEscaped(prefix + ":") + "*", type: "stream")
        }
        return histories.sorted()
    }

    /// Replays one history in order, 500 entries at a time; returns the entries read.
    func replayHistory(_ key: String) async throws -> Int {
        var count = 0
        var start = "-"
        while true {
            let entries = try await client.xrange(key, from: start, to: "+", count: 500)
            for entry in entries {
                let raw = try RawEvent(stream: key, entry: entry)
                try await projection.handlers.replay(
                    raw, client: client, group: projection.name, processedMarkerTTL: processedMarkerTTL)
                count += 1
            }
            guard entries.count == 500, let last = entries.last else { return count }
            start = "(\(last.id)"
        }
    }

    /// Deletes (`UNLINK`) every key matching the globs, on every master of a cluster: found
    /// with `SCAN`, deleted in pipelines of 500, each key by itself. Not atomic: an event a
    /// running consumer applies meanwhile may be counted twice or lost, so on a cluster stop
    /// the projection's consumers during the reset (README, "Projections"). Returns how many.
    static func deleteKeys(matching globs: [String], client: RedisClient) async throws -> Int {
        var deleted = 0
        for glob in globs {
            let keys = try await client.scanKeys(matching: glob)
            for start in stride(from: 0, to: keys.count, by: 500) {
                let replies = try await client.pipeline(keys[start..<min(start + 500, keys.count)].map { RedisCommand("UNLINK", $0) })
                deleted += try replies.reduce(0) { $0 + (try $1.throwingError().int ?? 0) }
            }
        }
        return deleted
    }

    /// KEYS[1]: the state key (declared for routing only). ARGV: the globs to delete.
    /// The script is `reset-read-model.lua` (its header: KEYS, ARGV, reply, what it checks before writing).
    static let resetScript = LuaScripts.resetReadModel

    static func scan(_ client: RedisClient, pattern: String, type: String) async throws -> [String] {
        try await client.scanKeys(matching: pattern, type: type)
    }

    /// `s` with the glob's special characters escaped.
    static func globEscaped(_ s: String) -> String {
        var result = ""
        for character in s {
            if "*?[]\\".contains(character) { result.append("\\") }
            result.append(character)
        }
        return result
    }

    static func pairs(_ reply: RedisReply) -> [String: RedisReply] {
        let elements = reply.array ?? []
        var result: [String: RedisReply] = [:]
        for index in stride(from: 0, to: elements.count - 1, by: 2) {
            if let name = elements[index].string { result[name] = elements[index + 1] }
        }
        return result
    }

    static func now() -> String {
        ISO8601DateFormatter().string(from: Date())
    }
}
