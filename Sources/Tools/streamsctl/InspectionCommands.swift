import ArgumentParser
import EventBus
import Foundation
import RedisClient

/// `streamsctl pending <stream> <group>`
struct PendingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pending", abstract: "A group's pending (delivered, unacknowledged) entries, oldest first.")

    @OptionGroup var options: GlobalOptions
    @Argument(help: "The stream.") var stream: String
    @Argument(help: "The consumer group.") var group: String
    @Option(help: "At most this many entries.") var limit = 100

    func validate() throws {
        guard limit >= 0 else { throw ValidationError("--limit must not be negative") }
    }

    func run() async throws {
        if let layout = options.partitionLayout(of: stream) { return try await runPartitioned(layout) }
        try await options.withClient { client in
            let report = try await StreamInspector(client: client).pending(stream: stream, group: group, limit: limit)
            if options.json {
                Output.printJSON([
                    "stream": stream, "group": group, "count": report.count,
                    "smallest_id": Output.json(report.smallestID?.description),
                    "greatest_id": Output.json(report.greatestID?.description),
                    "consumers": report.consumers.map { ["consumer": $0.consumer, "count": $0.count] as [String: Any] },
                    "entries": report.entries.map { entry in
                        [
                            "id": entry.id.description, "consumer": entry.consumer,
                            "idle_ms": Output.milliseconds(entry.idle), "deliveries": entry.deliveries,
                        ] as [String: Any]
                    },
                ])
                return
            }
            guard report.count > 0 else {
                print("\(stream) / \(group): nothing pending")
                return
            }
            print(
                "\(stream) / \(group): \(report.count) pending, ids \(Output.text(report.smallestID))"
                    + " .. \(Output.text(report.greatestID))")
            print()
            Output.printTable(["CONSUMER", "PENDING"], report.consumers.map { [$0.consumer, "\($0.count)"] }, numeric: [1])
            print()
            Output.printTable(
                ["ID", "CONSUMER", "IDLE", "DELIVERIES"],
                report.entries.map { [$0.id.description, $0.consumer, Output.text($0.idle), "\($0.deliveries)"] },
                numeric: [2, 3])
            if report.entries.count < report.count { print("(oldest \(report.entries.count) of \(report.count))") }
        }
    }

    /// Every partition of the stream: the pending entries of each, the oldest `limit` over all.
    func runPartitioned(_ layout: StreamPartitions) async throws {
        try await options.withClient { client in
            let report = try await StreamInspector(client: client).pending(
                stream: stream, group: group, partitions: layout, limit: limit)
            if options.json {
                Output.printJSON([
                    "stream": stream, "group": group, "count": report.count,
                    "smallest_id": Output.json(report.smallestID?.description),
                    "greatest_id": Output.json(report.greatestID?.description),
                    "consumers": report.consumers.map { ["consumer": $0.consumer, "count": $0.count] as [String: Any] },
                    "entries": report.entries.map { entry in
                        [
                            "id": entry.entry.id.description, "consumer": entry.entry.consumer,
                            "idle_ms": Output.milliseconds(entry.entry.idle), "deliveries": entry.entry.deliveries,
                            "partition": entry.partition, "stream": entry.stream,
                        ] as [String: Any]
                    },
                    "partition_count": layout.count,
                    "partitions": report.partitions.map { partition in
                        [
                            "partition": partition.index, "stream": partition.stream, "count": partition.report.count,
                            "smallest_id": Output.json(partition.report.smallestID?.description),
                            "greatest_id": Output.json(partition.report.greatestID?.description),
                        ] as [String: Any]
                    },
                    "partitions_without_group": report.withoutGroup, "missing_partitions": report.missing,
                ])
                return
            }
            let notes = Self.partitionNotes(report, group: group)
            guard report.count > 0 else {
                print("\(stream) / \(group): nothing pending (\(report.partitions.count) partitions)")
                notes.forEach { print($0) }
                return
            }
            print(
                "\(stream) / \(group): \(report.count) pending in \(report.partitions.count) partitions, ids "
                    + "\(Output.text(report.smallestID)) .. \(Output.text(report.greatestID))")
            notes.forEach { print($0) }
            print()
            Output.printTable(
                ["PARTITION", "PENDING", "OLDEST ID"],
                report.partitions.map { [$0.stream, "\($0.report.count)", Output.text($0.report.smallestID)] }, numeric: [1])
            print()
            Output.printTable(["CONSUMER", "PENDING"], report.consumers.map { [$0.consumer, "\($0.count)"] }, numeric: [1])
            print()
            Output.printTable(
                ["ID", "PARTITION", "CONSUMER", "IDLE", "DELIVERIES"],
                report.entries.map {
                    [$0.entry.id.description, $0.stream, $0.entry.consumer, Output.text($0.entry.idle), "\($0.entry.deliveries)"]
                },
                numeric: [3, 4])
            if report.entries.count < report.count { print("(oldest \(report.entries.count) of \(report.count))") }
        }
    }

    /// Lines about the partitions left out: without the group, or not there at all.
    static func partitionNotes(_ report: PartitionedPendingReport, group: String) -> [String] {
        var notes: [String] = []
        if !report.withoutGroup.isEmpty { notes.append("no group \(group) on " + report.withoutGroup.joined(separator: ", ")) }
        if !report.missing.isEmpty { notes.append("no such partition stream: " + report.missing.joined(separator: ", ")) }
        return notes
    }
}

/// `streamsctl groups <stream>`
struct GroupsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "groups", abstract: "A stream's length and its consumer groups: consumers, pending, lag.")

    @OptionGroup var options: GlobalOptions
    @Argument(help: "The stream.") var stream: String
    @Flag(
        name: .customLong("per-partition"),
        help: "With partitions: also each partition's length and each group's row on each partition.")
    var perPartition = false

    func run() async throws {
        if let layout = options.partitionLayout(of: stream) { return try await runPartitioned(layout) }
        try await options.withClient { client in
            let inspector = StreamInspector(client: client)
            let info = try await inspector.streamInfo(stream: stream)
            let groups = try await inspector.groups(stream: stream)
            if options.json {
                Output.printJSON([
                    "stream": [
                        "name": stream, "length": info.length,
                        "first_entry_id": Output.json(info.firstEntryID?.description),
                        "last_entry_id": Output.json(info.lastEntryID?.description),
                        "last_generated_id": Output.json(info.lastGeneratedID?.description),
                        "entries_added": Output.json(info.entriesAdded), "groups": info.groupCount,
                    ] as [String: Any],
                    "groups": groups.map(Self.json),
                ])
                return
            }
            print(
                "\(stream): \(info.length) entries (\(Output.text(info.firstEntryID)) .. \(Output.text(info.lastEntryID))),"
                    + " \(info.groupCount) group(s)")
            guard !groups.isEmpty else { return }
            print()
            Output.printTable(
                ["GROUP", "CONSUMERS", "PENDING", "LAG", "LAST DELIVERED", "ENTRIES READ"],
                groups.map { group in
                    [
                        group.name, "\(group.consumers.count)", "\(group.pending)", group.lag.map(String.init) ?? "unknown",
                        Output.text(group.lastDeliveredID), Output.text(group.entriesRead),
                    ]
                }, numeric: [1, 2, 3, 5])
            let consumers = groups.flatMap { group in
                group.consumers.map { [group.name, $0.name, "\($0.pending)", Output.text($0.idle)] }
            }
            guard !consumers.isEmpty else { return }
            print()
            Output.printTable(["GROUP", "CONSUMER", "PENDING", "IDLE"], consumers, numeric: [2, 3])
        }
    }

    /// Every partition of the stream, added up: per group, pending and lag summed over the
    /// partitions, its consumers by name; `--per-partition` adds each partition's rows.
    func runPartitioned(_ layout: StreamPartitions) async throws {
        try await options.withClient { client in
            let info = try await StreamInspector(client: client).streamInfo(stream: stream, partitions: layout)
            if options.json {
                Output.printJSON(Self.json(info))
                return
            }
            let present = info.partitions.count == info.partitionCount
                ? "\(info.partitionCount) partitions" : "\(info.partitions.count) of \(info.partitionCount) partitions"
            print(
                "\(stream): \(info.length) entries in \(present) (\(Output.text(info.firstEntryID)) .. "
                    + "\(Output.text(info.lastEntryID))), \(info.groups.count) group(s)")
            if !info.missing.isEmpty { print("no such partition stream: " + info.missing.joined(separator: ", ")) }
            if perPartition {
                print()
                Output.printTable(
                    ["PARTITION", "LENGTH", "FIRST ID", "LAST ID", "GROUPS"],
                    info.partitions.map { partition in
                        [
                            partition.stream, "\(partition.info.length)", Output.text(partition.info.firstEntryID),
                            Output.text(partition.info.lastEntryID), "\(partition.groups.count)",
                        ]
                    }, numeric: [1, 4])
            }
            guard !info.groups.isEmpty else { return }
            print()
            Output.printTable(
                ["GROUP", "PARTITIONS", "CONSUMERS", "PENDING", "LAG", "LAST DELIVERED", "ENTRIES READ"],
                info.groups.map { group in
                    [
                        group.name, "\(group.partitions.count)/\(group.partitionCount)", "\(group.consumers.count)",
                        "\(group.pending)", group.lag.map(String.init) ?? "unknown", Output.text(group.lastDeliveredID),
                        Output.text(group.entriesRead),
                    ]
                }, numeric: [1, 2, 3, 4, 6])
            if perPartition {
                print()
                Output.printTable(
                    ["GROUP", "PARTITION", "CONSUMERS", "PENDING", "LAG", "LAST DELIVERED", "ENTRIES READ"],
                    info.groups.flatMap { group in
                        group.partitions.map { partition in
                            [
                                group.name, partition.stream, "\(partition.group.consumers.count)", "\(partition.group.pending)",
                                partition.group.lag.map(String.init) ?? "unknown", Output.text(partition.group.lastDeliveredID),
                                Output.text(partition.group.entriesRead),
                            ]
                        }
                    }, numeric: [2, 3, 4, 6])
            }
            let consumers = info.groups.flatMap { group in
                let partitions = group.consumerPartitionCounts
                return group.consumers.map {
                    [group.name, $0.name, "\(partitions[$0.name] ?? 0)", "\($0.pending)", Output.text($0.idle)]
                }
            }
            guard !consumers.isEmpty else { return }
            print()
            Output.printTable(["GROUP", "CONSUMER", "PARTITIONS", "PENDING", "IDLE"], consumers, numeric: [2, 3, 4])
        }
    }

    /// The plain document's fields (totals) plus `partition_count`, `partitions` and
    /// `missing_partitions` on the stream, and each group's `partition_count` and `partitions`.
    static func json(_ info: PartitionedStreamInfo) -> [String: Any] {
        func streamJSON(_ info: StreamInfo) -> [String: Any] {
            [
                "name": info.stream, "length": info.length,
                "first_entry_id": Output.json(info.firstEntryID?.description),
                "last_entry_id": Output.json(info.lastEntryID?.description),
                "last_generated_id": Output.json(info.lastGeneratedID?.description),
                "entries_added": Output.json(info.entriesAdded), "groups": info.groupCount,
            ]
        }
        return [
            "stream": [
                "name": info.stream, "length": info.length,
                "first_entry_id": Output.json(info.firstEntryID?.description),
                "last_entry_id": Output.json(info.lastEntryID?.description),
                "last_generated_id": Output.json(info.lastGeneratedID?.description),
                "entries_added": Output.json(info.entriesAdded), "groups": info.groups.count,
                "partition_count": info.partitionCount, "missing_partitions": info.missing,
                "partitions": info.partitions.map { partition in
                    streamJSON(partition.info).merging(["partition": partition.index]) { $1 }
                },
            ] as [String: Any],
            "groups": info.groups.map { group -> [String: Any] in
                let partitions = group.consumerPartitionCounts
                return [
                    "name": group.name, "pending": group.pending, "lag": Output.json(group.lag),
                    "last_delivered_id": Output.json(group.lastDeliveredID?.description),
                    "entries_read": Output.json(group.entriesRead), "partition_count": group.partitions.count,
                    "consumers": group.consumers.map { consumer in
                        [
                            "name": consumer.name, "pending": consumer.pending, "idle_ms": Output.milliseconds(consumer.idle),
                            "partitions": partitions[consumer.name] ?? 0,
                        ] as [String: Any]
                    },
                    "partitions": group.partitions.map { partition in
                        json(partition.group).merging(["partition": partition.index, "stream": partition.stream]) { $1 }
                    },
                ]
            },
        ]
    }

    static func json(_ group: GroupInfo) -> [String: Any] {
        [
            "name": group.name, "pending": group.pending, "lag": Output.json(group.lag),
            "last_delivered_id": Output.json(group.lastDeliveredID?.description),
            "entries_read": Output.json(group.entriesRead),
            "consumers": group.consumers.map { consumer in
                ["name": consumer.name, "pending": consumer.pending, "idle_ms": Output.milliseconds(consumer.idle)]
                    as [String: Any]
            },
        ]
    }
}
