import ArgumentParser
import Dispatch
import EventBus
import Foundation
import RedisClient
import Synchronization

/// `streamsctl tail <stream> [--follow] [--type T] [--count N] [--from ID]`
struct TailCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tail",
        abstract: "The newest entries of a stream decoded as events, one per line; --follow for new ones.",
        discussion: """
            Each line: <entry id>  <timestamp>  <event_type> v<version>  <aggregate_id>  <data JSON>; \
            an entry that is not a valid event prints <entry id>  (not an event: <reason>) <fields>. \
            With --json, one JSON object per line (JSON Lines). --from ID prints the first --count \
            entries from ID (inclusive) instead of the newest ones. --follow then prints new entries \
            as they arrive (XREAD BLOCK) until SIGINT or SIGTERM, and exits 0.
            """)

    @OptionGroup var options: GlobalOptions
    @Argument(help: "The stream.") var stream: String
    @Flag(name: [.customShort("f"), .long], help: "Keep printing new entries until interrupted.") var follow = false
    @Option(help: "Only events of this event_type.") var type: String?
    @Option(name: [.customShort("n"), .long], help: "Print this many entries (0: none, e.g. with --follow).")
    var count = 20
    @Option(help: "Start at this entry id (inclusive), oldest first, instead of the newest entries.")
    var from: StreamEntryID?

    func validate() throws {
        guard count >= 0 else { throw ValidationError("--count must not be negative") }
    }

    func run() async throws {
        // Installed first, so an interrupt during the first read is not lost either.
        let stop = follow ? StopRequest.onInterrupt() : nil
        if let layout = options.partitionLayout(of: stream) { return try await runPartitioned(layout, stop: stop) }
        try await options.withClient { client in
            let info = try await StreamInspector(client: client).streamInfo(stream: stream)
            let snapshotEnd = info.lastGeneratedID ?? info.lastEntryID ?? StreamEntryID(milliseconds: 0, sequence: 0)
            let reader = EntryReader(client: client, stream: stream)
            var followAfter: StreamEntryID
            if let from {
                var printed = 0
                var lastPrinted: StreamEntryID?
                var lastSeen: StreamEntryID?
                if count > 0 {
                    try await reader.forEachPage(from: from.description, to: "+") { entries in
                        for entry in entries {
                            lastSeen = entry.id
                            guard EventLine.matches(entry, type: type) else { continue }
                            print(EventLine.text(entry, stream: stream, json: options.json))
                            lastPrinted = entry.id
                            printed += 1
                            if printed == count { return false }
                        }
                        return true
                    }
                }
                if printed == count && count > 0, let lastPrinted {
                    followAfter = lastPrinted
                } else if count == 0 {
                    followAfter = from.predecessor
                } else {
                    followAfter = lastSeen ?? max(snapshotEnd, from.predecessor)
                }
            } else {
                if count > 0, let start = try await reader.startOfLast(count, type: type, upTo: snapshotEnd) {
                    try await reader.forEachPage(from: start, to: snapshotEnd.description) { entries in
                        for entry in entries where EventLine.matches(entry, type: type) {
                            print(EventLine.text(entry, stream: stream, json: options.json))
                        }
                        return true
                    }
                }
                followAfter = snapshotEnd
            }
            guard let stop else { return }
            fflush(nil)
            while !stop.isRequested {
                var command = RedisCommand("XREAD", "COUNT", "1000", "BLOCK", "1000", "STREAMS", stream)
                command.append(followAfter)
                let entries = try await client.readEntries([command], block: .seconds(1))
                for entry in entries {
                    followAfter = entry.id
                    if EventLine.matches(entry, type: type) {
                        print(EventLine.text(entry, stream: stream, json: options.json))
                    }
                }
                if !entries.isEmpty { fflush(nil) }
            }
        }
    }
}

extension TailCommand {
    /// Every partition of the stream, merged by entry id (each line names its partition).
    /// `--follow` reads new entries of every partition: one `XREAD BLOCK` over all of them on
    /// one server; on a cluster (partitions in other slots) a non-blocking `XREAD` per
    /// partition, pipelined, every 200 ms.
    func runPartitioned(_ layout: StreamPartitions, stop: StopRequest?) async throws {
        try await options.withClient { client in
            let keys = layout.streamKeys(stream)
            let existing = try await PartitionReading.existing(client, stream: stream, layout: layout)
            var followAfter: [String: StreamEntryID] = [:]
            var collected: [(key: String, entry: StreamEntry)] = []
            let zero = StreamEntryID(milliseconds: 0, sequence: 0)
            for key in keys where !existing.contains(key) { followAfter[key] = from?.predecessor ?? zero }
            var snapshotEnds: [String: StreamEntryID] = [:]
            for key in existing {
                let info = try await StreamInspector(client: client).streamInfo(stream: key)
                snapshotEnds[key] = info.lastGeneratedID ?? info.lastEntryID ?? zero
            }
            var printedCut: StreamEntryID?
            if let from {
                // Up to `count` matching entries of each partition from `from`; the first `count` over all.
                var lastSeen: [String: StreamEntryID] = [:]
                if count > 0 {
                    for key in existing {
                        var taken = 0
                        try await EntryReader(client: client, stream: key).forEachPage(from: from.description, to: "+") { entries in
                            for entry in entries {
                                lastSeen[key] = entry.id
                                guard EventLine.matches(entry, type: type) else { continue }
                                collected.append((key, entry))
                                taken += 1
                                if taken == count { return false }
                            }
                            return true
                        }
                    }
                }
                collected = Array(PartitionReading.sorted(collected).prefix(count))
                if count > 0, collected.count == count, let last = collected.last { printedCut = last.entry.id }
                for key in existing {
                    if let printedCut {
                        followAfter[key] = printedCut
                    } else if count == 0 {
                        followAfter[key] = from.predecessor
                    } else {
                        followAfter[key] = lastSeen[key] ?? max(snapshotEnds[key] ?? zero, from.predecessor)
                    }
                }
            } else {
                for key in existing {
                    let end = snapshotEnds[key] ?? zero
                    followAfter[key] = end
                    let reader = EntryReader(client: client, stream: key)
                    guard count > 0, let start = try await reader.startOfLast(count, type: type, upTo: end) else { continue }
                    try await reader.forEachPage(from: start, to: end.description) { entries in
                        for entry in entries where EventLine.matches(entry, type: type) { collected.append((key, entry)) }
                        return true
                    }
                }
                collected = Array(PartitionReading.sorted(collected).suffix(count))
            }
            for (key, entry) in collected {
                print(EventLine.text(entry, stream: key, json: options.json, partition: true))
            }
            guard let stop else { return }
            fflush(nil)
            var polling = client.isClustered
            while !stop.isRequested {
                var read: [(key: String, entry: StreamEntry)] = []
                if !polling {
                    var command = RedisCommand("XREAD", "COUNT", "1000", "BLOCK", "1000", "STREAMS")
                    for key in keys { command.append(key) }
                    for key in keys { command.append(followAfter[key] ?? zero) }
                    do {
                        let reply = try await client.send(command, timeout: client.configuration.commandTimeout + .seconds(1))
                        read = PartitionReading.entries(reply)
                    } catch let error as RedisError where error.message.hasPrefix("CROSSSLOT") {
                        polling = true  // a cluster: one read per partition from now on
                        continue
                    }
                } else {
                    let replies = try await client.pipeline(
                        keys.map { key in
                            var command = RedisCommand("XREAD", "COUNT", "1000", "STREAMS", key)
                            command.append(followAfter[key] ?? zero)
                            return command
                        })
                    for reply in replies { read += PartitionReading.entries(try reply.throwingError()) }
                    if read.isEmpty {
                        try? await Task.sleep(for: .milliseconds(200))
                        continue
                    }
                }
                for (key, entry) in PartitionReading.sorted(read) {
                    followAfter[key] = max(followAfter[key] ?? zero, entry.id)
                    if EventLine.matches(entry, type: type) {
                        print(EventLine.text(entry, stream: key, json: options.json, partition: true))
                    }
                }
                if !read.isEmpty { fflush(nil) }
            }
        }
    }
}

/// Reading the partition streams of a stream.
enum PartitionReading {
    /// The partition streams of `stream` that exist, in partition order; none exits 1 with
    /// `stream X does not exist`; a partition key of another type exits 1 too.
    static func existing(_ client: RedisClient, stream: String, layout: StreamPartitions) async throws -> [String] {
        let keys = layout.streamKeys(stream)
        let types = try await client.pipeline(keys.map { RedisCommand("TYPE", $0) })
        var existing: [String] = []
        for (key, reply) in zip(keys, types) {
            switch try reply.throwingError().string ?? "none" {
            case "stream": existing.append(key)
            case "none": continue
            case let type: throw EventBusError(.wrongType, "WRONGTYPE key \(key) holds a \(type), not a stream")
            }
        }
        guard !existing.isEmpty else {
            throw EventBusError(
                .noSuchStream,
                "stream \(stream) does not exist (none of its \(layout.count) partition streams \(keys[0]) .. \(keys[keys.count - 1]))")
        }
        return existing
    }

    /// Entries of several partitions in entry id order (then partition key).
    static func sorted(_ entries: [(key: String, entry: StreamEntry)]) -> [(key: String, entry: StreamEntry)] {
        entries.sorted { ($0.entry.id, $0.key) < ($1.entry.id, $1.key) }
    }

    /// The entries of an `XREAD` reply (`[[stream, [[id, [field, value, ...]], ...]], ...]`, or nil).
    static func entries(_ reply: RedisReply) -> [(key: String, entry: StreamEntry)] {
        var result: [(key: String, entry: StreamEntry)] = []
        for stream in reply.array ?? [] {
            guard let parts = stream.array, parts.count == 2, let key = parts[0].string else { continue }
            for item in parts[1].array ?? [] {
                guard let pair = item.array, pair.count == 2, let id = pair[0].string.flatMap({ StreamEntryID($0) }) else { continue }
                let flat = pair[1].array ?? []
                var fields: [(String, String)] = []
                var index = 0
                while index + 1 < flat.count {
                    fields.append((flat[index].string ?? "", flat[index + 1].string ?? ""))
                    index += 2
                }
                result.append((key, StreamEntry(id: id, fields: fields)))
            }
        }
        return result
    }
}

/// `streamsctl events <stream> --aggregate <id>`
struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "One aggregate's events, in stream order (same lines as tail).",
        discussion: """
            Reads the whole stream (XRANGE, 1000 entries a page) and keeps the entries whose \
            aggregate_id is the one given. Nothing found: a message on standard error, exit 0.
            """)

    @OptionGroup var options: GlobalOptions
    @Argument(help: "The stream.") var stream: String
    @Option(help: "The aggregate id.") var aggregate: String

    func run() async throws {
        if let layout = options.partitionLayout(of: stream) {
            // Every partition is read (a type may partition by another key than the aggregate
            // id); the matches are printed in entry id order, each naming its partition.
            try await options.withClient { client in
                var found: [(key: String, entry: StreamEntry)] = []
                for key in try await PartitionReading.existing(client, stream: stream, layout: layout) {
                    try await EntryReader(client: client, stream: key).forEachPage(from: "-", to: "+") { entries in
                        for entry in entries
                        where entry.value(named: EventStreamFields.aggregateID)?.elementsEqual(aggregate.utf8) ?? false {
                            found.append((key, entry))
                        }
                        return true
                    }
                }
                for (key, entry) in PartitionReading.sorted(found) {
                    print(EventLine.text(entry, stream: key, json: options.json, partition: true))
                }
                if found.isEmpty { Output.printError("no events for aggregate \(aggregate)") }
            }
            return
        }
        try await options.withClient { client in
            _ = try await StreamInspector(client: client).streamInfo(stream: stream)
            var found = 0
            try await EntryReader(client: client, stream: stream).forEachPage(from: "-", to: "+") { entries in
                for entry in entries
                where entry.value(named: EventStreamFields.aggregateID)?.elementsEqual(aggregate.utf8) ?? false {
                    print(EventLine.text(entry, stream: stream, json: options.json))
                    found += 1
                }
                return true
            }
            if found == 0 { Output.printError("no events for aggregate \(aggregate)") }
        }
    }
}

/// Reads a stream in `XRANGE` pages.
struct EntryReader {
    static let pageSize = 1000
    let client: RedisClient
    let stream: String

    /// Calls `body` with each page of entries from `start` to `end` (both inclusive,
    /// `XRANGE` syntax), oldest first, until the range is read or `body` returns false.
    func forEachPage(from start: String, to end: String, _ body: ([StreamEntry]) throws -> Bool) async throws {
        var start = start
        while true {
            let entries = try await client.xrange(stream, from: start, to: end, count: Self.pageSize)
            guard try body(entries), entries.count == Self.pageSize, let last = entries.last else { return }
            start = "(\(last.id)"
        }
    }

    /// The id (as an `XRANGE` start) from which the newest `count` entries of `type` (any
    /// type when nil) up to `end` begin: reads backwards with `XREVRANGE`, ids and
    /// `event_type` only looked at. `-` when there are fewer; nil when there are none.
    func startOfLast(_ count: Int, type: String?, upTo end: StreamEntryID) async throws -> String? {
        var matched = 0
        var earliest: String?
        var upper = end.description
        while true {
            let page = type == nil ? count - matched : Self.pageSize
            let reply = try await client.send("XREVRANGE", stream, upper, "-", "COUNT", "\(page)")
            let entries = reply.array ?? []
            for entry in entries {
                guard let parts = entry.array, parts.count == 2, let id = parts[0].string else { continue }
                upper = "(\(id)"
                if let type {
                    let fields = parts[1].array ?? []
                    let isMatch = stride(from: 0, to: fields.count - 1, by: 2).contains { index in
                        fields[index].string == EventStreamFields.eventType && fields[index + 1].string == type
                    }
                    guard isMatch else { continue }
                }
                matched += 1
                earliest = id
                if matched == count { return id }
            }
            if entries.count < page { return earliest == nil ? nil : "-" }
        }
    }
}

extension StreamEntryID {
    /// The id just before this one (`0-0` stays `0-0`), so `XREAD` after it includes this one.
    var predecessor: StreamEntryID {
        if sequence > 0 { return StreamEntryID(milliseconds: milliseconds, sequence: sequence - 1) }
        if milliseconds > 0 { return StreamEntryID(milliseconds: milliseconds - 1, sequence: UInt64.max) }
        return self
    }
}

/// Records SIGINT and SIGTERM instead of dying of them, so `tail --follow` finishes its
/// read, closes its connection and exits 0.
final class StopRequest: Sendable {
    private let requested = Atomic<Bool>(false)
    /// The signal sources, alive as long as the request (set once, in `init`; the mutex
    /// makes the non-Sendable sources safe to hold in a Sendable class).
    private let sources: Mutex<[any DispatchSourceSignal]>

    var isRequested: Bool { requested.load(ordering: .acquiring) }

    private init() {
        sources = Mutex(
            [SIGINT, SIGTERM].map { signalNumber in
                signal(signalNumber, SIG_IGN)
                return DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            })
    }

    /// Starts recording SIGINT and SIGTERM (their default action, dying, is turned off).
    static func onInterrupt() -> StopRequest {
        let stop = StopRequest()
        stop.sources.withLock { sources in
            for source in sources {
                source.setEventHandler { [weak stop] in stop?.requested.store(true, ordering: .releasing) }
                source.resume()
            }
        }
        return stop
    }
}
