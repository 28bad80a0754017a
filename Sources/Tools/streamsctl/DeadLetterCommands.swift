import ArgumentParser
import EventBus
import Foundation
import RedisClient

/// `streamsctl dlq list|show|replay|purge`
struct DeadLetterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlq",
        abstract: "List, show, replay and purge dead letters (<stream>:dlq:<group>).",
        subcommands: [List.self, Show.self, Replay.self, Purge.self]
    )

    // MARK: list

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every dead-letter stream, with counts by reason.")

        @OptionGroup var options: GlobalOptions

        func run() async throws {
            let layout = options.resolvedPartitions
            if layout.count > 1 { return try await runPartitioned(layout) }
            try await options.withClient { client in
                let summaries = try await DeadLetterStore(client: client).list()
                if options.json {
                    Output.printJSON([
                        "dead_letter_streams": summaries.map { summary in
                            [
                                "stream": summary.stream, "group": summary.group, "key": summary.key,
                                "count": summary.count, "reasons": summary.countsByReason,
                            ] as [String: Any]
                        }
                    ])
                } else if summaries.isEmpty {
                    print("no dead letters")
                } else {
                    Output.printTable(
                        ["STREAM", "GROUP", "DEAD LETTERS", "BY REASON"],
                        summaries.map { summary in
                            let reasons = summary.countsByReason.sorted { $0.key < $1.key }
                                .map { "\($0.key.isEmpty ? "(none)" : $0.key)=\($0.value)" }.joined(separator: " ")
                            return [summary.stream, summary.group, "\(summary.count)", reasons]
                        }, numeric: [2])
                }
            }
        }

        /// The dead letters of each partitioned stream's partitions as one row per stream
        /// and group, with the count in each partition.
        func runPartitioned(_ layout: StreamPartitions) async throws {
            try await options.withClient { client in
                let summaries = try await DeadLetterStore(client: client).list(partitions: layout)
                if options.json {
                    Output.printJSON([
                        "partition_count": layout.count,
                        "dead_letter_streams": summaries.map { summary in
                            var object: [String: Any] = [
                                "stream": summary.stream, "group": summary.group, "key": summary.key,
                                "count": summary.count, "reasons": summary.countsByReason,
                            ]
                            if !summary.partitions.isEmpty {
                                object["partitions"] = summary.partitions.map { partition in
                                    [
                                        "partition": partition.partition ?? 0, "stream": partition.stream,
                                        "key": partition.key, "count": partition.count, "reasons": partition.countsByReason,
                                    ] as [String: Any]
                                }
                            }
                            return object
                        },
                    ])
                } else if summaries.isEmpty {
                    print("no dead letters")
                } else {
                    Output.printTable(
                        ["STREAM", "GROUP", "DEAD LETTERS", "PARTITIONS", "BY REASON"],
                        summaries.map { summary in
                            let reasons = summary.countsByReason.sorted { $0.key < $1.key }
                                .map { "\($0.key.isEmpty ? "(none)" : $0.key)=\($0.value)" }.joined(separator: " ")
                            let partitions = summary.partitions.isEmpty
                                ? "-"
                                : summary.partitions.map { "\(Output.partitionLabel($0.stream))=\($0.count)" }
                                    .joined(separator: " ")
                            return [summary.stream, summary.group, "\(summary.count)", partitions, reasons]
                        }, numeric: [2])
                }
            }
        }
    }

    // MARK: show

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The dead letters of a group, oldest first.")

        @OptionGroup var options: GlobalOptions
        @Argument(help: "The original stream.") var stream: String
        @Argument(help: "The consumer group.") var group: String
        @Option(help: "Only this reason (\(DeadLetter.Reason.allCases.map(\.rawValue).joined(separator: ", "))).")
        var reason: DeadLetter.Reason?
        @Option(help: "At most this many.") var limit = 100

        func validate() throws {
            guard limit > 0 else { throw ValidationError("--limit must be at least 1") }
        }

        func run() async throws {
            let layout = options.partitionLayout(of: stream)
            try await options.withClient { client in
                let store = DeadLetterStore(client: client)
                let records = if let layout {
                    try await store.show(stream: stream, group: group, partitions: layout, reason: reason, limit: limit)
                } else {
                    try await store.show(stream: stream, group: group, reason: reason, limit: limit)
                }
                if options.json {
                    var document: [String: Any] = [
                        "stream": stream, "group": group, "key": DeadLetter.streamKey(stream: stream, group: group),
                        "dead_letters": records.map(Self.json),
                    ]
                    if let layout {
                        // Where each one is: its partition's dead letters and stream.
                        document["key"] = DeadLetterStore.keyPattern(stream: stream, group: group, partitions: layout)
                        document["partition_count"] = layout.count
                        document["dead_letters"] = records.map { record in
                            Self.json(record).merging([
                                "dead_letter_stream": Output.json(record.deadLetterStream),
                                "partition": Output.json(record.originalStream.flatMap { layout.parse($0)?.partition }),
                            ]) { $1 }
                        }
                    }
                    Output.printJSON(document)
                } else if records.isEmpty {
                    print("no dead letters match")
                } else {
                    records.forEach(Self.printRecord)
                }
            }
        }

        static func json(_ record: DeadLetterRecord) -> [String: Any] {
            [
                "id": record.id.description, "original_stream": Output.json(record.originalStream),
                "original_entry_id": Output.json(record.originalEntryID?.description),
                "group": Output.json(record.group), "consumer": Output.json(record.consumer),
                "deliveries": Output.json(record.deliveries), "reason": Output.json(record.reasonText),
                "error": Output.json(record.error), "failed_at": Output.json(record.failedAt),
                "event_type": Output.json(record.eventType), "event_id": Output.json(record.eventID),
                "fields": record.originalFields.map { field in
                    var object: [String: Any] = ["name": field.nameText, "value": field.valueText]
                    if !field.isValueValidUTF8 { object["value_base64"] = Data(field.value).base64EncodedString() }
                    return object
                },
            ]
        }

        static func printRecord(_ record: DeadLetterRecord) {
            print(
                "\(record.id)  \(record.eventType ?? "(no event_type)")  \(record.reasonText ?? "(no reason)")  "
                    + "deliveries=\(Output.text(record.deliveries))  failed_at=\(record.failedAt ?? "-")")
            var rows: [[String]] = [
                ["  original", "\(record.originalStream ?? "-") \(Output.text(record.originalEntryID))"],
                ["  consumer", record.consumer ?? "-"],
                ["  error", Output.short(record.error ?? "-", 200)],
            ]
            for field in record.originalFields {
                let value = field.isValueValidUTF8 ? field.valueText : "(invalid UTF-8) \(field.valueText)"
                rows.append(["  " + field.nameText, Output.short(value, 200)])
            }
            let width = rows.map { $0[0].count }.max() ?? 0
            for row in rows { print(row[0] + String(repeating: " ", count: width - row[0].count) + "  " + row[1]) }
            print()
        }
    }

    // MARK: replay

    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Publish dead letters again to their stream (new id, meta.replayed_from), for their group only, and remove them.",
            discussion: """
                A dead letter whose original entry is older than the consumers' processed-marker TTL \
                (--marker-ttl-hours, default $PROCESSED_MARKER_TTL_HOURS or 168) is refused unless --force: \
                its event may have been applied and its processed record expired, so a replay could apply it twice. \
                Exit status 1 when any was refused.
                """)

        @OptionGroup var options: GlobalOptions
        @Argument(help: "The original stream.") var stream: String
        @Argument(help: "The consumer group.") var group: String
        @Option(help: "One dead letter, by its id in the dead-letter stream.") var id: StreamEntryID?
        @Flag(help: "Every dead letter.") var all = false
        @Option(help: "Every dead letter with this reason.") var reason: DeadLetter.Reason?
        @Option(
            name: .customLong("marker-ttl-hours"),
            help: ArgumentHelp(
                "How long the consumers keep processed-event markers (default: $PROCESSED_MARKER_TTL_HOURS, else 168). Dead letters whose original entry is older are refused.",
                valueName: "hours"))
        var markerTTLHours: Int?
        @Flag(help: "Replay dead letters older than the marker TTL too (their event may then be applied twice).")
        var force = false

        func validate() throws {
            let chosen = [id != nil, all, reason != nil].filter { $0 }.count
            guard chosen == 1 else {
                throw ValidationError("choose exactly one of --id ID, --all or --reason REASON")
            }
            _ = try resolvedMarkerTTLHours()
        }

        /// `--marker-ttl-hours`, else `PROCESSED_MARKER_TTL_HOURS` (read as the services read
        /// it: whole hours, 1...87600), else 168.
        func resolvedMarkerTTLHours() throws -> Int {
            let range = 1...87_600
            if let markerTTLHours {
                guard range.contains(markerTTLHours) else {
                    throw ValidationError("--marker-ttl-hours must be in \(range.lowerBound)...\(range.upperBound), got \(markerTTLHours)")
                }
                return markerTTLHours
            }
            guard let text = ProcessInfo.processInfo.environment["PROCESSED_MARKER_TTL_HOURS"], !text.isEmpty else { return 168 }
            guard let hours = Int(text), range.contains(hours) else {
                throw ValidationError(
                    "PROCESSED_MARKER_TTL_HOURS must be a whole number of hours in \(range.lowerBound)...\(range.upperBound), got '\(text)'")
            }
            return hours
        }

        func run() async throws {
            let selection: DeadLetterSelection = if let id { .id(id) } else if let reason { .reason(reason) } else { .all }
            let hours = try resolvedMarkerTTLHours()
            var refusedCount = 0
            let layout = options.partitionLayout(of: stream)
            try await options.withClient { client in
                let store = DeadLetterStore(client: client)
                let markerTTL: Duration? = force ? nil : .seconds(hours * 3600)
                let report = if let layout {
                    try await store.replay(
                        stream: stream, group: group, partitions: layout, selection: selection, markerTTL: markerTTL)
                } else {
                    try await store.replay(stream: stream, group: group, selection: selection, markerTTL: markerTTL)
                }
                refusedCount = report.refused.count
                // With partitions, each item also names its partition stream.
                func withStream(_ object: [String: Any], _ partition: String) -> [String: Any] {
                    layout == nil ? object : object.merging(["stream": partition]) { $1 }
                }
                if options.json {
                    var document: [String: Any] = [
                        "stream": stream, "group": group,
                        "replayed": report.replayed.map { replayed in
                            withStream([
                                "dead_letter_id": replayed.deadLetterID.description,
                                "original_entry_id": Output.json(replayed.originalEntryID?.description),
                                "new_entry_id": replayed.newEntryID.description,
                            ], replayed.stream)
                        },
                        "skipped": report.skipped.map {
                            withStream(["dead_letter_id": $0.deadLetterID.description, "reason": $0.reason], $0.stream)
                        },
                        "refused": report.refused.map {
                            withStream(["dead_letter_id": $0.deadLetterID.description, "reason": $0.reason], $0.stream)
                        },
                    ]
                    if let layout { document["partition_count"] = layout.count }
                    Output.printJSON(document)
                    return
                }
                if layout == nil {
                    print("replayed \(report.replayed.count) dead letter(s) to \(stream), skipped \(report.skipped.count)")
                } else {
                    print(
                        "replayed \(report.replayed.count) dead letter(s) to the partitions of \(stream) they came from, "
                            + "skipped \(report.skipped.count)")
                }
                if !report.replayed.isEmpty {
                    if layout == nil {
                        Output.printTable(
                            ["DEAD LETTER", "ORIGINAL ID", "NEW ID"],
                            report.replayed.map {
                                [$0.deadLetterID.description, Output.text($0.originalEntryID), $0.newEntryID.description]
                            })
                    } else {
                        Output.printTable(
                            ["DEAD LETTER", "PARTITION", "ORIGINAL ID", "NEW ID"],
                            report.replayed.map {
                                [$0.deadLetterID.description, $0.stream, Output.text($0.originalEntryID), $0.newEntryID.description]
                            })
                    }
                }
                if !report.skipped.isEmpty {
                    if layout == nil {
                        Output.printTable(["SKIPPED", "WHY"], report.skipped.map { [$0.deadLetterID.description, $0.reason] })
                    } else {
                        Output.printTable(
                            ["SKIPPED", "PARTITION", "WHY"], report.skipped.map { [$0.deadLetterID.description, $0.stream, $0.reason] })
                    }
                }
                if !report.refused.isEmpty {
                    if layout == nil {
                        Output.printTable(["REFUSED", "WHY"], report.refused.map { [$0.deadLetterID.description, $0.reason] })
                    } else {
                        Output.printTable(
                            ["REFUSED", "PARTITION", "WHY"], report.refused.map { [$0.deadLetterID.description, $0.stream, $0.reason] })
                    }
                }
            }
            if refusedCount > 0 {
                Output.printError(
                    "refused \(refusedCount) dead letter(s) older than the processed-marker TTL (\(hours) h): their event may "
                        + "have been applied and its processed record may have expired, so replaying could apply it a second "
                        + "time (a second notification or webhook, counted twice). Check that each was not applied, then "
                        + "replay it with --force (or give --marker-ttl-hours / PROCESSED_MARKER_TTL_HOURS as the consumers use).")
                throw ExitCode.failure
            }
        }
    }

    // MARK: purge

    struct Purge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete dead letters: all of them, or those with a reason and/or older than an age.")

        @OptionGroup var options: GlobalOptions
        @Argument(help: "The original stream.") var stream: String
        @Argument(help: "The consumer group.") var group: String
        @Option(help: "Only this reason.") var reason: DeadLetter.Reason?
        @Option(name: .customLong("older-than"), help: "Only dead letters older than this (30s, 15m, 2h, 7d).")
        var olderThan: AgeArgument?

        func run() async throws {
            if let layout = options.partitionLayout(of: stream) {
                try await options.withClient { client in
                    let counts = try await DeadLetterStore(client: client).purge(
                        stream: stream, group: group, partitions: layout, reason: reason, olderThan: olderThan?.duration)
                    let removed = counts.map(\.removed).reduce(0, +)
                    let key = DeadLetterStore.keyPattern(stream: stream, group: group, partitions: layout)
                    if options.json {
                        Output.printJSON([
                            "stream": stream, "group": group, "key": key, "removed": removed,
                            "reason": Output.json(reason?.rawValue), "older_than": Output.json(olderThan?.text),
                            "partition_count": layout.count,
                            "partitions": counts.map {
                                ["partition": $0.partition, "key": $0.key, "removed": $0.removed] as [String: Any]
                            },
                        ])
                    } else {
                        let each = counts.map { "{\(layout.tags[$0.partition])}=\($0.removed)" }
                        print("purged \(removed) dead letter(s) from \(key) (\(layout.count) partitions: \(each.joined(separator: " ")))")
                    }
                }
                return
            }
            try await options.withClient { client in
                let removed = try await DeadLetterStore(client: client).purge(
                    stream: stream, group: group, reason: reason, olderThan: olderThan?.duration)
                let key = DeadLetter.streamKey(stream: stream, group: group)
                if options.json {
                    Output.printJSON([
                        "stream": stream, "group": group, "key": key, "removed": removed,
                        "reason": Output.json(reason?.rawValue), "older_than": Output.json(olderThan?.text),
                    ])
                } else {
                    print("purged \(removed) dead letter(s) from \(key)")
                }
            }
        }
    }
}
