import Logging
import Metrics
import RedisClient
import Synchronization

/// Publishes domain events to their aggregate type's stream with `XADD`.
///
/// Guarantees:
/// - `publish` returns once Redis has appended the entry; the returned id orders it in its
///   stream. A thrown error means the event may or may not have been appended (for
///   `.connectionLost`) or was not (any other error); nothing is retried behind your back.
/// - Events published by one caller to one stream are appended in call order; a batch is
///   appended in its order, in one pipelined round trip.
/// - Concurrent publishers sharing the client are pipelined together automatically.
public struct EventPublisher: Sendable {
    /// Stream naming and retention.
    public struct Configuration: Sendable {
        /// The stream of an aggregate type; by default `<aggregateType>-events`.
        public var streamName: @Sendable (_ aggregateType: String) -> String
        /// How the publisher keeps its streams' length in check (see `RetentionPolicy` for
        /// what each mode can lose): `.maxLength(n)` adds `MAXLEN ~ n` to every `XADD`;
        /// `.safe` trims in the background every `safeTrimInterval` publishes per stream.
        public var retention: RetentionPolicy
        /// Publishes to one stream between two safe trims.
        public var safeTrimInterval: Int

        public init(
            streamName: @escaping @Sendable (String) -> String = { "\($0)-events" },
            retention: RetentionPolicy = .none, safeTrimInterval: Int = 1000
        ) {
            self.streamName = streamName
            self.retention = retention
            self.safeTrimInterval = safeTrimInterval
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

    public init(client: RedisClient, configuration: Configuration = Configuration(), logger: Logger = Logger(label: "event-publisher")) {
        self.client = client
        self.configuration = configuration
        self.logger = logger
        self.counters = PublishCounters()
        if case .safe(let maxLength) = configuration.retention {
            trimmer = SafeTrimScheduler(
                client: client, maxLength: maxLength, interval: configuration.safeTrimInterval, logger: logger)
        } else {
            trimmer = nil
        }
    }

    /// The stream events of this aggregate type go to.
    public func stream(for aggregateType: String) -> String {
        configuration.streamName(aggregateType)
    }

    /// Publishes one event and returns its stream entry id.
    @discardableResult
    public func publish<Event: DomainEvent>(_ event: Event, context: EventContext = EventContext()) async throws
        -> StreamEntryID
    {
        let command = try xaddCommand(for: event, context: context)
        let id = try await client.entryIDs([command])[0]
        published(1, of: Event.self)
        logger.debug(
            "Published event",
            metadata: [
                "event.type": "\(Event.eventType)", "event.aggregate_id": "\(event.aggregateID)",
                "redis.stream": "\(stream(for: Event.aggregateType))", "redis.entry_id": "\(id)",
            ])
        return id
    }

    /// Publishes events of one type in one pipelined round trip, in order; returns their
    /// entry ids. If Redis rejects one of them, the error is thrown after the whole batch
    /// was sent (the others were appended).
    @discardableResult
    public func publish<Event: DomainEvent>(_ events: [Event], context: EventContext = EventContext()) async throws
        -> [StreamEntryID]
    {
        let ids = try await send(events.map { try xaddCommand(for: $0, context: context) })
        published(events.count, of: Event.self)
        return ids
    }

    /// Publishes events of any types in one pipelined round trip, in order; returns their
    /// entry ids. If Redis rejects one of them, the error is thrown after the whole batch
    /// was sent (the others were appended).
    @discardableResult
    public func publish(_ events: [any DomainEvent], context: EventContext = EventContext()) async throws
        -> [StreamEntryID]
    {
        let ids = try await send(events.map { try xaddCommand(for: $0, context: context) })
        for event in events { published(1, of: type(of: event)) }
        return ids
    }

    /// Counts events appended with `xaddCommand` inside a caller's own transaction or script
    /// (`publish` counts its own), so `events_published_total` stays true.
    public func recordPublished(_ count: Int = 1, of type: any DomainEvent.Type) {
        published(count, of: type)
    }

    private func published(_ count: Int, of type: any DomainEvent.Type) {
        let stream = stream(for: type.aggregateType)
        counters.increment(stream: stream, eventType: type.eventType, by: count)
        trimmer?.published(count, to: stream)
    }

    /// Sends a batch of `XADD`s in one pipeline.
    private func send(_ commands: [RedisCommand]) async throws -> [StreamEntryID] {
        guard !commands.isEmpty else { return [] }
        let ids = try await client.entryIDs(commands)
        logger.debug("Published events", metadata: ["event.count": "\(commands.count)"])
        return ids
    }

    /// The `XADD` command that publishes `event`, for use inside a `MULTI`/`EXEC` that also
    /// changes state (state and event written atomically).
    public func xaddCommand<Event: DomainEvent>(for event: Event, context: EventContext = EventContext()) throws
        -> RedisCommand
    {
        try EventEncoding.xadd(
            event, stream: stream(for: Event.aggregateType), context: context,
            approximateMaxLength: configuration.approximateMaxLength)
    }

    /// The `XADD` that appends `event` to `stream` (not its aggregate type's stream): for
    /// commands sent to a participant's command stream from inside a script.
    public func xaddCommand<Event: DomainEvent>(for event: Event, stream: String, context: EventContext = EventContext()) throws
        -> RedisCommand
    {
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
