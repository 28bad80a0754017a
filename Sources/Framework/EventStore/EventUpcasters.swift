import Foundation

/// Turns stored events of old schema versions into the current one before anyone sees them:
/// an upcaster takes an event type's data at version N (a JSON object) to version N+1;
/// loading applies them in a chain until no upcaster applies.
public struct EventUpcasters: Sendable {
    public typealias Transform = @Sendable (_ data: inout [String: Any]) throws -> Void

    private var byKey: [String: Transform] = [:]

    public init() {}

    /// Registers the step from `version` to `version + 1` of `eventType`.
    public mutating func register(_ eventType: String, from version: Int, _ transform: @escaping Transform) {
        byKey["\(eventType)#\(version)"] = transform
    }

    /// `event` with its data at the newest version the upcasters reach.
    public func upcast(_ event: RecordedEvent) throws -> RecordedEvent {
        var event = event
        while let transform = byKey["\(event.envelope.eventType)#\(event.envelope.eventVersion)"] {
            guard let object = try JSONSerialization.jsonObject(with: Data(event.data)) as? [String: Any] else {
                throw EventStoreError.corrupt("\(event.envelope.eventType) v\(event.envelope.eventVersion): data is not a JSON object")
            }
            var data = object
            try transform(&data)
            event.data = Array(try JSONSerialization.data(withJSONObject: data, options: [.sortedKeys]))
            event.envelope.eventVersion += 1
        }
        return event
    }
}
