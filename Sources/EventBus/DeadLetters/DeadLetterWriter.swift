import EventCodec
import Logging
import RedisClient

/// One event the consumer gives up on, with why.
struct DeadLetterRequest: Sendable {
    /// The entry as read (fields absent when it was deleted while pending).
    let entry: StreamEntry
    let reason: DeadLetter.Reason
    let error: String
    let deliveries: Int
}

/// Moves entries to their group's dead letters: for each, `MULTI`, `XADD <stream>:dlq:<group>`
/// with the original fields and the `dlq_*` fields, `XACK` of the original, `EXEC`.
///
/// Atomic per entry: either both the dead letter and the acknowledgement happen, or neither
/// (an `XADD` refused under `maxmemory` aborts the transaction and the original stays pending,
/// to be tried again by the reclaim loop).
struct DeadLetterWriter: Sendable {
    let stream: String
    let group: String
    let consumer: String

    var deadLetterStream: String { DeadLetter.streamKey(stream: stream, group: group) }

    /// Writes the dead letters; returns the ids moved (the others stay pending).
    func write(_ requests: [DeadLetterRequest], client: RedisClient, logger: Logger) async -> [StreamEntryID] {
        guard !requests.isEmpty else { return [] }
        var commands: [RedisCommand] = []
        commands.reserveCapacity(requests.count * 4)
        let failedAt = RFC3339.string(microsecondsSinceEpoch: RFC3339.nowMicroseconds())
        for request in requests {
            commands.append(RedisCommand("MULTI"))
            commands.append(xadd(request, failedAt: failedAt))
            commands.append(.xack(stream, group: group, ids: [request.entry.id]))
            commands.append(RedisCommand("EXEC"))
        }
        let replies: [RedisReply]
        do {
            replies = try await client.pipeline(commands)
        } catch {
            logger.error(
                "Could not write dead letters; the events stay pending and are tried again",
                metadata: ["error": "\(error)", "event.count": "\(requests.count)"])
            return []
        }
        var moved: [StreamEntryID] = []
        for (index, request) in requests.enumerated() {
            let exec = replies[index * 4 + 3]
            var metadata: Logger.Metadata = [
                "redis.entry_id": "\(request.entry.id)", "dlq.reason": "\(request.reason.rawValue)",
                "dlq.deliveries": "\(request.deliveries)", "error": "\(request.error)",
                "dlq.stream": "\(deadLetterStream)", "redis.stream": "\(stream)", "consumer.group": "\(group)",
                "outcome": "dead_lettered",
            ]
            if let type = request.entry.string(named: EventStreamFields.eventType) { metadata["event.type"] = "\(type)" }
            if let id = request.entry.string(named: EventStreamFields.eventID) { metadata["event.id"] = "\(id)" }
            if let id = request.entry.string(named: EventStreamFields.aggregateID) { metadata["event.aggregate_id"] = "\(id)" }
            if let id = request.entry.string(named: EventStreamFields.correlationID) { metadata["event.correlation_id"] = "\(id)" }
            if exec.array != nil {
                moved.append(request.entry.id)
                logger.error("Event moved to the dead letters", metadata: metadata)
            } else {
                metadata["redis.error"] = "\(replies[index * 4 + 1]) / \(exec)"
                logger.error("Could not write dead letter; the event stays pending and is tried again", metadata: metadata)
            }
        }
        return moved
    }

    private func xadd(_ request: DeadLetterRequest, failedAt: String) -> RedisCommand {
        var command = RedisCommand.xadd(deadLetterStream, approximateMaxLength: nil, capacity: 512)
        request.entry.forEachFieldBytes { name, value in
            command.append(name)
            command.append(value)
        }
        command.append(DeadLetter.Field.stream)
        command.append(stream)
        command.append(DeadLetter.Field.entryID)
        command.append(request.entry.id)
        command.append(DeadLetter.Field.group)
        command.append(group)
        command.append(DeadLetter.Field.consumer)
        command.append(consumer)
        command.append(DeadLetter.Field.deliveries)
        command.append(request.deliveries)
        command.append(DeadLetter.Field.reason)
        command.append(request.reason.rawValue)
        command.append(DeadLetter.Field.error)
        command.append(request.error)
        command.append(DeadLetter.Field.failedAt)
        command.append(failedAt)
        return command
    }
}

extension StreamEntry {
    /// Calls `body` with each field's name and value bytes, in order.
    func forEachFieldBytes(_ body: (ArraySlice<UInt8>, ArraySlice<UInt8>) -> Void) {
        for index in 0..<fieldCount { body(name(at: index), value(at: index)) }
    }
}
