import RedisClient

/// The views of `StreamInspector` over every partition stream of a partitioned stream
/// (`StreamPartitions`): each partition read as a stream of its own (every command names one
/// partition key, so each runs on the node of that partition's slot on a Redis Cluster), then
/// added up. "How far behind is this group" is the sum of its lag over the partitions.
///
/// A partition stream that does not exist (no event went to it yet, no group made it) is
/// listed in `missing` and left out; a stream none of whose partitions exists throws
/// `.noSuchStream`. With one partition the views hold the plain stream alone.
extension StreamInspector {
    /// `XINFO STREAM`, `XINFO GROUPS` and `XINFO CONSUMERS` of each partition of `stream`, in
    /// partition order, with the totals (`PartitionedStreamInfo`).
    public func streamInfo(stream: String, partitions: StreamPartitions) async throws -> PartitionedStreamInfo {
        let (existing, missing) = try await partitionStreams(stream, partitions)
        var views: [PartitionedStreamInfo.Partition] = []
        for (index, key) in existing {
            // A partition deleted since TYPE is left out as missing would be.
            do {
                let info = try await streamInfo(stream: key)
                let groups = try await groups(stream: key)
                views.append(.init(index: index, info: info, groups: groups))
            } catch let error as EventBusError where error.code == .noSuchStream {
                continue
            }
        }
        return PartitionedStreamInfo(stream: stream, partitionCount: partitions.count, partitions: views, missing: missing)
    }

    /// The pending entries of `group` on every partition of `stream`: each partition's
    /// summary, and the oldest `limit` entries over all partitions (each with its partition).
    /// Partitions without the group are listed in `withoutGroup`; when no partition has it,
    /// `.noSuchGroup` is thrown.
    public func pending(stream: String, group: String, partitions: StreamPartitions, limit: Int = 100) async throws
        -> PartitionedPendingReport
    {
        guard limit >= 0 else { throw EventBusError(.invalidArgument, "limit must not be negative") }
        let (existing, missing) = try await partitionStreams(stream, partitions)
        var reports: [PartitionedPendingReport.Partition] = []
        var withoutGroup: [String] = []
        for (index, key) in existing {
            do {
                reports.append(.init(index: index, report: try await pending(stream: key, group: group, limit: limit)))
            } catch let error as EventBusError where error.code == .noSuchGroup {
                withoutGroup.append(key)
            }
        }
        guard !reports.isEmpty else { throw EventBusError.noSuchGroup(group, stream: stream) }
        return PartitionedPendingReport(
            stream: stream, group: group, partitionCount: partitions.count, partitions: reports,
            withoutGroup: withoutGroup, missing: missing, limit: limit)
    }

    /// The partition streams of `stream` that exist (index and key) and those that do not.
    /// Throws `.noSuchStream` when none exists, `.wrongType` when a partition key holds
    /// something else.
    func partitionStreams(_ stream: String, _ partitions: StreamPartitions) async throws
        -> (existing: [(index: Int, key: String)], missing: [String])
    {
        let keys = partitions.streamKeys(stream)
        let types = try await client.pipeline(keys.map { RedisCommand("TYPE", $0) })
        var existing: [(index: Int, key: String)] = []
        var missing: [String] = []
        for (index, (key, reply)) in zip(keys, types).enumerated() {
            switch try reply.throwingError().string ?? "none" {
            case "stream": existing.append((index, key))
            case "none": missing.append(key)
            case let type: throw EventBusError.wrongType(key, type: type)
            }
        }
        guard !existing.isEmpty else {
            if partitions.count == 1 { throw EventBusError.noSuchStream(stream) }
            throw EventBusError(
                .noSuchStream,
                "stream \(stream) does not exist (none of its \(partitions.count) partition streams "
                    + "\(keys[0]) .. \(keys[keys.count - 1]))")
        }
        return (existing, missing)
    }
}

/// A stream over its partitions: each partition stream as `XINFO` describes it, and the totals.
public struct PartitionedStreamInfo: Sendable, Hashable {
    /// One partition stream.
    public struct Partition: Sendable, Hashable {
        /// Its index in the layout (`0..<partitionCount`).
        public let index: Int
        /// `XINFO STREAM` of the partition stream (`info.stream` is its key).
        public let info: StreamInfo
        /// Its consumer groups, in Redis's order.
        public let groups: [GroupInfo]
        /// The partition stream's key (`todo-events:{p2}`).
        public var stream: String { info.stream }
    }

    /// The stream's name (`todo-events`).
    public let stream: String
    /// Partitions in the layout.
    public let partitionCount: Int
    /// The partition streams that exist, in partition order.
    public let partitions: [Partition]
    /// The keys of the partition streams that do not exist.
    public let missing: [String]
    /// Each group found on any partition, in the order first seen (partition 0 first).
    public let groups: [PartitionedGroupInfo]

    public init(stream: String, partitionCount: Int, partitions: [Partition], missing: [String]) {
        self.stream = stream
        self.partitionCount = partitionCount
        self.partitions = partitions
        self.missing = missing
        var names: [String] = []
        var byName: [String: [PartitionedGroupInfo.Partition]] = [:]
        for partition in partitions {
            for group in partition.groups {
                if byName[group.name] == nil { names.append(group.name) }
                byName[group.name, default: []].append(.init(index: partition.index, stream: partition.stream, group: group))
            }
        }
        groups = names.map { PartitionedGroupInfo(name: $0, partitionCount: partitionCount, partitions: byName[$0] ?? []) }
    }

    /// Entries in every partition.
    public var length: Int { partitions.map(\.info.length).reduce(0, +) }
    /// The oldest first entry and the newest last entry over the partitions (ids are times on
    /// Redis's clock, comparable across partitions of one server; on a cluster, across nodes
    /// as far as their clocks agree).
    public var firstEntryID: StreamEntryID? { partitions.compactMap(\.info.firstEntryID).min() }
    public var lastEntryID: StreamEntryID? { partitions.compactMap(\.info.lastEntryID).max() }
    public var lastGeneratedID: StreamEntryID? { partitions.compactMap(\.info.lastGeneratedID).max() }
    /// Entries ever added to every partition; nil when one partition cannot tell (before Redis 7).
    public var entriesAdded: Int? {
        partitions.reduce(Int?.some(0)) { total, partition in
            total.flatMap { total in partition.info.entriesAdded.map { total + $0 } }
        }
    }
}

/// A consumer group over the partitions of a stream where it exists.
public struct PartitionedGroupInfo: Sendable, Hashable {
    /// The group on one partition stream.
    public struct Partition: Sendable, Hashable {
        public let index: Int
        /// The partition stream's key.
        public let stream: String
        public let group: GroupInfo
    }

    public let name: String
    /// Partitions in the layout.
    public let partitionCount: Int
    /// The partitions where the group exists, in partition order.
    public let partitions: [Partition]

    /// Pending entries, summed over the partitions.
    public var pending: Int { partitions.map(\.group.pending).reduce(0, +) }
    /// Entries not yet delivered, summed over the partitions: how far behind the group is.
    /// Nil when Redis cannot tell on one of them (see `GroupInfo.lag`).
    public var lag: Int? {
        partitions.reduce(Int?.some(0)) { total, partition in total.flatMap { total in partition.group.lag.map { total + $0 } } }
    }
    /// Entries read, summed; nil when one partition cannot tell.
    public var entriesRead: Int? {
        partitions.reduce(Int?.some(0)) { total, partition in
            total.flatMap { total in partition.group.entriesRead.map { total + $0 } }
        }
    }
    /// The newest last-delivered id over the partitions (each partition has its own).
    public var lastDeliveredID: StreamEntryID? { partitions.compactMap(\.group.lastDeliveredID).max() }
    /// Whether the group exists on every partition of the layout.
    public var isOnEveryPartition: Bool { partitions.count == partitionCount }

    /// The group's consumers over the partitions, by name: a consumer of a shared group reads
    /// every partition and appears once, with its pending entries summed and its smallest
    /// idle time; sorted by name.
    public var consumers: [ConsumerInfo] {
        var byName: [String: (pending: Int, idle: Duration)] = [:]
        for partition in partitions {
            for consumer in partition.group.consumers {
                let known = byName[consumer.name]
                byName[consumer.name] = (
                    (known?.pending ?? 0) + consumer.pending, known.map { min($0.idle, consumer.idle) } ?? consumer.idle
                )
            }
        }
        return byName.sorted { $0.key < $1.key }.map { ConsumerInfo(name: $0.key, pending: $0.value.pending, idle: $0.value.idle) }
    }

    /// For each consumer name, how many partitions list it.
    public var consumerPartitionCounts: [String: Int] {
        var counts: [String: Int] = [:]
        for partition in partitions { for consumer in partition.group.consumers { counts[consumer.name, default: 0] += 1 } }
        return counts
    }
}

/// A group's pending entries over the partitions of a stream.
public struct PartitionedPendingReport: Sendable, Hashable {
    /// One partition's pending report.
    public struct Partition: Sendable, Hashable {
        public let index: Int
        /// `report.stream` is the partition stream's key.
        public let report: PendingReport
        public var stream: String { report.stream }
    }

    /// A pending entry and the partition it is pending in.
    public struct Entry: Sendable, Hashable {
        public let partition: Int
        /// The partition stream's key.
        public let stream: String
        public let entry: PendingEntry
    }

    public let stream: String
    public let group: String
    public let partitionCount: Int
    /// The partitions where the group exists, in partition order.
    public let partitions: [Partition]
    /// Partition streams that exist but have no such group.
    public let withoutGroup: [String]
    /// Partition streams that do not exist.
    public let missing: [String]
    /// The oldest pending entries over every partition (by entry id), at most the limit asked for.
    public let entries: [Entry]

    init(
        stream: String, group: String, partitionCount: Int, partitions: [Partition], withoutGroup: [String],
        missing: [String], limit: Int
    ) {
        self.stream = stream
        self.group = group
        self.partitionCount = partitionCount
        self.partitions = partitions
        self.withoutGroup = withoutGroup
        self.missing = missing
        let all = partitions.flatMap { partition in
            partition.report.entries.map { Entry(partition: partition.index, stream: partition.stream, entry: $0) }
        }
        entries = Array(all.sorted { ($0.entry.id, $0.partition) < ($1.entry.id, $1.partition) }.prefix(limit))
    }

    /// Pending entries in every partition.
    public var count: Int { partitions.map(\.report.count).reduce(0, +) }
    public var smallestID: StreamEntryID? { partitions.compactMap(\.report.smallestID).min() }
    public var greatestID: StreamEntryID? { partitions.compactMap(\.report.greatestID).max() }
    /// Pending entries per consumer over the partitions (consumers holding none are not
    /// listed), in the order first seen.
    public var consumers: [PendingReport.ConsumerCount] {
        var names: [String] = []
        var counts: [String: Int] = [:]
        for partition in partitions {
            for consumer in partition.report.consumers {
                if counts[consumer.consumer] == nil { names.append(consumer.consumer) }
                counts[consumer.consumer, default: 0] += consumer.count
            }
        }
        return names.map { .init(consumer: $0, count: counts[$0] ?? 0) }
    }
}
