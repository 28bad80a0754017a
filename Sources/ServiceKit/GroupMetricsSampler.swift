import Logging
import Metrics
import RedisClient
import ServiceLifecycle

/// Samples each consumer group's lag and pending count every `interval` into the gauges
/// `consumer_group_lag` and `consumer_group_pending` (dimensions `stream`, `group`).
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

    public func run() async throws {
        let gauges = groups.map { pair in
            let dimensions = [("stream", pair.stream), ("group", pair.group)]
            return (
                pair, Gauge(label: "consumer_group_lag", dimensions: dimensions),
                Gauge(label: "consumer_group_pending", dimensions: dimensions)
            )
        }
        // The sleep between samples ends at once on graceful shutdown or cancellation.
        try? await cancelWhenGracefulShutdown { try await self.sample(gauges) }
    }

    private func sample(_ gauges: [((stream: String, group: String), Gauge, Gauge)]) async throws {
        while !Task.isCancelled {
            for ((stream, group), lag, pending) in gauges {
                guard let reply = try? await client.send("XINFO", "GROUPS", stream) else { continue }
                for entry in reply.array ?? [] {
                    var fields: [String: RedisReply] = [:]
                    let values = entry.array ?? []
                    for index in stride(from: 0, to: values.count - 1, by: 2) {
                        if let name = values[index].string { fields[name] = values[index + 1] }
                    }
                    guard fields["name"]?.string == group else { continue }
                    if let value = fields["lag"]?.int { lag.record(value) }
                    if let value = fields["pending"]?.int { pending.record(value) }
                }
            }
            try await Task.sleep(for: interval)
        }
    }
}
