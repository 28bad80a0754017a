import RedisClient

/// Lists, shows, replays and purges dead letters (`<stream>:dlq:<group>` streams, see
/// `DeadLetter`).
///
/// Guarantees:
/// - Reading (`list`, `show`) changes nothing. Dead-letter streams are read in pages of
///   500 entries (`XRANGE ... COUNT 500`), so a large one never comes back in one reply.
/// - `replay` publishes each dead letter's original fields, bytes unchanged, to its
///   original stream and deletes it from the dead letters in one Lua script per entry
///   (`EVALSHA`, loaded again on `NOSCRIPT`): both happen or neither. The script reads the dead letter itself, so two replays of
///   the same entry running at once publish it once (the second finds nothing).
/// - `purge` deletes only dead letters matching every filter given.
/// - Missing or non-stream keys are reported as `EventBusError`, Redis failures
///   as `RedisError`.
///
/// Partitioned streams (`StreamPartitions`): the methods taking `partitions` work on the
/// dead letters of every partition of a stream (`<stream>:{<tag>}:dlq:<group>`, see
/// `DeadLetterStore+Partitions.swift`); a partition stream's key given as `stream` names
/// that partition alone.
///
/// Redis Cluster: `list` scans every master (`RedisClient.scanKeys`). The replay script's
/// keys are the dead-letter stream and the stream it replays to, and nothing else (no
/// processed marker): one slot whenever the stream's name carries a hash tag, which every
/// partition stream does (`todo-events:{p2}` and `todo-events:{p2}:dlq:<group>`). A plain
/// stream without one (`todo-events`, `todo-events:dlq:<group>`) is in another slot than
/// its dead letters: on a cluster `replay` refuses it with an `EventBusError` before
/// running anything (Redis would answer `CROSSSLOT`).
public struct DeadLetterStore: Sendable {
    let client: RedisClient
    /// Entries per `XRANGE` page (and per `XDEL`).
    static let pageSize = 500

    public init(client: RedisClient) {
        self.client = client
    }

    // MARK: Reading

    /// Every dead-letter stream (`SCAN MATCH *:dlq:* TYPE stream`, on every master of a
    /// cluster: `RedisClient.scanKeys`), sorted by stream then group, with its number of dead
    /// letters in total and per reason.
    public func list() async throws -> [DeadLetterStreamSummary] {
        let keys = try await client.scanKeys(matching: "*:dlq:*", type: "stream")
        var summaries: [DeadLetterStreamSummary] = []
        for key in keys {
            guard let (stream, group) = DeadLetter.parse(key: key) else { continue }
            var count = 0
            var reasons: [String: Int] = [:]
            try await forEachPage(key) { entries in
                for entry in entries {
                    count += 1
                    reasons[entry.string(named: DeadLetter.Field.reason) ?? "", default: 0] += 1
                }
            }
            summaries.append(
                DeadLetterStreamSummary(stream: stream, group: group, key: key, count: count, countsByReason: reasons))
        }
        return summaries.sorted { ($0.stream, $0.group) < ($1.stream, $1.group) }
    }

    /// The dead letters of `group` on `stream`, oldest first, optionally only those with
    /// `reason`, at most `limit` of them (all when nil). Throws `.noSuchStream` when the
    /// group has no dead letters at all (the key does not exist).
    public func show(stream: String, group: String, reason: DeadLetter.Reason? = nil, limit: Int? = nil)
        async throws -> [DeadLetterRecord]
    {
        let key = DeadLetter.streamKey(stream: stream, group: group)
        try await client.requireStream(key)
        var records: [DeadLetterRecord] = []
        try await forEachPageWhile(key, { entries in
            for entry in entries where Self.matches(entry, reason: reason) {
                if let limit, records.count >= limit { return false }
                var record = DeadLetterRecord(entry: entry)
                record.deadLetterStream = key
                records.append(record)
            }
            return limit.map { records.count < $0 } ?? true
        })
        return records
    }

    // MARK: Replaying

    /// Publishes the selected dead letters again, oldest first, each to its original
    /// stream with a new id (`XADD <stream> *`) and without its `dlq_*` fields, plus
    /// `meta.replayed_from` = the entry id it had and `meta.replay_for_group` = `group`
    /// (existing ones are replaced), and deletes it from the dead letters, atomically per
    /// entry. Only `group` handles the replayed entry: the stream's other groups acknowledge
    /// it without handling, since they handled the original.
    ///
    /// Skipped (left in the dead letters and listed in the report): dead letters with
    /// reason `deleted` (there is no body to publish), an `.id` that is not there (already
    /// replayed or purged), and malformed dead letters (no `dlq_entry_id`, or a
    /// `dlq_stream` other than `stream`). A Redis error stops the replay and is thrown; the
    /// entries replayed before it stay replayed.
    ///
    /// Refused (left in the dead letters and listed in `refused`) when `markerTTL` is given:
    /// dead letters whose original entry is older than `markerTTL` (the milliseconds of
    /// `dlq_entry_id` against the Redis server's clock). The event may have been applied
    /// (before this project checked ownership, a delivery could apply an event that another
    /// one dead-lettered; a webhook's guard records its effect too), and its processed
    /// marker, written no earlier than the entry was added, may have expired: a replay could
    /// apply it twice. The entry's time is the conservative choice: a marker is never older
    /// than its entry, whereas `dlq_failed_at` may come after the marker was written.
    public func replay(
        stream: String, group: String, selection: DeadLetterSelection, markerTTL: Duration? = nil
    ) async throws -> DeadLetterReplayReport {
        let key = DeadLetter.streamKey(stream: stream, group: group)
        try await requireOneSlot(key, stream)
        var report = DeadLetterReplayReport()
        if case .id(let id) = selection {
            try await replay([id], key: key, stream: stream, group: group, markerTTL: markerTTL, into: &report)
            return report
        }
        try await client.requireStream(key)
        let reason: DeadLetter.Reason? = if case .reason(let reason) = selection { reason } else { nil }
        var ids: [StreamEntryID] = []
        try await forEachPage(key) { entries in
            for entry in entries where Self.matches(entry, reason: reason) { ids.append(entry.id) }
        }
        try await replay(ids, key: key, stream: stream, group: group, markerTTL: markerTTL, into: &report)
        return report
    }

    private func replay(
        _ ids: [StreamEntryID], key: String, stream: String, group: String, markerTTL: Duration?,
        into report: inout DeadLetterReplayReport
    ) async throws {
        let maximumAge = markerTTL.map { max(1, Int($0.nanoseconds / 1_000_000)) } ?? 0
        for id in ids {
            let reply = try await client.run(Self.replayScript, keys: [key, stream], as: ReplayReply.self) { arguments in
                arguments.append(id)
                arguments.append(DeadLetter.replayedFromField)
                arguments.append(DeadLetter.replayForGroupField)
                arguments.append(group)
                arguments.append(maximumAge)
            }
            switch reply {
            case .replayed(let newID, let originalID):
                report.replayed.append(.init(deadLetterID: id, originalEntryID: originalID, newEntryID: newID, stream: stream))
            case .skipped(let reason):
                report.skipped.append(.init(deadLetterID: id, reason: reason, stream: stream))
            case .refused(let reason):
                report.refused.append(.init(deadLetterID: id, reason: reason, stream: stream))
            }
        }
    }

    /// On a cluster, throws unless the dead-letter stream `key` and `stream` share a slot
    /// (the replay script writes both).
    private func requireOneSlot(_ key: String, _ stream: String) async throws {
        guard client.isClustered, RedisHashSlot.slot(of: key) != RedisHashSlot.slot(of: stream) else { return }
        throw EventBusError(
            .invalidArgument,
            "cannot replay to \(stream) on a Redis Cluster: \(stream) and \(key) are in different hash slots "
                + "(a partition stream, <stream>:{<tag>}, shares its slot with its dead letters; give --partitions)")
    }

    /// KEYS: dead-letter stream, original stream. ARGV: dead-letter id, replayed-from field,
    /// replay-for-group field, group, the oldest original entry accepted (its age in ms; 0:
    /// any). Checks everything before its first write.
    /// The script is `Operations/replay-dead-letter.lua` (its header: KEYS, ARGV, reply, what it checks before writing).
    static let replayScript = LuaScripts.replayDeadLetter

    // MARK: Purging

    /// Deletes the dead letters of `group` on `stream` matching `reason` (any when nil)
    /// and older than `olderThan` (any age when nil; the age is taken from the dead-letter
    /// entry id's milliseconds against the Redis server's clock, `TIME`). Returns how many
    /// were deleted. `XDEL` runs in batches of 500; a dead letter replayed meanwhile is not
    /// counted. Purging a group with no dead letters returns 0.
    public func purge(stream: String, group: String, reason: DeadLetter.Reason? = nil, olderThan: Duration? = nil)
        async throws -> Int
    {
        let key = DeadLetter.streamKey(stream: stream, group: group)
        var end = "+"
        if let olderThan {
            guard olderThan >= .zero else {
                throw EventBusError(.invalidArgument, "olderThan must not be negative")
            }
            let time = try await client.send("TIME").array ?? []
            guard time.count == 2, let seconds = time[0].int, let micros = time[1].int else {
                throw EventBusError(.unexpectedReply, "unexpected TIME reply")
            }
            let cutoff = seconds * 1000 + micros / 1000 - Int(olderThan.components.seconds * 1000)
                - Int(olderThan.components.attoseconds / 1_000_000_000_000_000)
            guard cutoff >= 0 else { return 0 }
            end = "\(cutoff)"  // every sequence of that millisecond
        }
        var removed = 0
        try await forEachPage(key, to: end) { entries in
            var command = RedisCommand("XDEL", key)
            for entry in entries where Self.matches(entry, reason: reason) { command.append(entry.id) }
            if command.argumentCount > 2 { removed += try await client.send(command).int ?? 0 }
        }
        return removed
    }

    // MARK: Paging

    private static func matches(_ entry: StreamEntry, reason: DeadLetter.Reason?) -> Bool {
        guard let reason else { return true }
        return entry.value(named: DeadLetter.Field.reason)?.elementsEqual(reason.rawValue.utf8) ?? false
    }

    /// Calls `body` with successive pages of `key` (oldest first) until the end or until
    /// `body` returns false.
    private func forEachPageWhile(
        _ key: String, to end: String = "+", _ body: ([StreamEntry]) async throws -> Bool
    ) async throws {
        var start = "-"
        while true {
            let page = try await client.xrange(key, from: start, to: end, count: Self.pageSize)
            guard let last = page.last else { return }
            guard try await body(page), page.count == Self.pageSize else { return }
            start = "(\(last.id)"
        }
    }

    private func forEachPage(_ key: String, to end: String = "+", _ body: ([StreamEntry]) async throws -> Void)
        async throws
    {
        try await forEachPageWhile(key, to: end, { page in
            try await body(page)
            return true
        })
    }
}
