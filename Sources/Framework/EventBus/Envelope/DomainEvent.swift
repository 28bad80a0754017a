import EventCodec

/// A domain event: something that happened to one aggregate, named in the past tense
/// (`todo.created`, `todo.title_changed`), carrying the state its consumers need.
///
/// Its own fields travel as one JSON object in the stream entry's `data` field; the
/// envelope (`event_id`, `event_type`, `event_version`, aggregate, timestamp,
/// correlation and causation ids, metadata) travels in flat fields beside it.
///
/// Versioning: `schemaVersion` is written with every new event. A consumer decodes entries
/// written with any version up to its own `schemaVersion` through `decode(from:version:)`,
/// which a type overrides to read the older shapes; a newer version than it knows is
/// rejected as unsupported rather than misread.
public protocol DomainEvent: Codable, Sendable {
    /// The event's name on the wire, e.g. `todo.created`.
    static var eventType: String { get }
    /// The kind of aggregate it belongs to, e.g. `todo`; the default stream is `<aggregateType>-events`.
    static var aggregateType: String { get }
    /// The schema version this type writes (1 unless overridden).
    static var schemaVersion: Int { get }
    /// The aggregate instance this event belongs to; ordering is kept per aggregate.
    var aggregateID: String { get }
    /// What chooses the event's partition when streams are partitioned (`StreamPartitions`):
    /// the aggregate id unless the type names another key. Events with one partition key go
    /// to one partition, in publish order.
    var partitionKey: String { get }
    /// Decodes an event written with schema `version` from its `data` JSON.
    static func decode(from data: ArraySlice<UInt8>, version: Int) throws -> Self
}

extension DomainEvent {
    public static var schemaVersion: Int { 1 }

    public var partitionKey: String { aggregateID }

    /// The default: the current shape, for any version up to `schemaVersion`.
    public static func decode(from data: ArraySlice<UInt8>, version: Int) throws -> Self {
        guard version <= schemaVersion else {
            throw EventBusError(
                .unsupportedVersion,
                "\(eventType) version \(version) is newer than the newest this consumer knows (\(schemaVersion))")
        }
        return try EventDataDecoder().decode(Self.self, from: data)
    }
}
