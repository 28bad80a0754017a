import EventCodec
import Logging
import Metrics
import RedisClient

/// One event the consumer gives up on, with why.
struct DeadLetterRequest: Sendable {
    /// The entry as read (fields absent when it was deleted while pending).
    let entry: StreamEntry
    let reason: DeadLetter.Reason
    let error: String
    let deliveries: Int
}

/// Moves entries to their group's dead letters, with one Lua script per batch of entries:
/// for each entry, `XADD <stream>:dlq:<group>` of the original fields and the `dlq_*` fields
/// (`DeadLetter.Field`), and the `XACK` of the original.
///
/// Guarantees:
/// - Only what this delivery still holds: an entry is dead-lettered only if it is pending to
///   this consumer (`XPENDING <stream> <group> <id> <id> 1 <consumer>`) and its `XACK`
///   removed it (replied 1); only then is the dead letter added. An entry that another
///   consumer claimed meanwhile, or that was acknowledged already (a transactional commit
///   that applied it although its reply was lost), is left alone and reported `superseded`:
///   an event is never both applied and dead-lettered, nor dead-lettered twice.
/// - Atomic per entry: the acknowledgement and the dead letter both happen or neither. What
///   can fail is checked before the first write (the dead-letter key must be a stream or
///   absent; a missing group or a stream key of another type makes the first `XPENDING`
///   fail), and the `#!lua` form makes Redis refuse the whole script under `maxmemory`
///   before it starts: the entries then stay pending, to be tried again by the reclaim loop.
struct DeadLetterWriter: Sendable {
    let stream: String
    let group: String
    let consumer: String
    /// Counts the entries left alone because they were no longer this consumer's.
    var supersededCounter: Counter? = nil

    var deadLetterStream: String { DeadLetter.streamKey(stream: stream, group: group) }

    /// Entries per script call: bounds the script's run time.
    static let maximumBatch = 100

    /// Writes the dead letters; returns the ids moved (the others stay pending, or were no
    /// longer this consumer's).
    func write(_ requests: [DeadLetterRequest], client: RedisClient, logger: Logger) async -> [StreamEntryID] {
        guard !requests.isEmpty else { return [] }
        let failedAt = RFC3339.string(microsecondsSinceEpoch: RFC3339.nowMicroseconds())
        var moved: [StreamEntryID] = []
        var start = 0
        while start < requests.count {
            let chunk = requests[start..<min(start + Self.maximumBatch, requests.count)]
            moved += await write(chunk, failedAt: failedAt, client: client, logger: logger)
            start += chunk.count
        }
        return moved
    }

    private func write(
        _ requests: ArraySlice<DeadLetterRequest>, failedAt: String, client: RedisClient, logger: Logger
    ) async -> [StreamEntryID] {
        let results: [Bool]
        do {
            let moved = try await client.run(Self.script, keys: [stream, deadLetterStream], as: ScriptFlags.self) { command in
                command.append(group)
                command.append(consumer)
                command.append(failedAt)
                for request in requests {
                    command.append(request.entry.id)
                    command.append(request.deliveries)
                    command.append(request.reason.rawValue)
                    command.append(request.error)
                    command.append(request.entry.fieldCount * 2)
                    request.entry.forEachFieldBytes { name, value in
                        command.append(name)
                        command.append(value)
                    }
                }
            }
            guard moved.flags.count == requests.count else {
                throw EventBusError(.unexpectedReply, "\(Self.script.name) replied \(moved.flags.count) flags for \(requests.count) entries")
            }
            results = moved.flags
        } catch {
            logger.error(
                "Could not write dead letters; the events stay pending and are tried again",
                metadata: ["error": "\(error)", "event.count": "\(requests.count)", "dlq.stream": "\(deadLetterStream)"])
            return []
        }
        var moved: [StreamEntryID] = []
        for (request, result) in zip(requests, results) {
            var metadata: Logger.Metadata = [
                "redis.entry_id": "\(request.entry.id)", "dlq.reason": "\(request.reason.rawValue)",
                "dlq.deliveries": "\(request.deliveries)", "error": "\(request.error)",
                "dlq.stream": "\(deadLetterStream)", "redis.stream": "\(stream)", "consumer.group": "\(group)",
            ]
            if let type = request.entry.string(named: EventStreamFields.eventType) { metadata["event.type"] = "\(type)" }
            if let id = request.entry.string(named: EventStreamFields.eventID) { metadata["event.id"] = "\(id)" }
            if let id = request.entry.string(named: EventStreamFields.aggregateID) { metadata["event.aggregate_id"] = "\(id)" }
            if let id = request.entry.string(named: EventStreamFields.correlationID) { metadata["event.correlation_id"] = "\(id)" }
            if result {
                moved.append(request.entry.id)
                metadata["outcome"] = "dead_lettered"
                logger.error("Event moved to the dead letters", metadata: metadata)
            } else {
                supersededCounter?.increment()
                metadata["outcome"] = "superseded"
                logger.warning(
                    "Not dead-lettered: the entry is no longer pending to this consumer (another consumer claimed it, or it was acknowledged already, e.g. by a commit whose reply was lost)",
                    metadata: metadata)
            }
        }
        return moved
    }

    /// KEYS[1] stream, KEYS[2] dead letters; ARGV[1] group, ARGV[2] consumer, ARGV[3] failed
    /// at (RFC 3339); then per entry: id, deliveries, reason, error, the number of field
    /// arguments, the fields (name, value, ...). Replies per entry 1 (moved) or 0 (not pending
    /// to ARGV[2]: nothing written).
    /// The script is `DeadLetters/write-dead-letters.lua` (its header: KEYS, ARGV, reply, what it checks before writing).
    static let script = LuaScripts.writeDeadLetters
}

extension StreamEntry {
    /// Calls `body` with each field's name and value bytes, in order.
    func forEachFieldBytes(_ body: (ArraySlice<UInt8>, ArraySlice<UInt8>) -> Void) {
        for index in 0..<fieldCount { body(name(at: index), value(at: index)) }
    }
}
