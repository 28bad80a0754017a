import AnalyticsService
import ArgumentParser
import EventBus
import Foundation
import Projections
import RedisClient

/// `streamsctl projections list|rebuild`
struct ProjectionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "projections",
        abstract: "Read models kept by transactional consumer groups: their positions, and rebuilds.",
        discussion: """
            The projections are the ones this CLI knows (analytics-service: group analytics-service \
            on todo-events, read model analytics:*) plus any with a state key projection:<name>:state \
            (its stream is in the key's field stream). Only known projections can be rebuilt: a \
            rebuild needs their handlers to replay the aggregate histories.
            """,
        subcommands: [ProjectionsListCommand.self, ProjectionsRebuildCommand.self]
    )

    /// The projections this CLI can rebuild.
    static let known: [Projection] = [AnalyticsHandlers.projection]

    /// The projections this CLI can rebuild, on streams of `partitions` partitions.
    static func known(_ partitions: StreamPartitions) -> [Projection] {
        partitions.count == 1 ? known : [AnalyticsHandlers.projection(partitions: partitions)]
    }
}

/// `streamsctl projections list`
struct ProjectionsListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "Every projection: stream, position (last-delivered id), lag, pending, status.",
        discussion: """
            A rebuild whose group has caught up (last-delivered id at the stream's last id, \
            nothing pending) is marked ready on the way.
            """)

    @OptionGroup var options: GlobalOptions

    func run() async throws {
        let layout = options.resolvedPartitions
        try await options.withClient { client in
            var streams: [String: String] = [:]
            for projection in ProjectionsCommand.known(layout) { streams[projection.name] = projection.stream }
            for name in try await ProjectionRebuilder.namesWithState(client: client) where streams[name] == nil {
                if let stream = try await client.hgetall(ProjectionKeys.state(name))["stream"], !stream.isEmpty {
                    streams[name] = stream
                }
            }
            var positions: [ProjectionPosition] = []
            for (name, stream) in streams.sorted(by: { $0.key < $1.key }) {
                positions.append(
                    try await ProjectionRebuilder.refresh(name: name, stream: stream, partitions: layout, client: client))
            }
            if options.json {
                Output.printJSON([
                    "projections": positions.map { position -> [String: Any] in
                        var object: [String: Any] = [
                            "name": position.name, "stream": position.stream,
                            "position": Output.json(Self.positionText(position)), "lag": Output.json(position.lag),
                            "pending": position.pending, "status": position.statusText,
                            "phase": Output.json(position.phase),
                        ]
                        if !position.partitions.isEmpty {
                            object["partitions"] = position.partitions.map { partition in
                                [
                                    "stream": partition.stream, "position": Output.json(partition.lastDeliveredID),
                                    "lag": Output.json(partition.lag), "pending": partition.pending,
                                ] as [String: Any]
                            }
                        }
                        return object
                    }
                ])
            } else {
                Output.printTable(
                    ["NAME", "STREAM", "POSITION", "LAG", "PENDING", "STATUS"],
                    positions.map {
                        [
                            $0.name, $0.stream, Self.positionText($0) ?? "-", Output.text($0.lag), "\($0.pending)",
                            $0.statusText,
                        ]
                    }, numeric: [3, 4])
            }
        }
    }

    /// The group's last-delivered id; for a partitioned stream, the newest over its partitions
    /// (lag and pending are already sums).
    static func positionText(_ position: ProjectionPosition) -> String? {
        guard !position.partitions.isEmpty else { return position.lastDeliveredID }
        return position.partitions.compactMap { $0.lastDeliveredID.flatMap(StreamEntryID.init) }.max()?.description
    }
}

/// `streamsctl projections rebuild <name> [--wait]`
struct ProjectionsRebuildCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebuild",
        abstract: "Rebuild a projection's read model from its stream (and the histories when the stream was trimmed).",
        discussion: """
            Runs as the operator: marks the projection rebuilding, deletes its read model and \
            processed markers in one script, replays the aggregate histories when the stream \
            was trimmed, then sets the group back to 0 so that its running consumers re-read \
            the stream. --wait polls until the group has caught up and marks it ready (needs \
            the service's consumers to be running).
            """)

    @OptionGroup var options: GlobalOptions
    @Argument(help: "The projection (its group's name), e.g. analytics-service.") var name: String
    @Flag(help: "Wait until the group has caught up with the stream.") var wait = false
    @Option(help: "With --wait: give up after this many seconds (exit code 1).") var timeout = 600

    func run() async throws {
        guard let projection = ProjectionsCommand.known(options.resolvedPartitions).first(where: { $0.name == name }) else {
            options.fail(
                "unknown projection \(name) (known: \(ProjectionsCommand.known.map(\.name).joined(separator: ", ")))")
        }
        try await options.withClient { client in
            let rebuilder = ProjectionRebuilder(projection: projection, client: client)
            let report = try await rebuilder.rebuild { line in if !options.json { print(line) } }
            var caughtUp: Bool?
            if wait {
                let waited = try await rebuilder.waitUntilCaughtUp(timeout: .seconds(timeout)) { position in
                    if !options.json {
                        print("\(name): position \(position.lastDeliveredID ?? "-"), pending \(position.pending), status \(position.statusText)")
                    }
                }
                caughtUp = waited
            }
            if options.json {
                Output.printJSON([
                    "name": name, "generation": report.generation, "deleted_keys": report.deletedKeys,
                    "stream_was_trimmed": report.streamWasTrimmed, "histories_replayed": report.historiesReplayed,
                    "history_events_replayed": report.historyEventsReplayed, "caught_up": Output.json(caughtUp),
                ])
            } else if caughtUp == true {
                print("\(name): ready")
            } else if caughtUp == nil {
                print("\(name): rebuilding; the consumers are catching up (streamsctl projections list shows when it is ready)")
            }
            if caughtUp == false { options.fail("\(name): not caught up after \(timeout) s") }
        }
    }
}
