import ArgumentParser

/// The operator CLI: dead letters, pending entries, groups, retention.
@main
struct StreamsCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "streamsctl",
        abstract: "Inspect and operate Redis streams, consumer groups and dead letters."
    )
}
