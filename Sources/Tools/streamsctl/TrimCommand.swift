import ArgumentParser
import EventBus
import Foundation
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
            With --partitions N (N > 1) each partition stream is trimmed on its own, --safe by its \
            own script and its own groups' needs, and --maxlen counts per partition (as the \
            publishers' MAXLEN does).
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
        if let layout = options.partitionLayout(of: stream) { return try await runPartitioned(layout) }
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

    /// Each partition stream trimmed on its own (one key per command or script: one slot on a
    /// cluster). Missing partition streams are left out; none at all exits 1.
    func runPartitioned(_ layout: StreamPartitions) async throws {
        try await options.withClient { client in
            let retention = StreamRetention(client: client)
            let keys = layout.streamKeys(stream)
            let types = try await client.pipeline(keys.map { RedisCommand("TYPE", $0) })
            let existing = zip(keys, types).filter { $0.1.string != "none" }.map(\.0)
            guard !existing.isEmpty else {
                options.fail("stream \(stream) does not exist (none of its \(layout.count) partition streams)")
            }
            let missing = keys.filter { !existing.contains($0) }
            if safe {
                var results: [(key: String, result: SafeTrimResult)] = []
                for key in existing {
                    results.append((key, try await retention.trimSafely(stream: key, maxLength: maxLength, approximate: approximate)))
                }
                let removed = results.map(\.result.removed).reduce(0, +)
                let limiting = Set(results.compactMap(\.result.limitingGroup))
                if options.json {
                    Output.printJSON([
                        "stream": stream, "mode": "safe", "removed": removed, "maxlen": Output.json(maxLength),
                        // One id per partition: see partitions.
                        "min_id": NSNull(), "limiting_group": Output.json(limiting.count == 1 ? limiting.first : nil),
                        "partition_count": layout.count, "missing_partitions": missing,
                        "partitions": results.map { key, result in
                            [
                                "partition": layout.parse(key)?.partition ?? 0, "stream": key, "removed": result.removed,
                                "min_id": Output.json(result.minimumID?.description),
                                "limiting_group": Output.json(result.limitingGroup),
                            ] as [String: Any]
                        },
                    ])
                } else {
                    print("removed \(removed) entries from \(stream) (\(existing.count) partitions trimmed safely, each on its own)")
                    Output.printTable(
                        ["PARTITION", "REMOVED", "KEPT IDS FROM", "HELD BACK BY"],
                        results.map { key, result in
                            [key, "\(result.removed)", result.minimumID.map { ">= \($0)" } ?? "(nothing to trim)", result.limitingGroup ?? "-"]
                        }, numeric: [1])
                    if !missing.isEmpty { print("no such partition stream: " + missing.joined(separator: ", ")) }
                }
            } else if let maxLength {
                var results: [(key: String, removed: Int)] = []
                for key in existing {
                    results.append((key, try await retention.trim(stream: key, maxLength: maxLength, approximate: approximate)))
                }
                let removed = results.map(\.removed).reduce(0, +)
                if options.json {
                    Output.printJSON([
                        "stream": stream, "mode": "maxlen", "removed": removed, "maxlen": maxLength,
                        "partition_count": layout.count, "missing_partitions": missing,
                        "partitions": results.map {
                            ["partition": layout.parse($0.key)?.partition ?? 0, "stream": $0.key, "removed": $0.removed] as [String: Any]
                        },
                    ])
                } else {
                    print(
                        "removed \(removed) entries from \(stream) (MAXLEN \(approximate ? "~ " : "")\(maxLength) on each of "
                            + "\(existing.count) partitions)")
                    Output.printTable(["PARTITION", "REMOVED"], results.map { [$0.key, "\($0.removed)"] }, numeric: [1])
                    if !missing.isEmpty { print("no such partition stream: " + missing.joined(separator: ", ")) }
                }
            }
        }
    }
}
