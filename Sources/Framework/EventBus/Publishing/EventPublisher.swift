import Logging
import Metrics
import RedisClient
import Synchronization
import Tracing

/// Publishes domain events to their aggregate type's stream with `XADD`.
///
/// With partitioned streams (`Configuration.partitions`) an event goes to the partition
/// its `partitionKey` (the aggregate id by default) hashes to, so the events of one
/// aggregate stay in one partition stream, in publish order.
///
/// Guarantees:
/// - `publish` returns once Redis has appended the entry; the returned id orders it in its
///   stream. A thrown error means the event may or may not have been appended (for
///   `.connectionLost`) or was not (any other error); nothing is retried behind your back.
/// - Events published by one caller to one stream are appended in call order; a batch is
///   appended in its order, in one pipelined round trip.
/// - Concurrent publishers sharing the client are pipelined together automatically.
///
/// Observability: with a tracer bootstrapped, each publish is a producer span (a child of
/// the current span) whose context the entries carry as `traceparent`; each published event
/// gets one log line per `Configuration.eventLog`.
public struct EventPublisher: Sendable {
    /// Stream naming and retention.
    public struct Configuration: Sendable {
        /// The stream of an aggregate type; by default `<aggregateType>-events`.
        public var streamName: @Sendable (_ aggregateType: String) -> String
        /// How many partition streams each stream has (`STREAM_PARTITIONS`; default one, the
        /// stream itself).
        public var partitions: StreamPartitions
        /// How the publisher keeps its streams' length in check (see `RetentionPolicy` for
        /// what each mode can lose): `.maxLength(n)` adds `MAXLEN ~ n` to every `XADD`;
        /// `.safe` trims in the background every `safeTrimInterval` publishes per stream.
        public var retention: RetentionPolicy
        /// Publishes to one stream between two safe trims.
        public var safeTrimInterval: Int
        /// The line logged per published event ("Published event"): at `debug` by default;
        /// the services log it at `info` (`EVENT_LOG_LEVEL`, `EVENT_LOG_SAMPLE_RATE`).
        public var eventLog: EventLogPolicy
        /// When set (`PUBLISH_WAIT_REPLICAS`), a publish returns only once that many replicas of
        /// the stream's master have the entry (`WAIT`), else throws `.notReplicated`; the
        /// event store and the other writers that publish in a script honour it too.
        public var replicaAcknowledgement: ReplicaAcknowledgement?

        public init(
            streamName: @escaping @Sendable (String) -> String = { "\($0)-events" },
            partitions: StreamPartitions = .single, retention: RetentionPolicy = .none, safeTrimInterval: Int = 1000,
            eventLog: EventLogPolicy = .debug
        ) {
            self.streamName = streamName
            self.partitions = partitions
            self.retention = retention
            self.safeTrimInterval = safeTrimInterval
            self.eventLog = eventLog
            self.replicaAcknowledgement = nil
        }

        /// `MAXLEN ~ n` on every `XADD` (`.maxLength` retention).
        var approximateMaxLength: Int? {
            if case .maxLength(let length) = retention { return length }
            return nil
        }
    }

    private let client: RedisClient
    private let configuration: Configuration
    private let logger: Logger
    private let counters: PublishCounters
    private let trimmer: SafeTrimScheduler?
    private let tracer: (any Tracer)?

    public init(client: RedisClient, configuration: Configuration = Configuration(), logger: Logger = Logger(label: "event-publisher")) {
        self.client = client
        self.configuration = configuration
        self.logger = logger
        self.counters = PublishCounters()
        self.tracer = EventTracing.tracer
        if case .safe(let maxLength) = configuration.retention {
            trimmer = SafeTrimScheduler(
                client: client, maxLength: maxLength, interval: configuration.safeTrimInterval, logger: logger)
        } else {
            trimmer = nil
        }
    }

    /// The stream events of this aggregate type go to (its partitions, when partitioned,
    /// are `partitions.streamKeys(stream(for:))`).
    public func stream(for aggregateType: String) -> String {
        configuration.streamName(aggregateType)
    }

    /// The partition stream `event` goes to.
    public func stream(for event: some DomainEvent) -> String {
        configuration.partitions.streamKey(stream(for: type(of: event).aggregateType), partitionKey: event.partitionKey)
    }

    /// The partition layout of the streams this publisher writes.
    public var partitions: StreamPartitions { configuration.partitions }

    /// The replica acknowledgement writes that publish must wait for (nil: none).
    public var replicaAcknowledgement: ReplicaAcknowledgement? { configuration.replicaAcknowledgement }

    /// Publishes one event and returns its stream entry id.
    @discardableResult
    public func publish<Event: DomainEvent>(_ event: Event, context: EventContext = EventContext()) async throws
        -> StreamEntryID
    {
        guard let tracer else { return try await append(event, context: context) }
        let stream = stream(for: Event.aggregateType)
        return try await tracer.withSpan("publish \(stream)", ofKind: .producer) { span in
            span.describe(stream: stream, eventType: Event.eventType, aggregateID: event.aggregateID, operation: "publish")
            var context = context
            context.traceparent = EventTracing.traceparent(of: span.context, tracer: tracer) ?? context.traceparent
            let id = try await append(event, context: context)
            span.attributes["redis.entry_id"] = "\(id)"
            return id
        }
    }

    private func append<Event: DomainEvent>(_ event: Event, context: EventContext) async throws -> StreamEntryID {
        let start = ContinuousClock.now
        let context = configuration.eventLog.isActive(for: logger) ? context.startingAFlow() : context
        let command = try xaddCommand(for: event, context: context)
        let id = try await client.entryIDs([command], replicated: configuration.replicaAcknowledgement)[0]
        published(1, of: Event.self, to: stream(for: event))
        logPublished(event, context: context, entryID: id, startedAt: start)
        return id
    }

    /// Publishes events of one type in one pipelined round trip, in order; returns their
    /// entry ids. If Redis rejects one of them, the error is thrown after the whole batch
    /// was sent (the others were appended).
    @discardableResult
    public func publish<Event: DomainEvent>(_ events: [Event], context: EventContext = EventContext()) async throws
        -> [StreamEntryID]
    {
        try await publishBatch(events, context: context)
    }

    /// Publishes events of any types in one pipelined round trip, in order; returns their
    /// entry ids. If Redis rejects one of them, the error is thrown after the whole batch
    /// was sent (the others were appended).
    @discardableResult
    public func publish(_ events: [any DomainEvent], context: EventContext = EventContext()) async throws
        -> [StreamEntryID]
    {
        try await publishBatch(events, context: context)
    }

    private func publishBatch(_ events: [any DomainEvent], context: EventContext) async throws -> [StreamEntryID] {
        guard !events.isEmpty else { return [] }
        guard let tracer else { return try await sendBatch(events, context: context) }
        let stream = stream(for: type(of: events[0]).aggregateType)
        return try await tracer.withSpan("publish \(stream)", ofKind: .producer) { span in
            span.describe(
                stream: stream, eventType: type(of: events[0]).eventType, aggregateID: events[0].aggregateID, operation: "publish")
            span.attributes["messaging.batch.message_count"] = events.count
            var context = context
            context.traceparent = EventTracing.traceparent(of: span.context, tracer: tracer) ?? context.traceparent
            return try await sendBatch(events, context: context)
        }
    }

    /// Sends a batch of `XADD`s in one pipeline.
    private func sendBatch(_ events: [any DomainEvent], context: EventContext) async throws -> [StreamEntryID] {
        let start = ContinuousClock.now
        let context = configuration.eventLog.isActive(for: logger) ? context.startingAFlow() : context
        let ids = try await client.entryIDs(
            events.map { try encodedXADD($0, stream: stream(for: $0), context: context) },
            replicated: configuration.replicaAcknowledgement)
        for (event, id) in zip(events, ids) {
            published(1, of: type(of: event), to: stream(for: event))
            logPublished(event, context: context, entryID: id, startedAt: start)
        }
        return ids
    }

    /// Counts events appended with `xaddCommand` inside a caller's own transaction or script
    /// (`publish` counts its own), so `events_published_total` stays true.
    public func recordPublished(_ count: Int = 1, of type: any DomainEvent.Type) {
        counters.increment(stream: stream(for: type.aggregateType), eventType: type.eventType, by: count)
    }

    /// Counts and logs (per `eventLog`) one event appended with `xaddCommand` inside a
    /// caller's own transaction or script, once that committed.
    public func recordPublished(_ event: some DomainEvent, context: EventContext, entryID: StreamEntryID? = nil) {
        published(1, of: type(of: event), to: stream(for: event))
        logPublished(event, context: context, entryID: entryID, startedAt: nil)
    }

    /// Counts `count` entries appended to `stream` inside a caller's own script (e.g. the
    /// commands a saga commit sends), so that the stream is trimmed per `retention` too.
    public func recordAppended(_ count: Int, to stream: String) {
        trimmer?.published(count, to: stream)
    }

    /// Counts `count` events of `type` appended to `partitionStream` (a partition of their stream).
    private func published(_ count: Int, of type: any DomainEvent.Type, to partitionStream: String) {
        counters.increment(stream: stream(for: type.aggregateType), eventType: type.eventType, by: count)
        trimmer?.published(count, to: partitionStream)
    }

    private func logPublished(
        _ event: any DomainEvent, context: EventContext, entryID: StreamEntryID?, startedAt start: ContinuousClock.Instant?
    ) {
        guard configuration.eventLog.shouldLog(logger, correlationID: context.correlationID ?? event.aggregateID) else { return }
        let eventType = type(of: event)
        var metadata: Logger.Metadata = [
            "event.type": "\(eventType.eventType)", "event.aggregate_id": "\(event.aggregateID)",
            "redis.stream": "\(stream(for: event))", "outcome": "published",
        ]
        if let correlationID = context.correlationID { metadata["event.correlation_id"] = "\(correlationID)" }
        if let entryID { metadata["redis.entry_id"] = "\(entryID)" }
        if let start { metadata["duration_us"] = "\((ContinuousClock.now - start).nanoseconds / 1000)" }
        logger.log(level: configuration.eventLog.level, "Published event", metadata: metadata)
    }

    /// The `XADD` command that publishes `event`, for use inside a `MULTI`/`EXEC` that also
    /// changes state (state and event written atomically). With tracing on, the entry carries
    /// the current span as its `traceparent`.
    public func xaddCommand<Event: DomainEvent>(for event: Event, context: EventContext = EventContext()) throws
        -> RedisCommand
    {
        try encodedXADD(event, stream: stream(for: event), context: EventTracing.withCurrentSpan(context, tracer: tracer))
    }

    /// The `XADD` that appends `event` to `stream` (not its aggregate type's stream): for
    /// commands sent to a participant's command stream from inside a script.
    public func xaddCommand<Event: DomainEvent>(for event: Event, stream: String, context: EventContext = EventContext()) throws
        -> RedisCommand
    {
        try encodedXADD(event, stream: stream, context: EventTracing.withCurrentSpan(context, tracer: tracer))
    }

    private func encodedXADD(_ event: some DomainEvent, stream: String, context: EventContext) throws -> RedisCommand {
        try EventEncoding.xadd(event, stream: stream, context: context, approximateMaxLength: configuration.approximateMaxLength)
    }
}

/// `events_published_total{stream,event_type}` counters, made once per pair.
private final class PublishCounters: Sendable {
    private let counters = Mutex<[String: Counter]>([:])

    func increment(stream: String, eventType: String, by amount: Int) {
        let counter = counters.withLock { counters in
            let key = stream + "\u{0}" + eventType
            if let counter = counters[key] { return counter }
            let counter = Counter(label: "events_published_total", dimensions: [("stream", stream), ("event_type", eventType)])
            counters[key] = counter
            return counter
        }
        counter.increment(by: amount)
    }
}
