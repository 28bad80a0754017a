import EventCodec
import Foundation

/// The common envelope of every event (the design's `BaseEvent`), stored as flat,
/// readable stream fields next to the event's own `data`.
public struct EventEnvelope: Sendable, Hashable {
    /// Unique id of this event (UUID); a redelivered event keeps it, so it is the
    /// idempotency key.
    public var eventID: String
    /// e.g. `todo.created`
    public var eventType: String
    /// The schema version the producer wrote.
    public var eventVersion: Int
    /// e.g. `todo`
    public var aggregateType: String
    public var aggregateID: String
    /// When the event happened: microseconds since 1970 (UTC).
    public var timestampMicroseconds: Int64
    /// One business flow (e.g. the HTTP request that started it); copied to every event it causes.
    public var correlationID: String
    /// The event or request that directly caused this one.
    public var causationID: String
    /// W3C trace context of the publishing span, when tracing is on.
    public var traceparent: String?
    /// Free-form string metadata, stored as `meta.<key>` fields.
    public var metadata: [String: String]

    public init(
        eventID: String, eventType: String, eventVersion: Int, aggregateType: String, aggregateID: String,
        timestampMicroseconds: Int64, correlationID: String, causationID: String, traceparent: String? = nil,
        metadata: [String: String] = [:]
    ) {
        self.eventID = eventID
        self.eventType = eventType
        self.eventVersion = eventVersion
        self.aggregateType = aggregateType
        self.aggregateID = aggregateID
        self.timestampMicroseconds = timestampMicroseconds
        self.correlationID = correlationID
        self.causationID = causationID
        self.traceparent = traceparent
        self.metadata = metadata
    }

    /// `timestamp` as a `Date`.
    public var timestamp: Date {
        Date(timeIntervalSince1970: Double(timestampMicroseconds) / 1_000_000)
    }

    /// `timestamp` as RFC 3339 text, as stored in the stream.
    public var timestampText: String { RFC3339.string(microsecondsSinceEpoch: timestampMicroseconds) }
}

/// What a publisher attaches to the events it publishes: the flow they belong to and
/// what caused them.
public struct EventContext: Sendable, Hashable {
    /// nil: a new flow starts here and gets a new id.
    public var correlationID: String?
    /// nil: the event is its flow's first cause (the correlation id is used).
    public var causationID: String?
    public var traceparent: String?
    public var metadata: [String: String]

    public init(
        correlationID: String? = nil, causationID: String? = nil, traceparent: String? = nil,
        metadata: [String: String] = [:]
    ) {
        self.correlationID = correlationID
        self.causationID = causationID
        self.traceparent = traceparent
        self.metadata = metadata
    }

    /// This context with a new correlation id when it has none: the id a new flow would get
    /// when published, made here so that the publisher can log it.
    func startingAFlow() -> EventContext {
        guard correlationID == nil else { return self }
        var context = self
        context.correlationID = EventID.generate()
        return context
    }

    /// The context for events caused by handling `envelope`: same flow, caused by that event.
    public static func causedBy(_ envelope: EventEnvelope, metadata: [String: String] = [:]) -> EventContext {
        EventContext(
            correlationID: envelope.correlationID, causationID: envelope.eventID, traceparent: envelope.traceparent,
            metadata: metadata)
    }
}
