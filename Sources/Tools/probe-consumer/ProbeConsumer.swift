import ArgumentParser
import EventBus
import Foundation
import Logging
import RedisClient
import ServiceLifecycle

/// The event the fault tests publish: one numbered tick.
struct ProbeTicked: DomainEvent {
    static let eventType = "probe.ticked"
    static let aggregateType = "probe"
    var number: Int
    var aggregateID: String { "probe-\(number % 64)" }
}

/// A consumer process for fault tests (killed with SIGKILL, restarted, cut off from Redis).
///
/// Its handler is transactional: for each event it adds the event id to `<stream>:seen`
/// and increments `<stream>:applied`, exactly once per event. Before returning those writes
/// it increments `<stream>:attempts` outside the transaction (an at-least-once effect), so a
/// test can tell deliveries from effects. It also appends each event's number to
/// `<stream>:order:<aggregate id>` in the transaction, so a test can check the order in
/// which each aggregate's events were applied. With partitions these keys are per partition,
/// `<stream>:{<tag>}:seen` and so on, in the slot of the partition stream.
@main
struct ProbeConsumer: AsyncParsableCommand {
    @Option(help: "Redis URL (default: REDIS_URL).") var redisURL: String?
    @Option var stream: String
    @Option var group: String
    @Option var name: String
    @Option(help: "Microseconds each handler spends before returning.") var handlerMicroseconds: Int = 0
    @Option(help: "Partition streams of the stream.") var partitions: Int = 1
    @Option(help: "Partition lease (ms) when --ordered.") var leaseMilliseconds: Int = 1500
    @Flag(help: "Own partitions (per-aggregate order across consumers).") var ordered = false

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .notice
            return handler
        }
        let logger = Logger(label: "probe-consumer")
        guard let url = redisURL ?? ProcessInfo.processInfo.environment["REDIS_URL"] else {
            throw ValidationError("give --redis-url or set REDIS_URL")
        }
        let redis = try RedisConfiguration(url: url)
        let client = RedisClient(configuration: redis, logger: logger)
        defer { client.close() }
        let (stream, pause) = (stream, handlerMicroseconds)
        var handlers = EventHandlers()
        handlers.onTransactional(ProbeTicked.self) { received in
            _ = try await client.send("INCR", "\(stream):attempts")
            if pause > 0 { try await Task.sleep(for: .microseconds(pause)) }
            // Partitioned: the keys of the event's partition (its slot, on a cluster).
            let prefix = StreamPartitions.partitionTag(of: received.stream).map { "\(stream):{\($0)}" } ?? stream
            return [
                RedisCommand("SADD", "\(prefix):seen", received.envelope.eventID),
                RedisCommand("INCR", "\(prefix):applied"),
                RedisCommand("RPUSH", "\(prefix):order:\(received.event.aggregateID)", "\(received.event.number)"),
            ]
        }
        var configuration = EventConsumer.Configuration(
            stream: stream, group: group, consumerName: name, startPosition: .beginning, batchSize: 50,
            blockTimeout: .milliseconds(100))
        configuration.reclaimInterval = .milliseconds(50)
        configuration.retry = RetryPolicy(initialBackoff: .milliseconds(300), maximumBackoff: .seconds(1), maxDeliveries: 50)
        configuration.partitions = try StreamPartitions(count: partitions)
        if ordered {
            let lease = Duration.milliseconds(leaseMilliseconds)
            configuration.ordering = .partitionOwnership(PartitionLeases(leaseDuration: lease, heartbeatInterval: lease / 5))
        }
        let consumer = try EventConsumer(redis: redis, configuration: configuration, handlers: handlers, logger: logger)
        let services = ServiceGroup(
            configuration: .init(services: [.init(service: consumer)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await services.run()
    }
}
