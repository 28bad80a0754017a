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
            Finds streams with SCAN MATCH <pattern> TYPE stream; dead-letter streams \
            (<stream>:dlq:<group>) are left out unless --all. Redis stores no retention policy, \
            so RETENTION shows what XINFO STREAM lets one see: "none" while no entry was ever \
            removed, else "trimmed (N removed, max deleted id X)" (max-deleted-entry-id, set by \
            XDEL) or "trimmed (N removed, ids before F)" (XTRIM and MAXLEN leave \
            max-deleted-entry-id at 0-0; N is entries-added minus length). "unknown" before Redis 7.
            """)

    @OptionGroup var options: GlobalOptions
    @Option(help: "Only keys matching this glob-style pattern.") var pattern = "*"
    @Flag(help: "Include dead-letter streams (<stream>:dlq:<group>).") var all = false

    func run() async throws {
        try await options.withClient { client in
            let keys = try await Self.streamKeys(client, pattern: pattern).filter { all || DeadLetter.parse(key: $0) == nil }
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
            if options.json {
                Output.printJSON(["streams": summaries.map(\.json)])
            } else if summaries.isEmpty {
                print(pattern == "*" ? "no streams" : "no streams match \(pattern)")
            } else {
                Output.printTable(
                    ["STREAM", "LENGTH", "FIRST ID", "LAST ID", "GROUPS", "RETENTION"],
                    summaries.map { summary in
                        [
                            summary.name, "\(summary.length)", Output.text(summary.firstEntryID),
                            Output.text(summary.lastEntryID),
                            summary.groupNames.isEmpty
                                ? "0" : "\(summary.groupNames.count): " + summary.groupNames.joined(separator: ", "),
                            summary.retentionText,
                        ]
                    }, numeric: [1])
            }
        }
    }

    /// `SCAN 0 MATCH pattern TYPE stream COUNT 1000` to the end, sorted.
    static func streamKeys(_ client: RedisClient, pattern: String) async throws -> [String] {
        var keys: Set<String> = []
        var cursor = "0"
        repeat {
            let reply = try await client.send("SCAN", cursor, "MATCH", pattern, "TYPE", "stream", "COUNT", "1000")
            guard let parts = reply.array, parts.count == 2, let next = parts[0].string, let found = parts[1].array else {
                throw EventBusError(.unexpectedReply, "expected a SCAN reply, got \(reply)")
            }
            keys.formUnion(found.compactMap(\.string))
            cursor = next
        } while cursor != "0"
        return keys.sorted()
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

    /// One stream as `XINFO STREAM` and `XINFO GROUPS` describe it.
    struct Summary {
        let name: String
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

        /// Entries removed so far (trimmed or deleted); nil before Redis 7.
        var removed: Int? { entriesAdded.map { max($0 - length, 0) } }

        var retention: String {
            guard let removed else { return "unknown" }
            return removed > 0 || maxDeletedEntryID != nil ? "trimmed" : "none"
        }

        var retentionText: String {
            guard retention == "trimmed" else { return retention }
            let boundary =
                if let maxDeletedEntryID { "max deleted id \(maxDeletedEntryID)" }
                else if let firstEntryID { "ids before \(firstEntryID)" }
                else { "ids up to \(Output.text(lastGeneratedID))" }
            return "trimmed (\(removed ?? 0) removed, \(boundary))"
        }

        var json: [String: Any] {
            [
                "name": name, "length": length,
                "first_entry_id": Output.json(firstEntryID?.description),
                "last_entry_id": Output.json(lastEntryID?.description),
                "entries_added": Output.json(entriesAdded),
                "group_count": groupNames.count, "groups": groupNames,
                "retention": retention, "removed_entries": Output.json(removed),
                "max_deleted_entry_id": Output.json(maxDeletedEntryID?.description),
            ]
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
    static func text(_ entry: StreamEntry, stream: String, json: Bool) -> String {
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
