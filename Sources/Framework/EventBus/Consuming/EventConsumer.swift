import Logging
import RedisClient
import ServiceLifecycle

/// Reads a stream (each of its partitions, when partitioned) as one member of a consumer
/// group and hands each event to the handler registered for its type.
///
/// Guarantees:
/// - At least once: an event is acknowledged (`XACK`) only after its handler returned. A
///   handler that throws or overruns `handlerTimeout`, a crash or a kill before the
///   acknowledgement leaves the event pending in the group; the group's pending-entries list
///   drives its redelivery (by this consumer or another) after a backoff that grows with
///   each delivery (`RetryPolicy`). Nothing is ever dropped silently: after
///   `maxDeliveries` the event moves to the dead letters `<stream>:dlq:<group>` (of its
///   partition stream), atomically with its acknowledgement.
/// - Every group gets every event; within a group each event goes to one consumer at a time.
///   A consumer renews its claim on what it is handling (never taking back an entry another
///   consumer claimed meanwhile); a transactional commit or a dead letter writes only while
///   the entry is still pending to this consumer, so an event is never both applied and
///   dead-lettered (a delivery that lost its entry is `superseded`: nothing written).
/// - A delivery refused because another one holds the event's `IdempotencyGuard` lease does
///   not count towards `maxDeliveries`: the event waits, pending, for the lease to end.
/// - Per-aggregate order: events of one aggregate read by this consumer are handled one at
///   a time in stream order; events of different aggregates run concurrently, up to
///   `maxInFlight`, once handlers are seen to take long enough (≥ 50 µs on average) for
///   concurrency to pay. With `ordering: .shared` (the default) no order is promised across
///   the consumers of a group. With `.partitionOwnership` each partition is read by exactly
///   one live consumer of the group at a time (`PartitionLeases`), and a partition's new
///   owner handles what its previous owner left pending before anything newer: events of one
///   partition key are handled in stream order across replicas, through crashes, kills and
///   rebalances. (A retry after a failed delivery is the exception: the events after it are
///   not held back.)
/// - An entry that no retry can fix goes to the dead letters on first sight, with its
///   reason: `undecodable` (envelope or data invalid, too large), `unsupported_version`,
///   `unknown_type` (unless the group acknowledges the types it does not want,
///   `unhandledTypes: .acknowledge`), `deleted` (trimmed away while pending).
/// - A group that vanished (`XGROUP DESTROY`, `FLUSHALL`) is recreated, loudly; a stream key
///   of the wrong type is reported and retried with backoff, never in a tight loop.
/// - Graceful stop (SIGTERM through a `ServiceGroup`, or task cancellation): it stops reading,
///   lets the handlers in flight finish, acknowledges them, and returns (with ownership, it
///   then gives its partitions up at once, so they do not wait for its leases to expire).
///
/// Each partition read costs two Redis connections: one for `XREADGROUP ... BLOCK` (which
/// holds a connection while it waits, so it is never shared with publishers), one for its
/// reclaim loop and its lease loop (retries; claim renewal and handler timeouts, which never
/// wait behind a redelivery). Ownership adds one for the heartbeats.
public final class EventConsumer: Service, Sendable {
    public let configuration: Configuration
    private let redis: RedisConfiguration
    private let handlers: EventHandlers
    private let logger: Logger

    public init(
        redis: RedisConfiguration, configuration: Configuration, handlers: EventHandlers,
        logger: Logger = Logger(label: "event-consumer")
    ) throws {
        try configuration.validate()
        self.redis = redis
        self.configuration = configuration
        self.handlers = handlers
        var logger = logger
        logger[metadataKey: "consumer.group"] = "\(configuration.group)"
        logger[metadataKey: "consumer.name"] = "\(configuration.consumerName)"
        self.logger = logger
    }

    /// A reader of partition `partition` (the whole stream when not partitioned).
    func reader(partition: Int, takeOverPending: Bool = false) -> PartitionReader {
        PartitionReader(
            redis: redis, configuration: configuration.reading(partition: partition), handlers: handlers,
            takeOverPending: takeOverPending, logger: logger)
    }

    public func run() async throws {
        switch configuration.ordering {
        case .shared:
            // Every partition, all the time.
            await withDiscardingTaskGroup { group in
                for partition in 0..<configuration.partitions.count {
                    let reader = reader(partition: partition)
                    group.addTask { await reader.run() }
                }
            }
        case .partitionOwnership(let leases):
            var redis = self.redis
            redis.clientName = "consumer:\(configuration.group):\(configuration.consumerName):ownership"
            let client = RedisClient(configuration: redis, logger: logger)
            await PartitionOwnership(consumer: self, leases: leases, client: client, logger: logger).run()
            await client.shutdown()
        }
    }
}
