import EventBus
import Foundation
import Logging
import Metrics
import RedisClient
import ServiceLifecycle

/// A consumer group of a service and the stream keys it reads (the stream, or its partitions).
public struct ConsumedGroup: Sendable, Hashable {
    /// The stream's name (`todo-events`), also when it is partitioned.
    public var stream: String
    public var group: String
    /// The keys read: `[stream]`, or each partition stream.
    public var partitionStreams: [String]

    public init(stream: String, group: String, partitionStreams: [String]? = nil) {
        self.stream = stream
        self.group = group
        self.partitionStreams = partitionStreams ?? [stream]
    }
}

/// Samples each consumed group every `interval` (`METRICS_SAMPLE_INTERVAL_MS`, default 5 s)
/// into gauges with the dimensions `stream` and `group` (summed over a partitioned stream's
/// partitions; the oldest pending age is the oldest of any partition):
///
/// - `consumer_group_lag`: entries of the stream not yet delivered to the group
///   (`XINFO GROUPS`' `lag`; left as it was when Redis cannot tell, after deletions);
/// - `consumer_group_pending`: entries delivered to the group and not acknowledged yet (its PEL);
/// - `consumer_group_dead_letters`: entries in the group's dead-letter stream
///   (`XLEN` of `DeadLetter.streamKey`); it falls only when an operator replays or purges them;
/// - `consumer_group_oldest_pending_age_seconds`: how long ago the oldest pending entry was
///   added to the stream (the time in the smallest id of the `XPENDING <stream> <group>`
///   summary, against this host's clock); 0 when nothing is pending.
///
/// Each sample is one pipelined round trip: `XINFO GROUPS` once per stream, then `XPENDING`
/// (summary) and `XLEN` per group; the service's Redis user needs those on its streams and
/// dead-letter streams. A stream or group that does not exist yet leaves its gauges as they
/// were. Every instance of a service samples the same groups, so alert on `max by (stream, group)`.
public struct GroupMetricsSampler: Service {
    let client: RedisClient
    let groups: [ConsumedGroup]
    let interval: Duration
    let logger: Logger

    public init(client: RedisClient, groups: [ConsumedGroup], interval: Duration = .seconds(5), logger: Logger) {
        self.client = client
        self.groups = groups
        self.interval = interval
        self.logger = logger
    }

    /// Groups of unpartitioned streams.
    public init(client: RedisClient, groups: [(stream: String, group: String)], interval: Duration = .seconds(5), logger: Logger) {
        self.init(
            client: client, groups: groups.map { ConsumedGroup(stream: $0.stream, group: $0.group) }, interval: interval,
            logger: logger)
    }

    /// One group's gauges.
    struct Gauges {
        let stream: String
        let group: String
        let lag: Gauge
        let pending: Gauge
        let deadLetters: Gauge
        let oldestPendingAge: Gauge

        init(stream: String, group: String) {
            self.stream = stream
            self.group = group
            let dimensions = [("stream", stream), ("group", group)]
            lag = Gauge(label: "consumer_group_lag", dimensions: dimensions)
            pending = Gauge(label: "consumer_group_pending", dimensions: dimensions)
            deadLetters = Gauge(label: "consumer_group_dead_letters", dimensions: dimensions)
            oldestPendingAge = Gauge(label: "consumer_group_oldest_pending_age_seconds", dimensions: dimensions)
        }
    }

    public func run() async throws {
        // The sleep between samples ends at once on graceful shutdown or cancellation.
        try? await cancelWhenGracefulShutdown { try await self.sample() }
    }

    /// One partition stream of one group: where its replies are in a sample's pipeline.
    private struct Read {
        let gauge: Int
        let group: String
        let streamReply: Int
        let pendingReply: Int
    }

    private func sample() async throws {
        let gauges = groups.map { Gauges(stream: $0.stream, group: $0.group) }
        // The replies: XINFO GROUPS of each stream key once, then XPENDING and XLEN per group and key.
        var streams: [String] = []
        for group in groups {
            for key in group.partitionStreams where !streams.contains(key) { streams.append(key) }
        }
        var commands = streams.map { RedisCommand("XINFO", "GROUPS", $0) }
        var reads: [Read] = []
        for (index, group) in groups.enumerated() {
            for key in group.partitionStreams {
                reads.append(
                    Read(gauge: index, group: group.group, streamReply: streams.firstIndex(of: key) ?? 0, pendingReply: commands.count))
                commands.append(RedisCommand("XPENDING", key, group.group))
                commands.append(RedisCommand("XLEN", DeadLetter.streamKey(stream: key, group: group.group)))
            }
        }
        var reported: Set<String> = []
        while !Task.isCancelled {
            do {
                let replies = try await client.pipeline(commands)
                // A refusal (NOPERM: the Redis user lacks a command) would leave a gauge silently
                // unset: said once per distinct error. A stream or group not created yet is normal.
                for case .error(let text) in replies
                where !text.hasPrefix("NOGROUP") && !text.contains("no such key") && reported.insert(text).inserted {
                    logger.warning("A consumer group metric could not be sampled", metadata: ["error": "\(text)"])
                }
                let nowMilliseconds = UInt64(max(0, Date().timeIntervalSince1970 * 1000))
                var totals = [Sample](repeating: Sample(), count: gauges.count)
                for read in reads {
                    totals[read.gauge].add(
                        Sample(
                            groupsReply: replies[read.streamReply], pendingReply: replies[read.pendingReply],
                            deadLettersReply: replies[read.pendingReply + 1], group: read.group,
                            nowMilliseconds: nowMilliseconds))
                }
                for (gauge, sample) in zip(gauges, totals) {
                    if let value = sample.lag { gauge.lag.record(value) }
                    if let value = sample.pending { gauge.pending.record(value) }
                    if let value = sample.oldestPendingAgeSeconds { gauge.oldestPendingAge.record(value) }
                    if let value = sample.deadLetters { gauge.deadLetters.record(value) }
                }
            } catch {
                logger.debug("Could not sample the consumer groups", metadata: ["error": "\(error)"])  // Redis down: /ready says so
            }
            try await Task.sleep(for: interval)
        }
    }

    /// One group's values read from the replies; nil where the reply does not tell (an error,
    /// a missing stream or group).
    struct Sample: Equatable {
        var lag: Int?
        var pending: Int?
        var oldestPendingAgeSeconds: Double?
        var deadLetters: Int?

        init() {}

        /// Adds another partition's sample: counts summed, the oldest age kept.
        mutating func add(_ other: Sample) {
            func sum(_ a: Int?, _ b: Int?) -> Int? { a.map { $0 + (b ?? 0) } ?? b }
            lag = sum(lag, other.lag)
            pending = sum(pending, other.pending)
            deadLetters = sum(deadLetters, other.deadLetters)
            if let age = other.oldestPendingAgeSeconds { oldestPendingAgeSeconds = max(oldestPendingAgeSeconds ?? 0, age) }
        }

        /// - Parameters:
        ///   - groupsReply: `XINFO GROUPS <stream>`.
        ///   - pendingReply: `XPENDING <stream> <group>`: count, smallest id, greatest id, consumers.
        ///   - deadLettersReply: `XLEN` of the dead-letter stream.
        init(groupsReply: RedisReply, pendingReply: RedisReply, deadLettersReply: RedisReply, group: String, nowMilliseconds: UInt64) {
            for entry in groupsReply.array ?? [] {
                var fields: [String: RedisReply] = [:]
                let values = entry.array ?? []
                for index in stride(from: 0, to: values.count - 1, by: 2) {
                    if let name = values[index].string { fields[name] = values[index + 1] }
                }
                guard fields["name"]?.string == group else { continue }
                lag = fields["lag"]?.int
            }
            if let summary = pendingReply.array, let count = summary.first?.int {
                pending = count
                if count == 0 {
                    oldestPendingAgeSeconds = 0
                } else if summary.count > 1, let text = summary[1].string, let oldest = StreamEntryID(text) {
                    let age = nowMilliseconds > oldest.milliseconds ? nowMilliseconds - oldest.milliseconds : 0
                    oldestPendingAgeSeconds = Double(age) / 1000
                }
            }
            deadLetters = deadLettersReply.int
        }
    }
}
