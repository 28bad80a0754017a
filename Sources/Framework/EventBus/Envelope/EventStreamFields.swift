import EventCodec
import RedisClient

/// The flat stream fields of an event entry, and their encoding and decoding.
///
/// An entry is: `event_id`, `event_type`, `event_version`, `aggregate_type`,
/// `aggregate_id`, `timestamp` (RFC 3339, UTC, microseconds), `correlation_id`,
/// `causation_id`, optional `traceparent`, optional `meta.<key>` fields, and `data` (the
/// event's own fields as one JSON object). Everything is text, readable with `redis-cli XRANGE`.
public enum EventStreamFields {
    public static let eventID = "event_id"
    public static let eventType = "event_type"
    public static let eventVersion = "event_version"
    public static let aggregateType = "aggregate_type"
    public static let aggregateID = "aggregate_id"
    public static let timestamp = "timestamp"
    public static let correlationID = "correlation_id"
    public static let causationID = "causation_id"
    public static let traceparent = "traceparent"
    public static let metadataPrefix = "meta."
    public static let data = "data"
}

/// An event as read from a stream: its envelope and its still-encoded `data`.
public struct RawEvent: Sendable {
    public let stream: String
    public let entryID: StreamEntryID
    public let envelope: EventEnvelope
    /// The event's own fields as JSON.
    public let data: ArraySlice<UInt8>

    /// Reads the envelope of `entry`. Throws `EventBusError(.undecodable)` naming the
    /// missing or invalid field.
    public init(stream: String, entry: StreamEntry) throws {
        guard !entry.isDeleted else {
            throw EventBusError(.undecodable, "entry \(entry.id) of \(stream) was deleted or trimmed")
        }
        var eventID: String?
        var eventType: String?
        var eventVersion: Int?
        var aggregateType: String?
        var aggregateID: String?
        var timestamp: Int64?
        var correlationID: String?
        var causationID: String?
        var traceparent: String?
        var metadata: [String: String] = [:]
        var dataIndex: Int?
        try entry.forEachField { index, name, value in
            switch FieldName(name) {
            case .eventID: eventID = try Self.text(value, EventStreamFields.eventID)
            case .eventType: eventType = try Self.text(value, EventStreamFields.eventType)
            case .eventVersion:
                guard let version = Self.positiveInt(value) else {
                    throw EventBusError(.undecodable, "field event_version is not a positive integer: '\(String(decoding: entry.value(at: index), as: UTF8.self))'")
                }
                eventVersion = version
            case .aggregateType: aggregateType = try Self.text(value, EventStreamFields.aggregateType)
            case .aggregateID: aggregateID = try Self.text(value, EventStreamFields.aggregateID)
            case .timestamp:
                // An Array (copied here, specialised): RFC3339's generic entry point then
                // takes it as is, where an ArraySlice went through the unspecialised copy.
                let text = Array(entry.value(at: index))
                guard let micros = RFC3339.parseMicroseconds(text) else {
                    throw EventBusError(.undecodable, "field timestamp is not RFC 3339: '\(String(decoding: text, as: UTF8.self))'")
                }
                timestamp = micros
            case .correlationID: correlationID = try Self.text(value, EventStreamFields.correlationID)
            case .causationID: causationID = try Self.text(value, EventStreamFields.causationID)
            case .traceparent: traceparent = try Self.text(value, EventStreamFields.traceparent)
            case .data: dataIndex = index
            case .metadata:
                let key = try Self.text(name.extracting(droppingFirst: EventStreamFields.metadataPrefix.utf8.count), "meta key")
                metadata[key] = try Self.text(value, "meta.\(key)")
            case .other: break
            }
        }
        func require<T>(_ value: T?, _ field: String) throws -> T {
            guard let value else { throw EventBusError(.undecodable, "entry \(entry.id) of \(stream) has no \(field) field") }
            return value
        }
        self.stream = stream
        self.entryID = entry.id
        self.data = entry.value(at: try require(dataIndex, EventStreamFields.data))
        self.envelope = EventEnvelope(
            eventID: try require(eventID, EventStreamFields.eventID),
            eventType: try require(eventType, EventStreamFields.eventType),
            eventVersion: try require(eventVersion, EventStreamFields.eventVersion),
            aggregateType: try require(aggregateType, EventStreamFields.aggregateType),
            aggregateID: try require(aggregateID, EventStreamFields.aggregateID),
            timestampMicroseconds: try require(timestamp, EventStreamFields.timestamp),
            correlationID: try require(correlationID, EventStreamFields.correlationID),
            causationID: try require(causationID, EventStreamFields.causationID),
            traceparent: traceparent, metadata: metadata)
    }

    /// The field's text; invalid UTF-8 is an error, never repaired. One validation pass
    /// (`UTF8Span`), then one copy into the String without validating again.
    private static func text(_ bytes: Span<UInt8>, _ field: String) throws -> String {
        do {
            return String(copying: try UTF8Span(validating: bytes))
        } catch {
            throw EventBusError(.undecodable, "field \(field) is not valid UTF-8")
        }
    }

    private static func positiveInt(_ bytes: Span<UInt8>) -> Int? {
        guard !bytes.isEmpty, bytes.count <= 9 else { return nil }
        var value = 0
        for index in bytes.indices {
            let byte = bytes[index]
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value > 0 ? value : nil
    }
}

/// Envelope field names recognised by their bytes (no String made per field).
private enum FieldName {
    case eventID, eventType, eventVersion, aggregateType, aggregateID, timestamp, correlationID, causationID
    case traceparent, data, metadata, other

    init(_ name: Span<UInt8>) {
        // The name's first 16 bytes packed into two words, compared with the known names
        // packed the same way once (the cases below have the name's length). Iterating a
        // String literal's `utf8` per field was 18 % of the envelope's parsing time, getting
        // its `utf8Span` 10 %; the generic `elementsEqual`, 2-3 % of a consumer's CPU.
        let packed = Packed(name, count: Swift.min(name.count, 16))
        let known = Self.known
        switch name.count {
        case 4 where packed == known.data: self = .data
        case 8 where packed == known.eventID: self = .eventID
        case 9 where packed == known.timestamp: self = .timestamp
        case 10 where packed == known.eventType: self = .eventType
        case 11 where packed == known.traceparent: self = .traceparent
        case 12 where packed == known.aggregateID: self = .aggregateID
        case 12 where packed == known.causationID: self = .causationID
        case 13 where packed == known.eventVersion: self = .eventVersion
        case 14 where packed == known.aggregateType: self = .aggregateType
        case 14 where packed == known.correlationID: self = .correlationID
        default:
            self = name.count > 5 && Packed(name, count: 5) == known.metadataPrefix ? .metadata : .other
        }
    }

    /// Up to 16 bytes, little-endian in two words (zero past `count`).
    private struct Packed: Equatable {
        var low: UInt64 = 0
        var high: UInt64 = 0

        init(_ bytes: Span<UInt8>, count: Int) {
            // Masking shifts (`&<<`): the shift is always below 64, and the checked `<<`
            // doubled the cost of this loop.
            var index = 0
            while index < count, index < 8 {
                low |= UInt64(bytes[index]) &<< UInt64(8 &* index)
                index &+= 1
            }
            while index < count {
                high |= UInt64(bytes[index]) &<< UInt64(8 &* (index &- 8))
                index &+= 1
            }
        }

        init(_ literal: String) {
            let bytes = literal.utf8Span.span
            self.init(bytes, count: bytes.count)
        }
    }

    private struct Known {
        let data = Packed(EventStreamFields.data)
        let eventID = Packed(EventStreamFields.eventID)
        let timestamp = Packed(EventStreamFields.timestamp)
        let eventType = Packed(EventStreamFields.eventType)
        let traceparent = Packed(EventStreamFields.traceparent)
        let aggregateID = Packed(EventStreamFields.aggregateID)
        let causationID = Packed(EventStreamFields.causationID)
        let eventVersion = Packed(EventStreamFields.eventVersion)
        let aggregateType = Packed(EventStreamFields.aggregateType)
        let correlationID = Packed(EventStreamFields.correlationID)
        let metadataPrefix = Packed(EventStreamFields.metadataPrefix)
    }

    private static let known = Known()
}
