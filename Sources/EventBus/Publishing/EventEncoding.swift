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
        var command = RedisCommand("XADD", capacity: 360 + data.count)
        command.append(stream)
        if let approximateMaxLength {
            command.append("MAXLEN")
            command.append("~")
            command.append(approximateMaxLength)
        }
        command.append("*")
        var scratch: [UInt8] = []
        scratch.reserveCapacity(40)

        command.append(EventStreamFields.eventID)
        EventID.append(to: &scratch)
        command.append(scratch)
        command.append(EventStreamFields.eventType)
        command.append(Event.eventType)
        command.append(EventStreamFields.eventVersion)
        command.append(Event.schemaVersion)
        command.append(EventStreamFields.aggregateType)
        command.append(Event.aggregateType)
        command.append(EventStreamFields.aggregateID)
        command.append(event.aggregateID)
        command.append(EventStreamFields.timestamp)
        scratch.removeAll(keepingCapacity: true)
        RFC3339.append(microsecondsSinceEpoch: RFC3339.nowMicroseconds(), to: &scratch)
        command.append(scratch)

        command.append(EventStreamFields.correlationID)
        let correlationID: String
        if let given = context.correlationID {
            correlationID = given
        } else {
            correlationID = EventID.generate()
        }
        command.append(correlationID)
        command.append(EventStreamFields.causationID)
        command.append(context.causationID ?? correlationID)
        if let traceparent = context.traceparent {
            command.append(EventStreamFields.traceparent)
            command.append(traceparent)
        }
        for (key, value) in context.metadata.sorted(by: { $0.key < $1.key }) {
            command.append(EventStreamFields.metadataPrefix + key)
            command.append(value)
        }
        command.append(EventStreamFields.data)
        command.append(data)
        return command
    }
}
