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
}

/// `streamsctl groups <stream>`
struct GroupsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "groups", abstract: "A stream's length and its consumer groups: consumers, pending, lag.")

    @OptionGroup var options: GlobalOptions
    @Argument(help: "The stream.") var stream: String

    func run() async throws {
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
