import RedisClient

/// Where a consumer group's dead letters live, and what a dead letter holds.
///
/// A dead letter is an entry of the stream `<stream>:dlq:<group>` holding every field of
/// the original entry unchanged (in order; bytes as they were, even invalid UTF-8)
/// followed by the `dlq_*` fields below. It is written in the same `MULTI`/`EXEC` (or Lua
/// script) as the `XACK` of the original: an event is either pending in its group or in
/// its dead letters, never neither.
public enum DeadLetter {
    /// `<stream>:dlq:<group>`: a hash tag in the stream's name (`{orders}`) carries over.
    public static func streamKey(stream: String, group: String) -> String {
        "\(stream):dlq:\(group)"
    }

    /// The stream and group of a dead-letter key, or nil for a key that is not one
    /// (the last `:dlq:` separates them, so stream names may contain `:`).
    public static func parse(key: String) -> (stream: String, group: String)? {
        guard let range = key.range(of: ":dlq:", options: .backwards) else { return nil }
        let stream = String(key[..<range.lowerBound])
        let group = String(key[range.upperBound...])
        guard !stream.isEmpty, !group.isEmpty else { return nil }
        return (stream, group)
    }

    /// The fields a dead letter adds to the original's.
    public enum Field {
        /// The stream the event was read from.
        public static let stream = "dlq_stream"
        /// The original entry id in that stream.
        public static let entryID = "dlq_entry_id"
        public static let group = "dlq_group"
        /// The consumer that gave up on it.
        public static let consumer = "dlq_consumer"
        /// How many times it was delivered.
        public static let deliveries = "dlq_deliveries"
        /// A `DeadLetter.Reason` raw value.
        public static let reason = "dlq_reason"
        /// The last error, as text.
        public static let error = "dlq_error"
        /// When it was dead-lettered, RFC 3339 (UTC, microseconds).
        public static let failedAt = "dlq_failed_at"

        /// Every `dlq_*` field, in the order they are written.
        public static let all = [stream, entryID, group, consumer, deliveries, reason, error, failedAt]
        /// The prefix shared by the fields above; replay drops the fields that carry it.
        public static let prefix = "dlq_"
    }

    /// Why an event was dead-lettered.
    public enum Reason: String, Sendable, CaseIterable, Codable {
        /// The handler failed on every delivery up to the maximum.
        case maxDeliveries = "max_deliveries"
        /// Envelope fields missing or invalid, `data` not valid JSON for the type, invalid
        /// UTF-8, or larger than the consumer accepts: dead-lettered on first sight.
        case undecodable
        /// No handler for `event_type` (when the consumer dead-letters unknown types).
        case unknownType = "unknown_type"
        /// `event_version` newer than the handler accepts.
        case unsupportedVersion = "unsupported_version"
        /// The entry was trimmed or deleted while pending: only its id is known.
        case deleted
    }

    /// The field added to a replayed event: the entry id it had when dead-lettered.
    public static let replayedFromField = "meta.replayed_from"

    /// The field added to a replayed event: the group that dead-lettered it. Only that group
    /// handles the replayed entry; every other group on the stream acknowledges it unhandled
    /// (it handled the original long ago).
    public static let replayForGroupField = "meta.replay_for_group"
    /// `replayForGroupField` as an envelope metadata key.
    static let replayForGroupMetadataKey = "replay_for_group"
}
