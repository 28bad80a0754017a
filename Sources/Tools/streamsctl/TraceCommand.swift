import ArgumentParser
import EventBus
import Foundation
import RedisClient

/// `streamsctl trace <correlation-id> [--since T] [--until T] [--max-entries N]`
struct TraceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Every event of one flow (by correlation id), as a tree by causation id, with each group's state.",
        discussion: """
            Reads every stream of the database (SCAN TYPE stream, on every master of a cluster, then \
            XRANGE in pages of 1000; every partition stream is a stream of its own) for \
            entries whose correlation_id is the argument: event streams, command and reply streams, \
            dead letters. An event is the child of the event whose event_id is its causation_id. \
            For each event, each consumer group of its stream: handled (delivered and acknowledged), \
            pending (consumer, deliveries), dead-lettered (reason, error) or not yet delivered. \
            Times are Redis's entry times; offsets are from the flow's first event. Read only. \
            The cost is one read of every entry in the window: narrow it with --since. \
            No event found: a message on standard error and exit code 1.
            """)

    @OptionGroup var options: GlobalOptions
    @Argument(help: "The flow's correlation id.") var correlationID: String
    @Option(help: "Read entries from this time on: an age (30s, 15m, 2h, 7d), an RFC 3339 time or an entry id (default: all).")
    var since: TimeBoundArgument?
    @Option(help: "Read entries up to this time: same forms as --since (default: when the trace starts).")
    var until: TimeBoundArgument?
    @Option(name: .customLong("max-entries"), help: "Stop after reading this many entries in all (default: no limit).")
    var maxEntries: Int?

    func validate() throws {
        guard !correlationID.isEmpty else { throw ValidationError("the correlation id must not be empty") }
        if let maxEntries, maxEntries < 1 { throw ValidationError("--max-entries must be at least 1") }
    }

    func run() async throws {
        try await options.withClient { client in
            let tracer = FlowTracer(client: client, maxEntries: maxEntries)
            let trace = try await tracer.trace(
                correlationID: correlationID, window: .init(since: since?.bound, until: until?.bound))
            guard !trace.isEmpty else {
                options.fail(
                    "no events with correlation id \(correlationID) (read \(trace.entriesRead) entries in "
                        + "\(trace.streamsRead) streams\(Self.windowText(trace))\(trace.complete ? "" : ", stopped at --max-entries"))")
            }
            if options.json {
                Output.printJSON(Self.json(trace))
            } else {
                print(Self.text(trace), terminator: "")
            }
        }
    }

    // MARK: Text

    static func text(_ trace: FlowTrace) -> String {
        let events = trace.events
        let streams = Set(events.map(\.stream))
        let last = events.compactMap(\.offset).max()
        var out = "flow \(trace.correlationID): \(events.count) event(s) in \(streams.count) stream(s)"
        if let first = events.compactMap(\.entryTimeMilliseconds).min() {
            out += ", from \(time(first))"
            if let last { out += ", last at \(offsetText(last))" }
        }
        out += "\n"
        out += "read \(trace.entriesRead) entries in \(trace.streamsRead) streams\(windowText(trace))\n"
        if !trace.complete {
            out += "warning: stopped after --max-entries: events of this flow may be missing\n"
        }
        let width = events.flatMap(\.groups).map(\.group.count).max() ?? 0
        for root in trace.roots {
            out += "\n"
            render(root, prefix: "", connector: nil, width: width, into: &out)
        }
        return out
    }

    /// Writes `event` and its children. `connector` is nil for a root, else whether it is
    /// its parent's last child.
    private static func render(_ event: FlowEvent, prefix: String, connector isLast: Bool?, width: Int, into out: inout String) {
        let header = isLast.map { prefix + ($0 ? "└─ " : "├─ ") } ?? ""
        let childPrefix = isLast.map { prefix + ($0 ? "   " : "│  ") } ?? ""
        let detailPrefix = childPrefix + (event.children.isEmpty ? "   " : "│  ")
        var title = "\(event.eventType ?? "(no event_type)")  \(event.stream) \(event.entryID)"
        if let milliseconds = event.entryTimeMilliseconds { title += "  \(time(milliseconds))" }
        if let offset = event.offset { title += "  \(offsetText(offset))" }
        out += header + title + "\n"
        var details: [String] = []
        var identity = "event \(event.eventID ?? "-")"
        if let aggregate = event.aggregateID { identity += "  aggregate \(event.aggregateType.map { "\($0) " } ?? "")\(aggregate)" }
        details.append(identity)
        if let replayedFrom = event.replayedFrom { details.append("replayed from \(replayedFrom)") }
        if event.source == .deadLetters { details.append("(no longer in \(event.stream): known from its dead letters)") }
        if !event.alsoIn.isEmpty { details.append("also in " + event.alsoIn.map(\.description).joined(separator: ", ")) }
        if event.groups.isEmpty { details.append("(no consumer groups)") }
        for group in event.groups {
            let name = group.group + String(repeating: " ", count: max(0, width - group.group.count))
            details.append("\(name)  \(stateText(group))")
        }
        for line in details { out += detailPrefix + line + "\n" }
        for (index, child) in event.children.enumerated() {
            render(child, prefix: childPrefix, connector: index == event.children.count - 1, width: width, into: &out)
        }
    }

    static func stateText(_ group: FlowGroupState) -> String {
        switch group.state {
        case .handled: return "handled"
        case .notYetDelivered: return "not yet delivered"
        case .pending:
            return "pending (consumer \(group.consumer ?? "-"), \(Output.text(group.deliveries)) deliveries)"
        case .deadLettered:
            var text = "dead-lettered: \(group.reason ?? "(no reason)")"
            var about: [String] = []
            if let consumer = group.consumer { about.append("consumer \(consumer)") }
            if let deliveries = group.deliveries { about.append("\(deliveries) deliveries") }
            if !about.isEmpty { text += " (\(about.joined(separator: ", ")))" }
            if let error = group.error, !error.isEmpty { text += ": " + Output.short(error, 120) }
            return text
        }
    }

    /// `, since <time>` when the window does not start at the beginning.
    static func windowText(_ trace: FlowTrace) -> String {
        var text = ""
        if let since = trace.since { text += ", since \(since.milliseconds > 0 ? time(since.milliseconds) : since.description)" }
        return text
    }

    /// An entry time as RFC 3339 with milliseconds: `2026-12-01T02:50:00.123Z`.
    static func time(_ milliseconds: UInt64) -> String {
        let text = RFC3339.string(microsecondsSinceEpoch: Int64(milliseconds) * 1000)
        // RFC3339 writes microseconds: drop the last three (always 0) digits.
        guard text.hasSuffix("000Z") else { return text }
        return String(text.dropLast(4)) + "Z"
    }

    /// `+12 ms`, `+1.234 s`, `+4m05s`.
    static func offsetText(_ offset: Duration) -> String {
        let milliseconds = Output.milliseconds(offset)
        switch milliseconds {
        case ..<1000: return "+\(milliseconds) ms"
        case ..<60_000: return String(format: "+%.3f s", Double(milliseconds) / 1000)
        default: return "+" + Output.text(offset)
        }
    }

    // MARK: JSON

    static func json(_ trace: FlowTrace) -> [String: Any] {
        let events = trace.events
        let first = events.compactMap(\.entryTimeMilliseconds).min()
        return [
            "correlation_id": trace.correlationID, "event_count": events.count,
            "stream_count": Set(events.map(\.stream)).count,
            "first_event_at": Output.json(first.map(time)),
            "duration_ms": Output.json(events.compactMap(\.offset).max().map(Output.milliseconds)),
            "streams_read": trace.streamsRead, "entries_read": trace.entriesRead, "complete": trace.complete,
            "since": Output.json(trace.since?.description), "until": trace.until.description,
            "events": trace.roots.map(json),
        ]
    }

    static func json(_ event: FlowEvent) -> [String: Any] {
        [
            "stream": event.stream, "entry_id": event.entryID.description, "event_id": Output.json(event.eventID),
            "event_type": Output.json(event.eventType), "aggregate_type": Output.json(event.aggregateType),
            "aggregate_id": Output.json(event.aggregateID), "causation_id": Output.json(event.causationID),
            "time": Output.json(event.entryTimeMilliseconds.map(time)),
            "offset_ms": Output.json(event.offset.map(Output.milliseconds)),
            "timestamp": Output.json(event.timestamp), "replayed_from": Output.json(event.replayedFrom?.description),
            "source": event.source.rawValue,
            "also_in": event.alsoIn.map { ["stream": $0.stream, "entry_id": $0.entryID.description] },
            "groups": event.groups.map(json),
            "children": event.children.map(json),
        ]
    }

    static func json(_ group: FlowGroupState) -> [String: Any] {
        var object: [String: Any] = ["group": group.group, "state": group.state.rawValue]
        if let reason = group.reason { object["reason"] = reason }
        if let error = group.error { object["error"] = error }
        if let consumer = group.consumer { object["consumer"] = consumer }
        if let deliveries = group.deliveries { object["deliveries"] = deliveries }
        if let id = group.deadLetterID { object["dead_letter_id"] = id.description }
        return object
    }
}

/// `--since`/`--until`: an age before now (`15m`), an RFC 3339 time (`2026-12-01T02:50:00Z`,
/// the `Z` may be left out) or an entry id (`1764557400123-0`).
struct TimeBoundArgument: ExpressibleByArgument {
    let bound: FlowTracer.Bound

    init?(argument: String) {
        if let age = AgeArgument(argument: argument) {
            bound = .ago(age.duration)
        } else if let micros = RFC3339.parseMicroseconds(argument) ?? RFC3339.parseMicroseconds(argument + "Z"), micros >= 0 {
            bound = .time(milliseconds: UInt64(micros / 1000))
        } else if let id = StreamEntryID(argument) {
            bound = .entryID(id)
        } else {
            return nil
        }
    }

    static var defaultValueDescription: String { "e.g. 15m, 2026-12-01T02:50:00Z, 1764557400123-0" }
}
