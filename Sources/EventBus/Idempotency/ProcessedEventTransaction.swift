import RedisClient

/// The atomic step of a transactional handler: its writes, the processed-event marker and
/// the `XACK`, in one Lua script.
///
/// The script checks the marker first: when it exists (the event was already applied by an
/// earlier delivery), the writes are skipped and the entry is only acknowledged. So the
/// writes happen exactly once per event id while the marker lives, whatever the number of
/// deliveries and wherever a consumer dies (before the script nothing happened; after it,
/// everything did).
enum ProcessedEventTransaction {
    /// `<group>:processed:<event_id>`.
    static func markerKey(group: String, eventID: String) -> String {
        "\(group):processed:\(eventID)"
    }

    static let script = RedisScript(
        """
        -- KEYS[1] stream, KEYS[2] marker; ARGV[1] group, ARGV[2] entry id, ARGV[3] marker TTL (ms),
        -- then the writes, each as its argument count followed by its arguments.
        local applied = 0
        if redis.call('EXISTS', KEYS[2]) == 0 then
          local i = 4
          while i <= #ARGV do
            local n = tonumber(ARGV[i])
            redis.call(unpack(ARGV, i + 1, i + n))
            i = i + n + 1
          end
          redis.call('SET', KEYS[2], 'done', 'PX', ARGV[3])
          applied = 1
        end
        redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
        return applied
        """)

    /// Applies `writes` once for `raw`'s event and acknowledges it. Returns false when an
    /// earlier delivery had already applied them.
    @discardableResult
    static func commit(_ writes: [RedisCommand], for raw: RawEvent, context: HandlingContext) async throws -> Bool {
        let marker = markerKey(group: context.group, eventID: raw.envelope.eventID)
        let reply = try await context.client.run(script, keys: [raw.stream, marker]) { command in
            command.append(context.group)
            command.append(raw.entryID)
            command.append(Int(context.processedMarkerTTL.nanoseconds / 1_000_000))
            for write in writes {
                command.append(write.argumentCount)
                command.append(argumentsOf: write)
            }
        }
        return reply.int == 1
    }
}
