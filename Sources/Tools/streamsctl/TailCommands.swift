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
