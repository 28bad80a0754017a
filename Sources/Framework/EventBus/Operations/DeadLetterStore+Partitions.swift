import RedisClient

/// The dead letters of a partitioned stream: partition `i` of `todo-events` is
/// `todo-events:{<tag i>}`, and its group `g`'s dead letters are `todo-events:{<tag i>}:dlq:g`
/// (same hash tag: same cluster slot as the partition stream). Each method below works on
/// every partition in turn, each partition's keys alone (one slot per command or script);
/// with one partition it is the plain method. A partition stream's key given as `stream`
/// (`todo-events:{p2}`) names that partition alone.
extension DeadLetterStore {
    /// `<stream>:dlq:<group>` with one partition, else the glob pattern of every partition's
    /// dead-letter stream, `<stream>:{*}:dlq:<group>` (what `redis-cli --scan --pattern` takes).
    public static func keyPattern(stream: String, group: String, partitions: StreamPartitions) -> String {
        partitions.count == 1 || partitions.parse(stream) != nil
            ? DeadLetter.streamKey(stream: stream, group: group)
            : DeadLetter.streamKey(stream: "\(stream):{*}", group: group)
    }

    /// `list()`, with the dead-letter streams of each partitioned stream's partitions folded
    /// into one summary per stream and group: `stream` its name, `key` the pattern
    /// `<stream>:{*}:dlq:<group>`, counts summed, `partitions` each partition's summary.
    /// Dead-letter streams of plain streams (and of partitions of another layout) are listed
    /// as they are.
    public func list(partitions: StreamPartitions) async throws -> [DeadLetterStreamSummary] {
        let plain = try await list()
        guard partitions.count > 1 else { return plain }
        var result: [DeadLetterStreamSummary] = []
        var byStream: [String: [String: [DeadLetterStreamSummary]]] = [:]
        for summary in plain {
            guard let (stream, index) = partitions.parse(summary.stream) else {
                result.append(summary)
                continue
            }
            var partition = summary
            partition.partition = index
            byStream[stream, default: [:]][summary.group, default: []].append(partition)
        }
        for (stream, groups) in byStream {
            for (group, parts) in groups {
                var reasons: [String: Int] = [:]
                for part in parts { reasons.merge(part.countsByReason, uniquingKeysWith: +) }
                var summary = DeadLetterStreamSummary(
                    stream: stream, group: group, key: Self.keyPattern(stream: stream, group: group, partitions: partitions),
                    count: parts.map(\.count).reduce(0, +), countsByReason: reasons)
                summary.partitions = parts.sorted { ($0.partition ?? 0) < ($1.partition ?? 0) }
                result.append(summary)
            }
        }
        return result.sorted { ($0.stream, $0.group, $0.key) < ($1.stream, $1.group, $1.key) }
    }

    /// The dead letters of `group` on every partition of `stream`, oldest first (by
    /// dead-letter id, over all partitions), optionally only those with `reason`, at most
    /// `limit`. Each record's `deadLetterStream` and `originalStream` name its partition.
    /// Throws `.noSuchStream` when no partition has dead letters of `group`.
    public func show(
        stream: String, group: String, partitions: StreamPartitions, reason: DeadLetter.Reason? = nil, limit: Int? = nil
    ) async throws -> [DeadLetterRecord] {
        var records: [(index: Int, record: DeadLetterRecord)] = []
        for (index, partition, _) in try await deadLetterStreams(stream: stream, group: group, partitions: partitions) {
            for record in try await show(stream: partition, group: group, reason: reason, limit: limit) {
                records.append((index, record))
            }
        }
        let sorted = records.sorted { ($0.record.id, $0.index) < ($1.record.id, $1.index) }.map(\.record)
        return limit.map { Array(sorted.prefix($0)) } ?? sorted
    }

    /// `replay` on every partition of `stream`: each dead letter goes back to the partition
    /// stream it came from (its `dlq_stream`; the script skips one whose `dlq_stream` is
    /// another stream), one script per dead letter on the keys of that partition's slot.
    /// `.id(id)` replays the dead letter with that id in whichever partition holds it (from
    /// each, should two partitions hold one with that id; give the partition stream's key as
    /// `stream` to pick one); not found anywhere, it is skipped. Items of the report name
    /// their partition stream (`stream`). Throws `.noSuchStream` when no partition has dead
    /// letters of `group` (`.all`, `.reason`).
    public func replay(
        stream: String, group: String, partitions: StreamPartitions, selection: DeadLetterSelection,
        markerTTL: Duration? = nil
    ) async throws -> DeadLetterReplayReport {
        guard partitions.count > 1, partitions.parse(stream) == nil else {
            return try await replay(stream: stream, group: group, selection: selection, markerTTL: markerTTL)
        }
        var report = DeadLetterReplayReport()
        if case .id(let id) = selection {
            let keys = partitions.streamKeys(stream).map { DeadLetter.streamKey(stream: $0, group: group) }
            let found = try await client.pipeline(keys.map { RedisCommand("XRANGE", $0, id.description, id.description) })
            let holding = partitions.streamKeys(stream).indices.filter { !(found[$0].array ?? []).isEmpty }
            guard !holding.isEmpty else {
                report.skipped.append(.init(deadLetterID: id, reason: "not found (already replayed or purged)", stream: stream))
                return report
            }
            for index in holding {
                report.merge(
                    try await replay(
                        stream: partitions.streamKey(stream, partition: index), group: group, selection: selection,
                        markerTTL: markerTTL))
            }
            return report
        }
        for (_, partition, _) in try await deadLetterStreams(stream: stream, group: group, partitions: partitions) {
            report.merge(try await replay(stream: partition, group: group, selection: selection, markerTTL: markerTTL))
        }
        return report
    }

    /// `purge` on every partition of `stream`; returns what was deleted from each partition's
    /// dead letters, in partition order (0 where there were none).
    public func purge(
        stream: String, group: String, partitions: StreamPartitions, reason: DeadLetter.Reason? = nil,
        olderThan: Duration? = nil
    ) async throws -> [DeadLetterPurgeCount] {
        let streams: [(index: Int, stream: String)] =
            if partitions.count == 1 || partitions.parse(stream) != nil {
                [(partitions.parse(stream)?.partition ?? 0, stream)]
            } else {
                Array(partitions.streamKeys(stream).enumerated()).map { ($0.offset, $0.element) }
            }
        var counts: [DeadLetterPurgeCount] = []
        for (index, partition) in streams {
            let removed = try await purge(stream: partition, group: group, reason: reason, olderThan: olderThan)
            counts.append(.init(partition: index, key: DeadLetter.streamKey(stream: partition, group: group), removed: removed))
        }
        return counts
    }

    /// The partitions of `stream` whose dead letters of `group` exist: index, partition
    /// stream, dead-letter key. Throws `.noSuchStream` when there is none, `.wrongType` when a
    /// dead-letter key holds something else.
    func deadLetterStreams(stream: String, group: String, partitions: StreamPartitions) async throws
        -> [(index: Int, stream: String, key: String)]
    {
        if partitions.count == 1 || partitions.parse(stream) != nil {
            let key = DeadLetter.streamKey(stream: stream, group: group)
            try await client.requireStream(key)
            return [(partitions.parse(stream)?.partition ?? 0, stream, key)]
        }
        let streams = partitions.streamKeys(stream)
        let keys = streams.map { DeadLetter.streamKey(stream: $0, group: group) }
        let types = try await client.pipeline(keys.map { RedisCommand("TYPE", $0) })
        var existing: [(index: Int, stream: String, key: String)] = []
        for (index, reply) in types.enumerated() {
            switch try reply.throwingError().string ?? "none" {
            case "stream": existing.append((index, streams[index], keys[index]))
            case "none": continue
            case let type: throw EventBusError.wrongType(keys[index], type: type)
            }
        }
        guard !existing.isEmpty else {
            throw EventBusError(
                .noSuchStream,
                "stream \(Self.keyPattern(stream: stream, group: group, partitions: partitions)) does not exist "
                    + "(no dead letters of \(group) in any of the \(partitions.count) partitions of \(stream))")
        }
        return existing
    }
}

/// What `DeadLetterStore.purge(stream:group:partitions:...)` deleted from one partition's
/// dead letters.
public struct DeadLetterPurgeCount: Sendable, Hashable {
    public let partition: Int
    /// The dead-letter stream (`<stream>:{<tag>}:dlq:<group>`).
    public let key: String
    public let removed: Int
}

extension DeadLetterReplayReport {
    mutating func merge(_ other: DeadLetterReplayReport) {
        replayed += other.replayed
        skipped += other.skipped
        refused += other.refused
    }
}
