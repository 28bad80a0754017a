import ArgumentParser
import EventBus
import Foundation
import RedisClient

/// `streamsctl streams [--pattern P] [--all]`
struct StreamsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "streams",
        abstract: "Every stream: length, first and last ids, groups, and whether it was trimmed.",
        discussion: """
            Finds streams with SCAN MATCH <pattern> TYPE stream (on every master of a cluster); \
            dead-letter streams (<stream>:dlq:<group>) are left out unless --all. With --partitions N \
            (N > 1), the partition streams of a stream (<stream>:{<tag>}) are one row named after \
            the stream, with the number of partitions found, lengths summed and groups merged (their \
            dead letters, with --all, one row <stream>:{*}:dlq:<group>); a pattern other than * also \
            finds <pattern>:{*}. Redis stores no retention policy, \
            so RETENTION shows what XINFO STREAM lets one see: "none" while no entry was ever \
            removed, else "trimmed (N removed, max deleted id X)" (max-deleted-entry-id, set by \
            XDEL) or "trimmed (N removed, ids before F)" (XTRIM and MAXLEN leave \
            max-deleted-entry-id at 0-0; N is entries-added minus length). "unknown" before Redis 7.
            """)

    @OptionGroup var options: GlobalOptions
    @Option(help: "Only keys matching this glob-style pattern.") var pattern = "*"
    @Flag(help: "Include dead-letter streams (<stream>:dlq:<group>).") var all = false

    func run() async throws {
        let layout = options.resolvedPartitions
        try await options.withClient { client in
            var patterns = [pattern]
            // With partitions, a pattern naming a stream (todo-events) also finds its partitions.
            if layout.count > 1 && pattern != "*" {
                patterns.append(pattern + ":{*}")
                if all { patterns.append(pattern + ":{*}:dlq:*") }
            }
            var found = Set<String>()
            for pattern in patterns { found.formUnion(try await Self.streamKeys(client, pattern: pattern)) }
            let keys = found.sorted().filter { all || DeadLetter.parse(key: $0) == nil }
            var summaries: [Summary] = []
            for key in keys {
                // A key deleted (or replaced) since the scan answers with an error: left out.
                let replies = try await client.pipeline([
                    RedisCommand("XINFO", "STREAM", key), RedisCommand("XINFO", "GROUPS", key),
                ])
                guard let info = try? replies[0].throwingError(), let groups = try? replies[1].throwingError() else {
                    continue
                }
                summaries.append(Summary(name: key, info: Self.pairs(info), groups: groups))
            }
            if layout.count > 1 { summaries = Self.grouped(summaries, layout) }
            if options.json {
                var document: [String: Any] = ["streams": summaries.map(\.json)]
                if layout.count > 1 { document["partition_count"] = layout.count }
                Output.printJSON(document)
            } else if summaries.isEmpty {
                print(pattern == "*" ? "no streams" : "no streams match \(pattern)")
            } else {
                let partitioned = layout.count > 1
                Output.printTable(
                    ["STREAM"] + (partitioned ? ["PARTITIONS"] : []) + ["LENGTH", "FIRST ID", "LAST ID", "GROUPS", "RETENTION"],
                    summaries.map { summary in
                        let partitions =
                            summary.partitions.isEmpty
                            ? "-"
                            : summary.partitions.count == layout.count
                                ? "\(layout.count)" : "\(summary.partitions.count)/\(layout.count)"
                        return [summary.name] + (partitioned ? [partitions] : []) + [
                            "\(summary.length)", Output.text(summary.firstEntryID),
                            Output.text(summary.lastEntryID),
                            summary.groupNames.isEmpty
                                ? "0" : "\(summary.groupNames.count): " + summary.groupNames.joined(separator: ", "),
                            summary.retentionText,
                        ]
                    }, numeric: partitioned ? [1, 2] : [1])
            }
        }
    }

    /// Every stream key matching `pattern` (`SCAN 0 MATCH pattern TYPE stream COUNT 1000` to
    /// the end, on every master of a cluster: `RedisClient.scanKeys`), sorted.
    static func streamKeys(_ client: RedisClient, pattern: String) async throws -> [String] {
        try await client.scanKeys(matching: pattern, type: "stream").sorted()
    }

    /// The partition streams of each stream of `layout` folded into one summary named after
    /// the stream (`todo-events`), and their dead-letter streams into one per group
    /// (`todo-events:{*}:dlq:<group>`); other streams as they are. Sorted by name.
    static func grouped(_ summaries: [Summary], _ layout: StreamPartitions) -> [Summary] {
        var result: [Summary] = []
        var names: [String] = []
        var parts: [String: [(index: Int, summary: Summary)]] = [:]
        for summary in summaries {
            let name: String
            let index: Int
            if let (stream, partition) = layout.parse(summary.name) {
                (name, index) = (stream, partition)
            } else if let (partitionStream, group) = DeadLetter.parse(key: summary.name),
                let (stream, partition) = layout.parse(partitionStream)
            {
                (name, index) = (DeadLetterStore.keyPattern(stream: stream, group: group, partitions: layout), partition)
            } else {
                result.append(summary)
                continue
            }
            if parts[name] == nil { names.append(name) }
            parts[name, default: []].append((index, summary))
        }
        for name in names {
            result.append(Summary(name: name, partitions: (parts[name] ?? []).sorted { $0.index < $1.index }))
        }
        return result.sorted { $0.name < $1.name }
    }

    /// The fields of a reply made of name/value pairs (`XINFO STREAM`), by name.
    static func pairs(_ reply: RedisReply) -> [String: RedisReply] {
        let elements = reply.array ?? []
        var result: [String: RedisReply] = [:]
        for index in stride(from: 0, to: elements.count - 1, by: 2) {
            if let name = elements[index].string { result[name] = elements[index + 1] }
        }
        return result
    }

    /// One stream as `XINFO STREAM` and `XINFO GROUPS` describe it, or a partitioned
    /// stream: the totals of its partition streams (`partitions`).
    struct Summary {
        let name: String
        /// For a partitioned stream: each partition stream (index, summary), in partition
        /// order; empty for a plain stream.
        var partitions: [(index: Int, summary: Summary)] = []
        let length: Int
        let firstEntryID: StreamEntryID?
        let lastEntryID: StreamEntryID?
        let lastGeneratedID: StreamEntryID?
        /// Entries ever added (Redis 7+).
        let entriesAdded: Int?
        let groupNames: [String]
        /// Set (not `0-0`) once entries were deleted with `XDEL` (Redis 7+; trimming leaves it).
        let maxDeletedEntryID: StreamEntryID?

        init(name: String, info: [String: RedisReply], groups: RedisReply) {
            func entryID(_ field: String) -> StreamEntryID? {
                info[field]?.array?.first?.string.flatMap { StreamEntryID($0) }
            }
            self.name = name
            length = info["length"]?.int ?? 0
            firstEntryID = entryID("first-entry")
            lastEntryID = entryID("last-entry")
            lastGeneratedID = info["last-generated-id"]?.string.flatMap { StreamEntryID($0) }
            entriesAdded = info["entries-added"]?.int
            groupNames = (groups.array ?? []).compactMap { StreamsCommand.pairs($0)["name"]?.string }
            maxDeletedEntryID = info["max-deleted-entry-id"]?.string.flatMap { StreamEntryID($0) }
                .flatMap { $0 == StreamEntryID(milliseconds: 0, sequence: 0) ? nil : $0 }
        }

        /// The totals of a partitioned stream's partition streams.
        init(name: String, partitions: [(index: Int, summary: Summary)]) {
            let summaries = partitions.map(\.summary)
            self.name = name
            self.partitions = partitions
            length = summaries.map(\.length).reduce(0, +)
            firstEntryID = summaries.compactMap(\.firstEntryID).min()
            lastEntryID = summaries.compactMap(\.lastEntryID).max()
            lastGeneratedID = summaries.compactMap(\.lastGeneratedID).max()
            entriesAdded = summaries.reduce(Int?.some(0)) { total, part in total.flatMap { total in part.entriesAdded.map { total + $0 } } }
            var names: [String] = []
            for name in summaries.flatMap(\.groupNames) where !names.contains(name) { names.append(name) }
            groupNames = names
            maxDeletedEntryID = summaries.compactMap(\.maxDeletedEntryID).max()
        }

        /// Entries removed so far (trimmed or deleted); nil before Redis 7.
        var removed: Int? {
            guard !partitions.isEmpty else { return entriesAdded.map { max($0 - length, 0) } }
            return partitions.reduce(Int?.some(0)) { total, part in total.flatMap { total in part.summary.removed.map { total + $0 } } }
        }

        var retention: String {
            guard let removed else { return "unknown" }
            guard partitions.isEmpty else {
                return partitions.contains { $0.summary.retention == "trimmed" } ? "trimmed" : "none"
            }
            return removed > 0 || maxDeletedEntryID != nil ? "trimmed" : "none"
        }

        var retentionText: String {
            guard retention == "trimmed" else { return retention }
            guard partitions.isEmpty else {
                let trimmed = partitions.filter { $0.summary.retention == "trimmed" }.count
                return "trimmed (\(removed ?? 0) removed, in \(trimmed) of \(partitions.count) partitions)"
            }
            let boundary =
                if let maxDeletedEntryID { "max deleted id \(maxDeletedEntryID)" }
                else if let firstEntryID { "ids before \(firstEntryID)" }
                else { "ids up to \(Output.text(lastGeneratedID))" }
            return "trimmed (\(removed ?? 0) removed, \(boundary))"
        }

        var json: [String: Any] {
            var object: [String: Any] = [
                "name": name, "length": length,
                "first_entry_id": Output.json(firstEntryID?.description),
                "last_entry_id": Output.json(lastEntryID?.description),
                "entries_added": Output.json(entriesAdded),
                "group_count": groupNames.count, "groups": groupNames,
                "retention": retention, "removed_entries": Output.json(removed),
                "max_deleted_entry_id": Output.json(maxDeletedEntryID?.description),
            ]
            if !partitions.isEmpty {
                object["partition_count"] = partitions.count
                object["partitions"] = partitions.map { part in part.summary.json.merging(["partition": part.index]) { $1 } }
            }
            return object
        }
    }
}

// MARK: - Printing entries as events (tail, events)

/// One stream entry decoded for printing: an event (envelope and parsed `data`) or the
/// reason it is not one.
enum EventLine {
    /// `<entry id>  <timestamp>  <event_type> v<version>  <aggregate_id>  <data JSON>`, or
    /// `<entry id>  (not an event: <reason>) <name=value ...>`; with `json`, one compact
    /// JSON object (JSON Lines).
    ///
    /// `partition` (a partitioned stream's entry): the line names the partition stream after
    /// the entry id (`{p2}`), the JSON object in `stream`.
    static func text(_ entry: StreamEntry, stream: String, json: Bool, partition: Bool = false) -> String {
        let line = plainText(entry, stream: stream, json: json)
        guard partition else { return line }
        if json {
            guard let data = line.data(using: .utf8), var object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
            else { return line }
            object["stream"] = stream
            return Output.jsonLine(object)
        }
        let id = entry.id.description
        return id + "  " + Output.partitionLabel(stream) + line.dropFirst(id.count)
    }

    private static func plainText(_ entry: StreamEntry, stream: String, json: Bool) -> String {
        switch decode(entry, stream: stream) {
        case .event(let raw, let data):
            let envelope = raw.envelope
            if json {
                return Output.jsonLine([
                    "entry_id": entry.id.description, "event_id": envelope.eventID, "event_type": envelope.eventType,
                    "event_version": envelope.eventVersion, "aggregate_type": envelope.aggregateType,
                    "aggregate_id": envelope.aggregateID, "timestamp": envelope.timestampText,
                    "correlation_id": envelope.correlationID, "causation_id": envelope.causationID,
                    "traceparent": Output.json(envelope.traceparent), "metadata": envelope.metadata, "data": data,
                ])
            }
            let dataText = String(decoding: raw.data, as: UTF8.self).replacingOccurrences(of: "\n", with: " ")
            return "\(entry.id)  \(envelope.timestampText)  \(envelope.eventType) v\(envelope.eventVersion)"
                + "  \(envelope.aggregateID)  \(dataText)"
        case .notEvent(let reason):
            let fields = entry.fields
            if json {
                var byName: [String: String] = [:]
                for field in fields where byName[field.name] == nil { byName[field.name] = field.value }
                return Output.jsonLine(["entry_id": entry.id.description, "not_an_event": reason, "fields": byName])
            }
            let raw = fields.map { "\($0.name)=\($0.value)" }.joined(separator: " ").replacingOccurrences(of: "\n", with: " ")
            return "\(entry.id)  (not an event: \(reason)) \(raw)"
        }
    }

    enum Decoded {
        case event(RawEvent, data: Any)
        case notEvent(String)
    }

    static func decode(_ entry: StreamEntry, stream: String) -> Decoded {
        let raw: RawEvent
        do {
            raw = try RawEvent(stream: stream, entry: entry)
        } catch let error as EventBusError {
            // "entry 1-1 of s has no event_id field" -> "no event_id field"
            let prefix = "entry \(entry.id) of \(stream) has "
            return .notEvent(error.message.hasPrefix(prefix) ? String(error.message.dropFirst(prefix.count)) : error.message)
        } catch {
            return .notEvent("\(error)")
        }
        guard let data = try? JSONSerialization.jsonObject(with: Data(raw.data), options: .fragmentsAllowed) else {
            return .notEvent("field data is not valid JSON")
        }
        return .event(raw, data: data)
    }

    /// True when the entry's `event_type` field is `type` (always true without a type).
    static func matches(_ entry: StreamEntry, type: String?) -> Bool {
        guard let type else { return true }
        return entry.value(named: EventStreamFields.eventType)?.elementsEqual(type.utf8) ?? false
    }
}

extension Output {
    /// `value` as one line of compact JSON, keys sorted (for JSON Lines output).
    static func jsonLine(_ value: Any) -> String {
        guard let data = try? JSONSerialization.data(
            withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed])
        else { return #"{"error":"cannot encode the entry as JSON"}"# }
        return String(decoding: data, as: UTF8.self)
    }
}
