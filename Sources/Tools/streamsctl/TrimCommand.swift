import ArgumentParser
import EventBus
import RedisClient

/// `streamsctl trim <stream> (--safe [--maxlen N] | --maxlen N)`
struct TrimCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trim",
        abstract: "Trim a stream: --safe never removes what a group has not handled; --maxlen alone can.",
        discussion: """
            --safe: remove the entries every group has acknowledged and been delivered past; with \
            --maxlen N, keep at least the newest N entries as well. A lagging group holds the \
            trim back. A stream with no group is not trimmed by --safe without --maxlen.
            --maxlen N alone: XTRIM MAXLEN, keeps the newest N entries whatever the groups \
            still need (pending or unread entries can be lost).
            """)

    @OptionGroup var options: GlobalOptions
    @Argument(help: "The stream.") var stream: String
    @Flag(help: "Never remove an entry a consumer group has not handled.") var safe = false
    @Option(name: .customLong("maxlen"), help: "Keep (at least, with --safe) the newest N entries.")
    var maxLength: Int?
    @Flag(help: "Let Redis trim whole internal nodes only (~): cheaper, may keep a few more.")
    var approximate = false

    func validate() throws {
        guard safe || maxLength != nil else { throw ValidationError("give --safe [--maxlen N] or --maxlen N") }
        if let maxLength, maxLength < 0 { throw ValidationError("--maxlen must not be negative") }
    }

    func run() async throws {
        try await options.withClient { client in
            let retention = StreamRetention(client: client)
            if safe {
                let result = try await retention.trimSafely(stream: stream, maxLength: maxLength, approximate: approximate)
                if options.json {
                    Output.printJSON([
                        "stream": stream, "mode": "safe", "removed": result.removed,
                        "maxlen": Output.json(maxLength), "min_id": Output.json(result.minimumID?.description),
                        "limiting_group": Output.json(result.limitingGroup),
                    ])
                } else {
                    var line = "removed \(result.removed) entries from \(stream)"
                    if let minimumID = result.minimumID { line += " (kept ids >= \(minimumID)" }
                    if let group = result.limitingGroup { line += ", held back by group \(group)" }
                    if result.minimumID != nil { line += ")" } else { line += " (nothing to trim)" }
                    print(line)
                }
            } else if let maxLength {
                let removed = try await retention.trim(stream: stream, maxLength: maxLength, approximate: approximate)
                if options.json {
                    Output.printJSON(["stream": stream, "mode": "maxlen", "removed": removed, "maxlen": maxLength])
                } else {
                    print("removed \(removed) entries from \(stream) (MAXLEN \(approximate ? "~ " : "")\(maxLength))")
                }
            }
        }
    }
}
