import EventCodec
import RedisClient

/// Builds the `XADD` of an event: envelope fields as text, then `data` as JSON.
enum EventEncoding {
    static func xadd<Event: DomainEvent>(
        _ event: Event, stream: String, context: EventContext, approximateMaxLength: Int?
    ) throws -> RedisCommand {
        var data: [UInt8] = []
        data.reserveCapacity(256)
        do {
            try EventDataEncoder().encode(event, into: &data)
        } catch {
            throw EventBusError(.encodingFailed, "cannot encode \(Event.eventType): \(error)")
        }
        var command = RedisCommand.xadd(
            stream, approximateMaxLength: approximateMaxLength, capacity: 420 + data.count + stream.utf8.count)
        command.append(EventStreamFields.eventID)
        EventID.withNewID { command.append($0) }
        command.append(EventStreamFields.eventType)
        command.append(Event.eventType)
        command.append(EventStreamFields.eventVersion)
        command.append(Event.schemaVersion)
        command.append(EventStreamFields.aggregateType)
        command.append(Event.aggregateType)
        command.append(EventStreamFields.aggregateID)
        command.append(event.aggregateID)
        command.append(EventStreamFields.timestamp)
        var timestamp: [UInt8] = []
        timestamp.reserveCapacity(32)
        RFC3339.append(microsecondsSinceEpoch: RFC3339.nowMicroseconds(), to: &timestamp)
        command.append(timestamp)

        if let correlationID = context.correlationID {
            command.append(EventStreamFields.correlationID)
            command.append(correlationID)
            command.append(EventStreamFields.causationID)
            command.append(context.causationID ?? correlationID)
        } else {
            // A new flow starts here: a new correlation id, which is also the cause.
            EventID.withNewID { correlationID in
                command.append(EventStreamFields.correlationID)
                command.append(correlationID)
                command.append(EventStreamFields.causationID)
                if let causationID = context.causationID {
                    command.append(causationID)
                } else {
                    command.append(correlationID)
                }
            }
        }
        if let traceparent = context.traceparent {
            command.append(EventStreamFields.traceparent)
            command.append(traceparent)
        }
        if !context.metadata.isEmpty {
            for (key, value) in context.metadata.sorted(by: { $0.key < $1.key }) {
                command.append(EventStreamFields.metadataPrefix + key)
                command.append(value)
            }
        }
        command.append(EventStreamFields.data)
        command.append(data)
        return command
    }
}
