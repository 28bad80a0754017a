import ArgumentParser

/// The operator CLI: dead letters, pending entries, groups, retention, sagas.
@main
struct StreamsCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "streamsctl",
        abstract: "Inspect and operate Redis streams, consumer groups and dead letters.",
        discussion: """
            Every subcommand takes --redis-url (default: $REDIS_URL, else redis://127.0.0.1:6379; \
            several host:port of a Redis Cluster separated by commas), --json (one JSON document on \
            standard output instead of tables) and --partitions N (default: $STREAM_PARTITIONS, else 1: \
            a stream name then means its N partition streams <stream>:{<tag>}, added up). Errors go to \
            standard error with exit code 1.
            """,
        subcommands: [
            DeadLetterCommand.self, PendingCommand.self, GroupsCommand.self, TrimCommand.self, StreamsCommand.self,
            TailCommand.self, EventsCommand.self, SagasCommand.self, ProjectionsCommand.self,
            TraceCommand.self,
        ]
    )
}
