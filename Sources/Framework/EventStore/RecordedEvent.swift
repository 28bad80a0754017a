import EventBus
import RedisClient

/// One event of an aggregate's history: its version (1 for the aggregate's first event),
/// its envelope, and its data after upcasting (`envelope.eventVersion` is the version the
/// data now has).
public struct RecordedEvent: Sendable {
    public let version: Int
    public var envelope: EventEnvelope
    public var data: [UInt8]

    public init(version: Int, envelope: EventEnvelope, data: [UInt8]) {
        self.version = version
        self.envelope = envelope
        self.data = data
    }

    /// The data decoded as `Event` (with its own version tolerance, after the upcasters).
    public func decode<Event: DomainEvent>(_ type: Event.Type) throws -> Event {
        try Event.decode(from: data[...], version: envelope.eventVersion)
    }

    init(historyEntry entry: StreamEntry, stream: String) throws {
        let raw = try RawEvent(stream: stream, entry: entry)
        guard entry.id.milliseconds == 0, entry.id.sequence > 0 else {
            throw EventStoreError.corrupt("history entry \(entry.id) of \(stream) is not 0-<version>")
        }
        self.init(version: Int(entry.id.sequence), envelope: raw.envelope, data: Array(raw.data))
    }
}

/// What an event store refuses.
public enum EventStoreError: Error, Equatable, CustomStringConvertible {
    /// The aggregate was at `actual`, not at the version the change was computed from.
    case conflict(expected: Int, actual: Int)
    /// Stored data that cannot be read back.
    case corrupt(String)

    public var description: String {
        switch self {
        case .conflict(let expected, let actual): "expected version \(expected), but the aggregate is at version \(actual)"
        case .corrupt(let message): message
        }
    }
}
