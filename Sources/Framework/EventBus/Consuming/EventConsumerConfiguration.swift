import Foundation

extension EventConsumer {
    /// Where a new consumer group starts reading.
    public enum StartPosition: Sendable, Hashable {
        /// Only events published after the group is created (`$`).
        case newEvents
        /// Every event still in the stream (`0`).
        case beginning

        var streamID: String { self == .newEvents ? "$" : "0" }
    }

    /// What happens to an event whose type has no handler in this consumer.
    public enum UnhandledTypePolicy: Sendable, Hashable {
        /// Move it to the group's dead letters (reason `unknown_type`): nothing is lost and an
        /// operator sees it. The default.
        case deadLetter
        /// Acknowledge it without handling: for groups that want only some of a stream's types.
        case acknowledge
    }

    /// How the consumers of a group share a partitioned stream.
    public enum Ordering: Sendable, Hashable {
        /// Every consumer reads every partition; each event goes to one of them. Events of one
        /// aggregate are handled in order within one consumer only. The default.
        case shared
        /// Each partition is read by exactly one live consumer of the group at a time, under a
        /// lease in Redis (`PartitionLeases`): events of one partition key are handled in
        /// stream order across replicas, through crashes and rebalances.
        case partitionOwnership(PartitionLeases)

        /// Partition ownership with the default leases.
        public static var ordered: Ordering { .partitionOwnership(PartitionLeases()) }
    }

    /// How one consumer reads its group.
    public struct Configuration: Sendable {
        /// The stream to read, e.g. `todo-events` (its partition streams, when partitioned).
        public var stream: String
        /// How many partition streams `stream` has (`STREAM_PARTITIONS`; default one: the stream
        /// itself). Must match the publishers'.
        public var partitions: StreamPartitions
        /// How this group's consumers share the partitions.
        public var ordering: Ordering
        /// The consumer group: the service's name, e.g. `notification-service`.
        public var group: String
        /// This instance's name within the group; default `<host name>-<pid>`. A restarted
        /// instance that keeps its name first takes back the events it had not acknowledged.
        public var consumerName: String
        /// Where the group starts when it does not exist yet.
        public var startPosition: StartPosition
        /// Entries read per `XREADGROUP` (`COUNT`).
        public var batchSize: Int
        /// How long one `XREADGROUP` waits for new entries (`BLOCK`); also the longest a
        /// graceful stop waits for a read in progress.
        public var blockTimeout: Duration
        /// How many handlers run at once. Events of one aggregate always run one at a time,
        /// in stream order. No new batch is read while a batch is being handled.
        public var maxInFlight: Int
        /// What to do with event types that have no handler.
        public var unhandledTypes: UnhandledTypePolicy
        /// When failed deliveries are retried, and when the group gives up (dead letter).
        public var retry: RetryPolicy
        /// How often the consumer looks in the group's pending entries for retries that are
        /// due and for entries of consumers that died, renews the claim on the entries it is
        /// handling, and checks handler timeouts.
        public var reclaimInterval: Duration
        /// A handler still running after this long counts as a failed delivery: it is
        /// cancelled (cooperatively) and its event is retried. Nil: no limit.
        public var handlerTimeout: Duration?
        /// Entries whose `data` is larger than this are dead-lettered as `undecodable`.
        public var maximumEventBytes: Int
        /// How long a processed-event marker is kept (`<group>:processed:<event_id>`, used by
        /// transactional handlers): a duplicate delivered within it has no effect.
        public var processedMarkerTTL: Duration
        /// Consumers of the group idle for longer than this and owning no pending entry are
        /// removed (`XGROUP DELCONSUMER`). Nil: never.
        public var removeIdleConsumersAfter: Duration?
        /// When set, a receipt (`event_id`, `event_type`, `aggregate_id`, `group`, `consumer`,
        /// `published_at`, `handled_at`, `delivery`) is added to this stream for each event
        /// handled (`MAXLEN ~ 1000000`), for load tests and audits. Costs one `XADD` per event.
        public var receiptsStream: String?
        /// The line logged per handled event ("Handled event"): at `debug` by default; the
        /// services log it at `info` (`EVENT_LOG_LEVEL`, `EVENT_LOG_SAMPLE_RATE`).
        public var eventLog: EventLogPolicy
        /// First and longest wait after a Redis error before reading again.
        public var initialErrorBackoff: Duration
        public var maximumErrorBackoff: Duration

        public init(
            stream: String, group: String, consumerName: String = Configuration.defaultConsumerName(),
            startPosition: StartPosition = .newEvents, batchSize: Int = 100, blockTimeout: Duration = .milliseconds(500),
            maxInFlight: Int = 16, unhandledTypes: UnhandledTypePolicy = .deadLetter, retry: RetryPolicy = RetryPolicy(),
            reclaimInterval: Duration = .milliseconds(250), handlerTimeout: Duration? = .seconds(30),
            maximumEventBytes: Int = 512 * 1024, processedMarkerTTL: Duration = .seconds(7 * 24 * 3600),
            removeIdleConsumersAfter: Duration? = .seconds(3600),
            initialErrorBackoff: Duration = .milliseconds(100), maximumErrorBackoff: Duration = .seconds(5)
        ) {
            self.stream = stream
            self.partitions = .single
            self.ordering = .shared
            self.group = group
            self.consumerName = consumerName
            self.startPosition = startPosition
            self.batchSize = batchSize
            self.blockTimeout = blockTimeout
            self.maxInFlight = maxInFlight
            self.unhandledTypes = unhandledTypes
            self.retry = retry
            self.reclaimInterval = reclaimInterval
            self.handlerTimeout = handlerTimeout
            self.maximumEventBytes = maximumEventBytes
            self.processedMarkerTTL = processedMarkerTTL
            self.removeIdleConsumersAfter = removeIdleConsumersAfter
            self.receiptsStream = nil
            self.eventLog = EventLogPolicy(level: .debug)
            self.initialErrorBackoff = initialErrorBackoff
            self.maximumErrorBackoff = maximumErrorBackoff
        }

        /// `<host name>-<pid>`.
        public static func defaultConsumerName() -> String {
            "\(ProcessInfo.processInfo.hostName)-\(getpid())"
        }

        /// The group's dead-letter stream, `<stream>:dlq:<group>` (one per partition stream:
        /// `deadLetterStreams`).
        public var deadLetterStream: String { DeadLetter.streamKey(stream: stream, group: group) }

        /// The stream keys read: `stream` itself, or each of its partitions.
        public var partitionStreams: [String] { partitions.streamKeys(stream) }

        /// The group's dead-letter stream of each partition.
        public var deadLetterStreams: [String] {
            partitionStreams.map { DeadLetter.streamKey(stream: $0, group: group) }
        }

        /// This configuration reading partition `partition` only.
        func reading(partition: Int) -> Configuration {
            var configuration = self
            configuration.stream = partitions.streamKey(stream, partition: partition)
            configuration.metricsStream = stream
            return configuration
        }

        /// The `stream` dimension of the consumer's metrics: the stream, not a partition.
        var metricsStream: String?
        /// Checks the values, naming the first invalid one.
        public func validate() throws {
            func fail(_ message: String) throws -> Never { throw EventBusError(.invalidConfiguration, message) }
            if stream.isEmpty { try fail("stream must not be empty") }
            if StreamPartitions.partitionTag(of: stream) != nil && partitions.count > 1 {
                try fail("stream must be the stream's name, not one of its partitions (\(stream))")
            }
            if case .partitionOwnership(let leases) = ordering { try leases.validate() }
            if group.isEmpty { try fail("group must not be empty") }
            if consumerName.isEmpty { try fail("consumerName must not be empty") }
            if batchSize < 1 { try fail("batchSize must be at least 1, got \(batchSize)") }
            if maxInFlight < 1 { try fail("maxInFlight must be at least 1, got \(maxInFlight)") }
            if blockTimeout < .milliseconds(1) { try fail("blockTimeout must be at least 1 ms") }
            if maximumEventBytes < 1 { try fail("maximumEventBytes must be positive") }
            if reclaimInterval < .milliseconds(10) { try fail("reclaimInterval must be at least 10 ms") }
            if let handlerTimeout, handlerTimeout < .milliseconds(1) { try fail("handlerTimeout must be at least 1 ms") }
            if processedMarkerTTL < .seconds(1) { try fail("processedMarkerTTL must be at least 1 s") }
            try retry.validate()
            // An entry being handled has its claim renewed every reclaimInterval; a retry must
            // wait longer than that, or live consumers would take each other's work.
            if retry.initialBackoff < reclaimInterval * 3 {
                try fail(
                    "retry.initialBackoff (\(retry.initialBackoff)) must be at least 3 × reclaimInterval (\(reclaimInterval))")
            }
        }
    }
}

/// The leases of partition ownership (`EventConsumer.Ordering.partitionOwnership`).
///
/// Every `heartbeatInterval` each consumer of the group renews its membership and its leases
/// in Redis (one script on the hash `<stream>:owners:<group>`, on the server's clock) and
/// takes the free partitions assigned to it: the live members sorted by name, partition `p`
/// to member `p mod members`. A consumer that stops renewing (killed, cut off) loses its
/// leases `leaseDuration` after its last heartbeat; it stops reading on its own before then
/// (it stops a partition once a whole lease has passed without a successful heartbeat), so
/// two consumers never read one partition at once. A partition changes hands only after its
/// owner drained it (stopped reading, finished and acknowledged what it had) and released it,
/// or after its lease expired; the new owner first takes over and handles whatever is still
/// pending in it, in stream order, then reads on.
public struct PartitionLeases: Sendable, Hashable {
    /// How long a lease lasts without renewal: the longest a dead owner's partitions wait.
    public var leaseDuration: Duration
    /// How often leases are renewed and the assignment looked at.
    public var heartbeatInterval: Duration

    public init(leaseDuration: Duration = .seconds(10), heartbeatInterval: Duration = .seconds(2)) {
        self.leaseDuration = leaseDuration
        self.heartbeatInterval = heartbeatInterval
    }

    func validate() throws {
        func fail(_ message: String) throws -> Never { throw EventBusError(.invalidConfiguration, message) }
        if heartbeatInterval < .milliseconds(10) { try fail("heartbeatInterval must be at least 10 ms") }
        if leaseDuration < heartbeatInterval * 3 {
            try fail("leaseDuration (\(leaseDuration)) must be at least 3 × heartbeatInterval (\(heartbeatInterval))")
        }
    }
}

/// When a failed delivery is retried, and after how many deliveries the group gives up.
///
/// All retry state lives in Redis, in the group's pending-entries list: an entry is
/// delivered again once it has been idle (unacknowledged since its last delivery) for
/// `initialBackoff × multiplier^(deliveries - 1)`, capped at `maximumBackoff`, by whichever
/// consumer of the group looks first. After `maxDeliveries` failed deliveries the event is
/// moved to the group's dead letters.
public struct RetryPolicy: Sendable, Hashable {
    public var initialBackoff: Duration
    public var multiplier: Double
    public var maximumBackoff: Duration
    /// Deliveries (the first one included) before an event is dead-lettered; a handler may
    /// set its own.
    public var maxDeliveries: Int

    public init(
        initialBackoff: Duration = .seconds(1), multiplier: Double = 2, maximumBackoff: Duration = .seconds(300),
        maxDeliveries: Int = 5
    ) {
        self.initialBackoff = initialBackoff
        self.multiplier = multiplier
        self.maximumBackoff = maximumBackoff
        self.maxDeliveries = maxDeliveries
    }

    /// How long an entry delivered `deliveries` times must stay idle before its next delivery.
    public func backoff(afterDeliveries deliveries: Int) -> Duration {
        let exponent = Double(max(0, deliveries - 1))
        let seconds = Double(initialBackoff.nanoseconds) / 1e9 * pow(multiplier, exponent)
        let capped = min(seconds, Double(maximumBackoff.nanoseconds) / 1e9)
        return .nanoseconds(Int64(capped * 1e9))
    }

    func validate() throws {
        func fail(_ message: String) throws -> Never { throw EventBusError(.invalidConfiguration, message) }
        if maxDeliveries < 1 { try fail("retry.maxDeliveries must be at least 1, got \(maxDeliveries)") }
        if multiplier < 1 { try fail("retry.multiplier must be at least 1, got \(multiplier)") }
        if maximumBackoff < initialBackoff { try fail("retry.maximumBackoff must not be less than retry.initialBackoff") }
        if initialBackoff < .milliseconds(1) { try fail("retry.initialBackoff must be at least 1 ms") }
    }
}
