import EventCodec
import RedisClient

/// Finds every event of one flow (every stream entry whose `correlation_id` field equals
/// the flow's id) across the streams of a Redis database, and arranges them as a tree by
/// `causation_id`, with what each consumer group of the event's stream did with it.
///
/// Guarantees:
/// - A read-only view: only `TIME`, `SCAN`, `XRANGE`, `XINFO GROUPS` and `XPENDING` are
///   sent. Nothing is written, claimed or acknowledged, and no group reads anything.
/// - Cost: every stream of the database (`SCAN 0 MATCH * TYPE stream COUNT 1000`, the
///   cursor followed to its end; on a Redis Cluster on every master, `RedisClient.scanKeys`,
///   and each stream read on the node of its slot) is read with `XRANGE` in pages of `pageSize` entries, from
///   `window.since` (default: the beginning) to `window.until` (default: the server's
///   time when the trace starts, so entries written while it runs are not chased). That is
///   O(entries in the window) reads and round trips of `pageSize` entries; only matching
///   entries are kept in memory. `maxEntries` stops the scan after that many entries
///   (the result says `complete == false`). Then one `XINFO GROUPS` per stream holding a
///   found event and one pipelined `XPENDING <stream> <group> <id> <id> 1` per event and
///   group.
/// - A snapshot, read one command after another: on a busy database a group's state may
///   move between the scan and the group reads, and an entry added to a stream already
///   read is not seen.
/// - Dead letters: the entries of `<stream>:dlq:<group>` streams carry the original's
///   fields, so a dead letter of the flow is found by the same scan. It is shown as the
///   state `dead_lettered` of its group on the original event, not as an event of its own;
///   when the original entry is gone (trimmed), the event is shown from its dead letter
///   (`source == .deadLetters`).
/// - Partitioned streams need nothing special: every partition stream (`todo-events:{p2}`)
///   and its dead letters (`todo-events:{p2}:dlq:<group>`) is a stream of its own, read like
///   any other, so a flow whose events went to several partitions is found whole; each
///   event names the partition stream it is in.
/// - An event stored in several streams (the event store's aggregate history
///   `es:{<stream>}:<id>` holds a copy of every event of its type stream) is shown once,
///   from the stream with consumer groups, and lists the others in `alsoIn`. Entries with
///   the same `event_id` in one stream (a replayed dead letter) are separate events.
/// - The tree: an event whose `causation_id` is another found event's `event_id` is that
///   event's child; every other event is a root (also the first event of a causation
///   cycle). Roots and children are ordered by entry time, then stream, then entry id.
public struct FlowTracer: Sendable {
    /// Where, in time, to look: a start and an end of every stream's `XRANGE`.
    public struct Window: Sendable, Hashable {
        /// The earliest entries read; nil: each stream from its beginning.
        public var since: Bound?
        /// The latest entries read; nil: up to the server's time when the trace starts.
        public var until: Bound?

        public init(since: Bound? = nil, until: Bound? = nil) {
            self.since = since
            self.until = until
        }
    }

    /// A point in a stream: an entry id (an id's milliseconds are the time Redis added it),
    /// a time (milliseconds since 1970: every entry of that millisecond), or a duration
    /// before the server's time (`TIME`).
    public enum Bound: Sendable, Hashable {
        case entryID(StreamEntryID)
        case time(milliseconds: UInt64)
        case ago(Duration)
    }

    let client: RedisClient
    /// Entries per `XRANGE` page.
    public let pageSize: Int
    /// The scan stops after reading this many entries in all (nil: no limit).
    public let maxEntries: Int?

    public init(client: RedisClient, pageSize: Int = 1000, maxEntries: Int? = nil) {
        precondition(pageSize >= 1, "pageSize must be at least 1")
        self.client = client
        self.pageSize = pageSize
        self.maxEntries = maxEntries
    }

    // MARK: Tracing

    /// Traces the flow `correlationID` within `window`. A flow with no entry in the window
    /// gives a trace with no events (`isEmpty`), not an error. Redis failures are thrown as
    /// `RedisError`.
    public func trace(correlationID: String, window: Window = Window()) async throws -> FlowTrace {
        guard !correlationID.isEmpty else { throw EventBusError(.invalidArgument, "the correlation id must not be empty") }
        let now = try await serverTimeMilliseconds()
        let start = window.since.map { Self.entryID($0, now: now, sequence: 0) }
        let end = Self.entryID(window.until ?? .ago(.zero), now: now, sequence: .max)
        var scan = Scan(correlationID: Array(correlationID.utf8))
        if start.map({ $0 <= end }) ?? true {
            for stream in try await streamKeys() {
                try await read(stream, from: start, to: end, into: &scan)
                if !scan.complete { break }
            }
        }
        let events = try await assemble(scan)
        return FlowTrace(
            correlationID: correlationID, roots: Self.tree(events), streamsRead: scan.streamsRead,
            entriesRead: scan.entriesRead, complete: scan.complete, since: start, until: end)
    }

    /// The id of `bound`; a time becomes `sequence` of its millisecond (0 for a start, the
    /// last for an end).
    static func entryID(_ bound: Bound, now: UInt64, sequence: UInt64) -> StreamEntryID {
        switch bound {
        case .entryID(let id): return id
        case .time(let milliseconds): return StreamEntryID(milliseconds: milliseconds, sequence: sequence)
        case .ago(let duration):
            let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
            return StreamEntryID(milliseconds: now - min(now, UInt64(max(0, milliseconds))), sequence: sequence)
        }
    }

    private func serverTimeMilliseconds() async throws -> UInt64 {
        let time = try await client.send("TIME").array ?? []
        guard time.count == 2, let seconds = time[0].int, let micros = time[1].int, seconds >= 0, micros >= 0 else {
            throw EventBusError(.unexpectedReply, "unexpected TIME reply")
        }
        return UInt64(seconds) * 1000 + UInt64(micros) / 1000
    }

    /// Every stream key (`SCAN 0 MATCH * TYPE stream COUNT 1000` to the cursor's end, on
    /// every master of a cluster: `RedisClient.scanKeys`), sorted.
    private func streamKeys() async throws -> [String] {
        try await client.scanKeys(matching: "*", type: "stream").sorted()
    }

    // MARK: Scanning

    /// What the scan found and how much it read.
    struct Scan {
        let correlationID: [UInt8]
        var events: [(stream: String, entry: StreamEntry)] = []
        var deadLetters: [(key: String, record: DeadLetterRecord)] = []
        var streamsRead = 0
        var entriesRead = 0
        var complete = true
    }

    /// Reads `stream` page by page, keeping the entries of the flow.
    private func read(_ stream: String, from start: StreamEntryID?, to end: StreamEntryID, into scan: inout Scan)
        async throws
    {
        let isDeadLetterStream = DeadLetter.parse(key: stream) != nil
        var from = start?.description ?? "-"
        var firstPage = true
        while true {
            var count = pageSize
            if let maxEntries {
                count = min(count, maxEntries - scan.entriesRead)
                guard count > 0 else {
                    scan.complete = false
                    return
                }
            }
            let page: [StreamEntry]
            do {
                page = try await client.xrange(stream, from: from, to: end.description, count: count)
            } catch let error as RedisError where error.code == .wrongType {
                return  // no longer a stream (deleted and made again since SCAN)
            }
            if firstPage { scan.streamsRead += 1 }
            firstPage = false
            scan.entriesRead += page.count
            for entry in page where Self.belongs(entry, to: scan.correlationID) {
                if isDeadLetterStream, entry.value(named: DeadLetter.Field.entryID) != nil {
                    scan.deadLetters.append((stream, DeadLetterRecord(entry: entry)))
                } else {
                    scan.events.append((stream, entry))
                }
            }
            guard page.count == count, let last = page.last, last.id < end else { return }
            from = "(\(last.id)"
        }
    }

    private static let correlationField = Array(EventStreamFields.correlationID.utf8)

    /// Whether the entry's first `correlation_id` field is `correlationID` (compared as
    /// bytes, nothing copied).
    static func belongs(_ entry: StreamEntry, to correlationID: [UInt8]) -> Bool {
        var found: Bool?
        entry.forEachField { _, name, value in
            guard found == nil, equals(name, correlationField) else { return }
            found = equals(value, correlationID)
        }
        return found ?? false
    }

    private static func equals(_ span: Span<UInt8>, _ bytes: [UInt8]) -> Bool {
        guard span.count == bytes.count else { return false }
        for index in span.indices where span[index] != bytes[index] { return false }
        return true
    }

    // MARK: Assembling

    /// A found event before the tree is built.
    struct Candidate {
        var event: FlowEvent
        var eventKey: String
    }

    /// The found events with their group states, one per event (copies folded into `alsoIn`).
    private func assemble(_ scan: Scan) async throws -> [FlowEvent] {
        var candidates: [Candidate] = scan.events.map { stream, entry in
            let text = { (name: String) in entry.string(named: name) }
            return Self.candidate(stream: stream, entryID: entry.id, source: .stream, text)
        }
        // Dead letters by original (stream, entry id) and group.
        var deadLetters: [FlowEntryRef: [String: DeadLetterRecord]] = [:]
        var known = Set(candidates.map(\.event.ref))
        for (key, record) in scan.deadLetters {
            guard let (keyStream, keyGroup) = DeadLetter.parse(key: key), let entryID = record.originalEntryID else { continue }
            let ref = FlowEntryRef(stream: record.originalStream ?? keyStream, entryID: entryID)
            let group = record.group ?? keyGroup
            if deadLetters[ref]?[group] == nil { deadLetters[ref, default: [:]][group] = record }
            // The original is gone (trimmed or outside the window): shown from the dead letter.
            if known.insert(ref).inserted {
                let text = { (name: String) in record.originalFields.first { $0.name.elementsEqual(name.utf8) }?.valueText }
                candidates.append(Self.candidate(stream: ref.stream, entryID: ref.entryID, source: .deadLetters, text))
            }
        }
        // The groups of every stream holding a candidate.
        let streams = Array(Set(candidates.map(\.event.stream))).sorted()
        let groupReplies = try await client.pipeline(streams.map { RedisCommand("XINFO", "GROUPS", $0) })
        var groupsByStream: [String: [(name: String, lastDelivered: StreamEntryID?)]] = [:]
        for (stream, reply) in zip(streams, groupReplies) {
            // An error (the stream was deleted since) means no groups to ask.
            groupsByStream[stream] = (reply.array ?? []).map(pairs).compactMap { group in
                guard let name = group["name"]?.string else { return nil }
                return (name, group["last-delivered-id"]?.string.flatMap { StreamEntryID($0) })
            }
        }
        let events = Self.foldCopies(candidates) { stream in
            !(groupsByStream[stream] ?? []).isEmpty || deadLetters.keys.contains { $0.stream == stream }
        }
        return try await withGroupStates(events, groupsByStream: groupsByStream, deadLetters: deadLetters)
    }

    private static func candidate(
        stream: String, entryID: StreamEntryID, source: FlowEvent.Source, _ text: (String) -> String?
    ) -> Candidate {
        let eventID = text(EventStreamFields.eventID)
        let event = FlowEvent(
            stream: stream, entryID: entryID, eventID: eventID, eventType: text(EventStreamFields.eventType),
            aggregateType: text(EventStreamFields.aggregateType), aggregateID: text(EventStreamFields.aggregateID),
            causationID: text(EventStreamFields.causationID), timestamp: text(EventStreamFields.timestamp),
            replayedFrom: text(DeadLetter.replayedFromField).flatMap { StreamEntryID($0) }, source: source)
        // An entry without event_id is an event of its own.
        return Candidate(event: event, eventKey: eventID ?? "\u{0}\(stream)\u{0}\(entryID)")
    }

    /// One event per `event_id` and stream: entries of the same event in other streams become
    /// `alsoIn` of the entry in the preferred stream (one with consumer groups or dead letters,
    /// then one whose ids are times, then the earliest entry).
    static func foldCopies(_ candidates: [Candidate], hasGroups: (String) -> Bool) -> [FlowEvent] {
        var byKey: [String: [Candidate]] = [:]
        var order: [String] = []
        for candidate in candidates {
            if byKey[candidate.eventKey] == nil { order.append(candidate.eventKey) }
            byKey[candidate.eventKey, default: []].append(candidate)
        }
        var events: [FlowEvent] = []
        for key in order {
            let same = byKey[key] ?? []
            // The preferred stream: with groups, then with time ids, then the earliest entry, then by name.
            func rank(_ stream: String) -> (Int, Int, StreamEntryID) {
                let first = same.filter { $0.event.stream == stream }.map(\.event.entryID).min()!
                return (hasGroups(stream) ? 0 : 1, first.milliseconds > 0 ? 0 : 1, first)
            }
            let preferred = Set(same.map(\.event.stream)).sorted().min { a, b in
                let (ra, rb) = (rank(a), rank(b))
                return (ra.0, ra.1) != (rb.0, rb.1) ? (ra.0, ra.1) < (rb.0, rb.1) : ra.2 < rb.2
            }!
            let copies = same.filter { $0.event.stream != preferred }.map(\.event.ref).sorted()
            for (index, candidate) in same.enumerated() where candidate.event.stream == preferred {
                var event = candidate.event
                if index == same.firstIndex(where: { $0.event.stream == preferred }) { event.alsoIn = copies }
                events.append(event)
            }
        }
        return events
    }

    /// Adds each event's group states: dead-lettered (its group's dead letters hold it),
    /// pending (`XPENDING <stream> <group> <id> <id> 1`), handled (delivered, not pending),
    /// not yet delivered.
    private func withGroupStates(
        _ events: [FlowEvent], groupsByStream: [String: [(name: String, lastDelivered: StreamEntryID?)]],
        deadLetters: [FlowEntryRef: [String: DeadLetterRecord]]
    ) async throws -> [FlowEvent] {
        var questions: [(event: Int, group: String)] = []
        var commands: [RedisCommand] = []
        for (index, event) in events.enumerated() {
            for group in groupsByStream[event.stream] ?? [] where deadLetters[event.ref]?[group.name] == nil {
                questions.append((index, group.name))
                commands.append(
                    RedisCommand("XPENDING", event.stream, group.name, event.entryID.description, event.entryID.description, "1"))
            }
        }
        var pending: [Int: [String: (consumer: String, deliveries: Int)]] = [:]
        var position = 0
        while position < commands.count {
            let chunk = position..<min(commands.count, position + 1000)
            let replies = try await client.pipeline(Array(commands[chunk]))
            for (question, reply) in zip(questions[chunk], replies) {
                // NOGROUP: the group was deleted since XINFO GROUPS; it is left as read there.
                guard let row = reply.array?.first?.array, row.count == 4, let consumer = row[1].string,
                    let deliveries = row[3].int
                else { continue }
                pending[question.event, default: [:]][question.group] = (consumer, deliveries)
            }
            position = chunk.upperBound
        }
        return events.enumerated().map { index, event in
            var event = event
            var states: [FlowGroupState] = []
            let letters = deadLetters[event.ref] ?? [:]
            let groups = groupsByStream[event.stream] ?? []
            for group in groups where letters[group.name] == nil {
                if let entry = pending[index]?[group.name] {
                    states.append(.init(group: group.name, state: .pending, consumer: entry.consumer, deliveries: entry.deliveries))
                } else if let last = group.lastDelivered, last >= event.entryID {
                    states.append(.init(group: group.name, state: .handled))
                } else {
                    states.append(.init(group: group.name, state: .notYetDelivered))
                }
            }
            for (group, record) in letters {
                states.append(
                    .init(
                        group: group, state: .deadLettered, reason: record.reasonText, error: record.error,
                        consumer: record.consumer, deliveries: record.deliveries, deadLetterID: record.id))
            }
            event.groups = states.sorted { $0.group < $1.group }
            return event
        }
    }

    // MARK: Tree

    /// Arranges `events` by causation; sets each event's offset from the flow's first one.
    static func tree(_ events: [FlowEvent]) -> [FlowEvent] {
        let sorted = events.sorted(by: FlowEvent.precedes)
        let first = sorted.lazy.map(\.entryID.milliseconds).filter { $0 > 0 }.min()
        var parentOf: [Int?] = Array(repeating: nil, count: sorted.count)
        var byEventID: [String: Int] = [:]
        for (index, event) in sorted.enumerated() {
            if let id = event.eventID, byEventID[id] == nil { byEventID[id] = index }
        }
        for (index, event) in sorted.enumerated() {
            // The earliest event with that id, unless it is this one (another entry of the same
            // event id, e.g. a replay, makes the replay a sibling, not a child).
            guard let cause = event.causationID, let parent = byEventID[cause], parent != index,
                sorted[parent].eventID != event.eventID
            else { continue }
            parentOf[index] = parent
        }
        var children: [[Int]] = Array(repeating: [], count: sorted.count)
        for (index, parent) in parentOf.enumerated() { if let parent { children[parent].append(index) } }
        var visited = Array(repeating: false, count: sorted.count)
        func mark(_ index: Int) {
            var stack = [index]
            while let next = stack.popLast() {
                if visited[next] { continue }
                visited[next] = true
                stack.append(contentsOf: children[next])
            }
        }
        var roots: [Int] = []
        for index in sorted.indices where parentOf[index] == nil {
            roots.append(index)
            mark(index)
        }
        // What is left is in causation cycles: each cycle's earliest event becomes a root.
        for index in sorted.indices where !visited[index] {
            if let parent = parentOf[index] { children[parent].removeAll { $0 == index } }
            parentOf[index] = nil
            roots.append(index)
            mark(index)
        }
        roots.sort()
        func build(_ index: Int) -> FlowEvent {
            var event = sorted[index]
            if let first, event.entryID.milliseconds > 0 {
                event.offset = .milliseconds(Int64(event.entryID.milliseconds) - Int64(first))
            }
            event.children = children[index].sorted().map(build)
            return event
        }
        return roots.map(build)
    }
}

// MARK: - Results

/// One flow as `FlowTracer` found it.
public struct FlowTrace: Sendable {
    public let correlationID: String
    /// The events no other found event caused, each with its descendants.
    public let roots: [FlowEvent]
    /// Streams read (dead-letter streams included).
    public let streamsRead: Int
    /// Entries read, across all streams.
    public let entriesRead: Int
    /// False when `maxEntries` stopped the scan before every stream was read to its end.
    public let complete: Bool
    /// The window read: from this id (nil: every stream's beginning) to this id.
    public let since: StreamEntryID?
    public let until: StreamEntryID

    /// No event of the flow was found.
    public var isEmpty: Bool { roots.isEmpty }

    /// Every event, depth first (a parent before its children).
    public var events: [FlowEvent] {
        var all: [FlowEvent] = []
        func walk(_ event: FlowEvent) {
            all.append(event)
            event.children.forEach(walk)
        }
        roots.forEach(walk)
        return all
    }
}

/// A stream entry: a stream and an id in it.
public struct FlowEntryRef: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let stream: String
    public let entryID: StreamEntryID

    public init(stream: String, entryID: StreamEntryID) {
        self.stream = stream
        self.entryID = entryID
    }

    public var description: String { "\(stream) \(entryID)" }

    public static func < (lhs: FlowEntryRef, rhs: FlowEntryRef) -> Bool {
        (lhs.stream, lhs.entryID) < (rhs.stream, rhs.entryID)
    }
}

/// One event of a flow: its entry, its envelope fields as written (each nil when the entry
/// lacks it), what its stream's groups did with it, and the events it caused.
public struct FlowEvent: Sendable, Hashable {
    /// Where the event was found.
    public enum Source: String, Sendable, Hashable {
        /// Its entry in its stream.
        case stream
        /// Only a dead letter of it: its entry is no longer in its stream (or outside the window).
        case deadLetters = "dead_letters"
    }

    public let stream: String
    public let entryID: StreamEntryID
    public let eventID: String?
    public let eventType: String?
    public let aggregateType: String?
    public let aggregateID: String?
    public let causationID: String?
    /// The envelope's `timestamp` (the publisher's clock), as written.
    public let timestamp: String?
    /// `meta.replayed_from`: the entry id a replayed dead letter had.
    public let replayedFrom: StreamEntryID?
    public let source: Source
    /// Other streams holding the same event (same `event_id`), e.g. the event store's history.
    public internal(set) var alsoIn: [FlowEntryRef] = []
    /// One per consumer group of the stream (and per group that dead-lettered it), by name.
    public internal(set) var groups: [FlowGroupState] = []
    /// The events whose `causation_id` is this event's `event_id`, in entry time order.
    public internal(set) var children: [FlowEvent] = []
    /// Time from the flow's first event to this one, by entry ids (Redis's clock: one clock
    /// for every stream, millisecond precision). Nil for entries whose ids are not times
    /// (`0-<n>`, the event store's history).
    public internal(set) var offset: Duration?

    public var ref: FlowEntryRef { FlowEntryRef(stream: stream, entryID: entryID) }

    /// When Redis added the entry: its id's milliseconds since 1970; nil for ids that are
    /// not times (milliseconds 0).
    public var entryTimeMilliseconds: UInt64? { entryID.milliseconds > 0 ? entryID.milliseconds : nil }

    init(
        stream: String, entryID: StreamEntryID, eventID: String?, eventType: String?, aggregateType: String?,
        aggregateID: String?, causationID: String?, timestamp: String?, replayedFrom: StreamEntryID?, source: Source
    ) {
        self.stream = stream
        self.entryID = entryID
        self.eventID = eventID
        self.eventType = eventType
        self.aggregateType = aggregateType
        self.aggregateID = aggregateID
        self.causationID = causationID
        self.timestamp = timestamp
        self.replayedFrom = replayedFrom
        self.source = source
    }

    /// Entry time, then stream, then entry id.
    static func precedes(_ lhs: FlowEvent, _ rhs: FlowEvent) -> Bool {
        (lhs.entryID.milliseconds, lhs.stream, lhs.entryID) < (rhs.entryID.milliseconds, rhs.stream, rhs.entryID)
    }
}

/// What one consumer group did with one event.
public struct FlowGroupState: Sendable, Hashable {
    public enum State: String, Sendable, Hashable, CaseIterable {
        /// Delivered to the group and acknowledged (last-delivered-id at or past it, not in its
        /// pending entries). Redis cannot tell this from a group created or moved past the entry,
        /// nor from an event the group acknowledged without a handler.
        case handled
        /// Delivered and not yet acknowledged: in the group's pending entries.
        case pending
        /// In the group's dead letters (`<stream>:dlq:<group>`).
        case deadLettered = "dead_lettered"
        /// Not yet delivered to the group (after its last-delivered-id).
        case notYetDelivered = "not_yet_delivered"
    }

    public let group: String
    public let state: State
    /// Dead letters: `dlq_reason` as written.
    public let reason: String?
    /// Dead letters: `dlq_error`, the last error.
    public let error: String?
    /// Pending: the consumer owning it. Dead letters: the consumer that gave up on it.
    public let consumer: String?
    /// Pending: deliveries so far. Dead letters: deliveries before it was dead-lettered.
    public let deliveries: Int?
    /// Dead letters: the dead letter's id in `<stream>:dlq:<group>`.
    public let deadLetterID: StreamEntryID?

    public init(
        group: String, state: State, reason: String? = nil, error: String? = nil, consumer: String? = nil,
        deliveries: Int? = nil, deadLetterID: StreamEntryID? = nil
    ) {
        self.group = group
        self.state = state
        self.reason = reason
        self.error = error
        self.consumer = consumer
        self.deliveries = deliveries
        self.deadLetterID = deadLetterID
    }
}
