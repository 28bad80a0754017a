import RedisClient

/// One dead letter as `DeadLetterStore.show` reads it: the original event's fields
/// (bytes exactly as they were, and as text) and the `dlq_*` fields, parsed.
///
/// Every `dlq_*` property is optional: a dead letter written by hand or by another
/// version may lack some; nothing is invented.
public struct DeadLetterRecord: Sendable {
    /// A field of the original entry. `name`/`value` are the stored bytes (which may be
    /// invalid UTF-8); `nameText`/`valueText` are the same decoded with invalid sequences
    /// replaced by U+FFFD.
    public struct Field: Sendable, Hashable {
        public let name: [UInt8]
        public let value: [UInt8]
        public var nameText: String { String(decoding: name, as: UTF8.self) }
        public var valueText: String { String(decoding: value, as: UTF8.self) }
        /// True when the value is valid UTF-8 (so `valueText` is exact).
        public var isValueValidUTF8: Bool { String(validating: value, as: UTF8.self) != nil }
    }

    /// The dead letter's own entry id in `<stream>:dlq:<group>`.
    public let id: StreamEntryID
    /// Every field not starting with `dlq_`, in the order they were stored.
    public let originalFields: [Field]
    /// `dlq_stream`: the stream the event was read from.
    public let originalStream: String?
    /// `dlq_entry_id`: the event's entry id in that stream.
    public let originalEntryID: StreamEntryID?
    /// `dlq_group`
    public let group: String?
    /// `dlq_consumer`: the consumer that gave up on it.
    public let consumer: String?
    /// `dlq_deliveries`
    public let deliveries: Int?
    /// `dlq_reason` as written (a `DeadLetter.Reason` raw value, or an unknown one).
    public let reasonText: String?
    /// `dlq_error`: the last error text.
    public let error: String?
    /// `dlq_failed_at`, RFC 3339.
    public let failedAt: String?
    /// The original `event_type` and `event_id`, when present.
    public let eventType: String?
    public let eventID: String?
    /// The dead-letter stream it was read from (`<stream>:dlq:<group>`; with partitions,
    /// `<stream>:{<tag>}:dlq:<group>`), set by `DeadLetterStore`; nil for a record made
    /// from an entry directly.
    public internal(set) var deadLetterStream: String?

    /// `dlq_reason` as a known reason, nil when missing or unknown.
    public var reason: DeadLetter.Reason? { reasonText.flatMap(DeadLetter.Reason.init(rawValue:)) }

    /// Reads a dead-letter entry.
    public init(entry: StreamEntry) {
        id = entry.id
        var original: [Field] = []
        var dlq: [String: String] = [:]
        let prefix = Array(DeadLetter.Field.prefix.utf8)
        for index in 0..<entry.fieldCount {
            let name = entry.name(at: index)
            if name.starts(with: prefix) {
                dlq[String(decoding: name, as: UTF8.self)] = String(decoding: entry.value(at: index), as: UTF8.self)
            } else {
                original.append(Field(name: Array(name), value: Array(entry.value(at: index))))
            }
        }
        originalFields = original
        originalStream = dlq[DeadLetter.Field.stream]
        originalEntryID = dlq[DeadLetter.Field.entryID].flatMap { StreamEntryID($0) }
        group = dlq[DeadLetter.Field.group]
        consumer = dlq[DeadLetter.Field.consumer]
        deliveries = dlq[DeadLetter.Field.deliveries].flatMap { Int($0) }
        reasonText = dlq[DeadLetter.Field.reason]
        error = dlq[DeadLetter.Field.error]
        failedAt = dlq[DeadLetter.Field.failedAt]
        func text(_ name: String) -> String? {
            original.first { $0.name.elementsEqual(name.utf8) }?.valueText
        }
        eventType = text(EventStreamFields.eventType)
        eventID = text(EventStreamFields.eventID)
    }
}

/// One dead-letter stream as `DeadLetterStore.list` finds it.
public struct DeadLetterStreamSummary: Sendable, Hashable {
    /// The original stream.
    public let stream: String
    /// The consumer group whose dead letters these are.
    public let group: String
    /// `<stream>:dlq:<group>`
    public let key: String
    /// Number of dead letters.
    public let count: Int
    /// Number of dead letters per `dlq_reason` value as written (`""` when missing).
    public let countsByReason: [String: Int]
    /// The partition of `stream` these dead letters belong to, for one partition's dead
    /// letters (an entry of `partitions`); nil otherwise.
    public internal(set) var partition: Int? = nil
    /// `DeadLetterStore.list(partitions:)`: for the dead letters of a partitioned stream (then
    /// `stream` is the stream's name, `key` the pattern `<stream>:{*}:dlq:<group>`, and the
    /// counts are sums), each partition's dead-letter stream, in partition order. Empty for a
    /// plain dead-letter stream.
    public internal(set) var partitions: [DeadLetterStreamSummary] = []
}

/// What `DeadLetterStore.replay` did.
public struct DeadLetterReplayReport: Sendable, Hashable {
    /// A dead letter published again: its dead-letter id and the new entry's id.
    public struct Replayed: Sendable, Hashable {
        public let deadLetterID: StreamEntryID
        /// The event's id when it was dead-lettered (now its `meta.replayed_from`).
        public let originalEntryID: StreamEntryID?
        /// Its id in the original stream now.
        public let newEntryID: StreamEntryID
        /// The stream it was published to (with partitions: the partition stream it came from).
        public let stream: String
    }
    /// A dead letter left where it was, and why.
    public struct Skipped: Sendable, Hashable {
        public let deadLetterID: StreamEntryID
        public let reason: String
        /// The stream whose dead letters hold it (with partitions: its partition stream).
        public let stream: String
    }

    public internal(set) var replayed: [Replayed] = []
    public internal(set) var skipped: [Skipped] = []
    /// Dead letters left where they were because their original entry is older than the
    /// processed-marker lifetime given to `replay` (its event may have been applied and its
    /// marker expired: a replay could apply it twice), with why.
    public internal(set) var refused: [Skipped] = []
}

/// Which dead letters `DeadLetterStore.replay` takes.
public enum DeadLetterSelection: Sendable, Hashable {
    /// One dead letter, by its id in the dead-letter stream.
    case id(StreamEntryID)
    /// Every dead letter.
    case all
    /// Every dead letter with this `dlq_reason`.
    case reason(DeadLetter.Reason)
}
