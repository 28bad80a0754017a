import EventBus
import Foundation
import Logging
import Metrics
import RedisClient
import ServiceLifecycle

/// Samples each consumed group every `interval` (`METRICS_SAMPLE_INTERVAL_MS`, default 5 s)
/// into gauges with the dimensions `stream` and `group`:
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
    let groups: [(stream: String, group: String)]
    let interval: Duration
    let logger: Logger

    public init(client: RedisClient, groups: [(stream: String, group: String)], interval: Duration = .seconds(5), logger: Logger) {
        self.client = client
        self.groups = groups
        self.interval = interval
        self.logger = logger
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
        let gauges = groups.map { Gauges(stream: $0.stream, group: $0.group) }
        // The sleep between samples ends at once on graceful shutdown or cancellation.
        try? await cancelWhenGracefulShutdown { try await self.sample(gauges) }
    }

    private func sample(_ gauges: [Gauges]) async throws {
        // The replies: XINFO GROUPS of each stream once, then XPENDING and XLEN of each group.
        var streams: [String] = []
        for gauge in gauges where !streams.contains(gauge.stream) { streams.append(gauge.stream) }
        let streamReply = gauges.map { gauge in streams.firstIndex(of: gauge.stream) ?? 0 }
        var commands = streams.map { RedisCommand("XINFO", "GROUPS", $0) }
        for gauge in gauges {
            commands.append(RedisCommand("XPENDING", gauge.stream, gauge.group))
            commands.append(RedisCommand("XLEN", DeadLetter.streamKey(stream: gauge.stream, group: gauge.group)))
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
                for (index, gauge) in gauges.enumerated() {
                    let base = streams.count + 2 * index
                    let sample = Sample(
                        groupsReply: replies[streamReply[index]], pendingReply: replies[base], deadLettersReply: replies[base + 1],
                        group: gauge.group, nowMilliseconds: nowMilliseconds)
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
