import Metrics

/// The consumer's swift-metrics instruments, made once at start.
///
/// By `stream`, `group` and `event_type`:
/// `events_handled_total` (handler succeeded, acknowledged), `events_failed_total` (handler
/// failed: left pending for a retry or dead-lettered), `event_handler_duration_seconds`
/// (a histogram of every handler run, successful or not; its `_count` is handled + failed).
///
/// By `stream` and `group`: `events_undecodable_total`, `events_unknown_type_total`,
/// `events_skipped_total` (unwanted types acknowledged without handling),
/// `events_dead_lettered_total` (moved to the dead-letter stream, for any reason),
/// `events_reclaimed_total` (claimed from the pending list for a retry or from a stopped
/// consumer), `event_redeliveries_total` (handler runs of an entry delivered before: its
/// delivery count is above 1), `events_superseded_total` (a transactional commit or a
/// dead letter skipped, nothing written, because the entry was no longer pending to this
/// consumer: another consumer took it, or it was settled meanwhile), `events_deferred_total`
/// (deliveries refused because another delivery holds the event's idempotency lease: not
/// counted as failed, their delivery count set back).
struct ConsumerMetrics: Sendable {
    struct PerType: Sendable {
        let handled: Counter
        let failed: Counter
        let duration: Timer
    }

    let undecodable: Counter
    let unknownType: Counter
    let skipped: Counter
    let deadLettered: Counter
    let reclaimed: Counter
    let redelivered: Counter
    let superseded: Counter
    let deferred: Counter
    private let byType: [String: PerType]
    private let fallback: PerType

    init(stream: String, group: String, eventTypes: [String]) {
        func make(_ type: String) -> PerType {
            let dimensions = [("stream", stream), ("group", group), ("event_type", type)]
            return PerType(
                handled: Counter(label: "events_handled_total", dimensions: dimensions),
                failed: Counter(label: "events_failed_total", dimensions: dimensions),
                duration: Timer(label: "event_handler_duration_seconds", dimensions: dimensions, preferredDisplayUnit: .seconds))
        }
        var byType: [String: PerType] = [:]
        for type in eventTypes { byType[type] = make(type) }
        self.byType = byType
        self.fallback = make("other")
        undecodable = Counter(label: "events_undecodable_total", dimensions: [("stream", stream), ("group", group)])
        unknownType = Counter(label: "events_unknown_type_total", dimensions: [("stream", stream), ("group", group)])
        skipped = Counter(label: "events_skipped_total", dimensions: [("stream", stream), ("group", group)])
        deadLettered = Counter(label: "events_dead_lettered_total", dimensions: [("stream", stream), ("group", group)])
        reclaimed = Counter(label: "events_reclaimed_total", dimensions: [("stream", stream), ("group", group)])
        redelivered = Counter(label: "event_redeliveries_total", dimensions: [("stream", stream), ("group", group)])
        superseded = Counter(label: "events_superseded_total", dimensions: [("stream", stream), ("group", group)])
        deferred = Counter(label: "events_deferred_total", dimensions: [("stream", stream), ("group", group)])
    }

    func forType(_ type: String) -> PerType { byType[type] ?? fallback }
}
