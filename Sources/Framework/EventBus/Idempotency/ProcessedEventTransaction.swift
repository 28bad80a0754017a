import RedisClient

/// The atomic step of a transactional handler: its writes, the processed-event marker and
/// the `XACK`, in one Lua script that is all or nothing.
///
/// The script checks the marker first: when it exists (the event was already applied by an
/// earlier delivery), the writes are skipped and the entry is only acknowledged. So the
/// writes happen exactly once per event id while the marker lives, whatever the number of
/// deliveries and wherever a consumer dies (before the script nothing happened; after it,
/// everything did).
///
/// Redis does not roll a script back, so before its first write the script checks
/// everything Redis could refuse: each write must be one of `supportedWrites`, with the
/// right number of arguments, on a key of the right type (or none), with numbers where
/// numbers are due (an increment's argument and the value it adds to). A failed check
/// answers an error and writes nothing. A script that writes is refused as a whole under
/// `maxmemory` (the `#!lua` flags make Redis check memory before it starts, not at each
/// write).
///
/// Ownership: in a consumer the script first checks that the entry is still pending to
/// this consumer (`XPENDING <stream> <group> <id> <id> 1 <consumer>`). When it is not (another
/// consumer claimed it while this one stalled, or it was dead-lettered or acknowledged
/// meanwhile) the script writes nothing and acknowledges nothing: the delivery is
/// superseded, and whoever holds the entry now settles it. So an event is never both applied
/// by one delivery and dead-lettered by another.
enum ProcessedEventTransaction {
    /// What a commit did.
    enum Result: Sendable, Equatable {
        /// The writes and the marker were written, and the entry acknowledged.
        case applied
        /// The marker was there (an earlier delivery applied the event): acknowledged only.
        case alreadyApplied
        /// The entry is no longer pending to this consumer: nothing written, nothing acknowledged.
        case superseded
    }

    /// `<group>:processed:<event_id>`.
    static func markerKey(group: String, eventID: String) -> String {
        "\(group):processed:\(eventID)"
    }

    /// The marker a transactional commit on `stream` writes: `<group>:processed:<event_id>`
    /// for a plain stream, `<group>:processed:{<tag>}:<event_id>` for a partition stream (in
    /// its slot, so the commit is one script on a cluster).
    static func markerKey(group: String, eventID: String, stream: String) -> String {
        StreamPartitions.colocatedKey("\(group):processed", eventID, with: stream)
    }

    /// The commands a transactional handler may return (their key is their first argument).
    static let supportedWrites = [
        "HSET", "HDEL", "HINCRBY", "HINCRBYFLOAT", "SET", "DEL", "INCR", "INCRBY", "DECR", "DECRBY", "INCRBYFLOAT",
        "SADD", "SREM", "ZADD", "ZREM", "ZINCRBY", "LPUSH", "RPUSH", "LTRIM", "XADD", "EXPIRE", "PEXPIRE",
    ]


    /// The script is `Idempotency/commit-event.lua` (its header: KEYS, ARGV, reply, what it checks before writing).
    static let script = LuaScripts.commitEvent

    /// Applies `writes` once for `raw`'s event and acknowledges it (see `Result`). Throws,
    /// having written nothing, when a write would fail (see the type's comment).
    @discardableResult
    static func commit(_ writes: [RedisCommand], for raw: RawEvent, context: HandlingContext) async throws -> Result {
        try await EventSpans.run(
            "apply once", ofKind: .client,
            describe: { span in
                span.attributes["db.system.name"] = "redis"
                span.attributes["db.operation.name"] = "EVALSHA"
                span.attributes["db.operation.batch.size"] = writes.count
            }
        ) {
            try await runScript(writes, for: raw, context: context)
        }
    }

    /// The script without a span (the batch path: it runs after the events' own spans ended).
    static func runScript(_ writes: [RedisCommand], for raw: RawEvent, context: HandlingContext) async throws -> Result {
        let marker = markerKey(group: context.group, eventID: raw.envelope.eventID, stream: raw.stream)
        return try await context.client.run(script, keys: [raw.stream, marker], as: Result.self) { command in
            command.append(context.group)
            command.append(raw.entryID)
            command.append(Int(context.processedMarkerTTL.nanoseconds / 1_000_000))
            command.append(context.consumer ?? "")
            for write in writes { command.append(countedArgumentsOf: write) }
        }
    }
}
