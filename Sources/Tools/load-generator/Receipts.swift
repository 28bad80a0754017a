import EventBus
import Histogram
import RedisClient
import Synchronization

/// The receipts of `todo.created` events seen since the start, per group and event id.
final class ReceiptBook: Sendable {
    struct Record: Sendable {
        var aggregateID: String
        /// Receipts for this event id (more than one: duplicates).
        var receipts: Int
        /// handled_at − published_at of the first receipt, in microseconds.
        var latency: Int64
    }

    struct Group: Sendable {
        var byEventID: [String: Record] = [:]
        var handledAggregates: Set<String> = []
        var receipts = 0
        /// Receipts per consumer name (how the work was shared between instances).
        var byConsumer: [String: Int] = [:]
    }

    struct Summary: Sendable {
        var group: String
        var expected: Int
        var handled: Int
        var lost: Int
        var duplicates: Int
        var deadLettered: Int
        /// Receipts of todo.created events this run did not produce (e.g. a request that
        /// timed out here but created its todo).
        var unmatched: Int
        var byConsumer: [String: Int]
        var latency: Histogram<UInt64>
    }

    private let state: Mutex<[String: Group]>

    init(groups: [String]) {
        state = Mutex(Dictionary(uniqueKeysWithValues: groups.map { ($0, Group()) }))
    }

    /// Records a batch of receipt entries; other groups and event types are ignored.
    func add(_ entries: [StreamEntry]) {
        var parsed: [(group: String, consumer: String, eventID: String, aggregateID: String, latency: Int64)] = []
        parsed.reserveCapacity(entries.count)
        for entry in entries {
            guard let type = entry.value(named: "event_type"), type.elementsEqual("todo.created".utf8),
                let group = entry.string(named: "group"), let eventID = entry.string(named: "event_id"),
                let aggregateID = entry.string(named: "aggregate_id"),
                let published = entry.value(named: "published_at").flatMap(RFC3339.parseMicroseconds),
                let handled = entry.value(named: "handled_at").flatMap(RFC3339.parseMicroseconds)
            else { continue }
            parsed.append((group, entry.string(named: "consumer") ?? "?", eventID, aggregateID, max(0, handled - published)))
        }
        state.withLock { groups in
            for receipt in parsed {
                guard groups[receipt.group] != nil else { continue }
                groups[receipt.group]!.receipts += 1
                groups[receipt.group]!.byConsumer[receipt.consumer, default: 0] += 1
                if groups[receipt.group]!.byEventID[receipt.eventID] != nil {
                    groups[receipt.group]!.byEventID[receipt.eventID]!.receipts += 1
                } else {
                    groups[receipt.group]!.byEventID[receipt.eventID] = Record(
                        aggregateID: receipt.aggregateID, receipts: 1, latency: receipt.latency)
                    groups[receipt.group]!.handledAggregates.insert(receipt.aggregateID)
                }
            }
        }
    }

    /// Receipts per group so far (all todo.created receipts, for the progress line).
    func receiptCounts() -> [String: Int] { state.withLock { $0.mapValues(\.receipts) } }

    /// True once every group has a receipt for every expected aggregate.
    func allHandled(_ expected: Set<String>) -> Bool {
        state.withLock { groups in
            groups.values.allSatisfy { group in
                group.handledAggregates.count >= expected.count && expected.isSubset(of: group.handledAggregates)
            }
        }
    }

    func summary(group name: String, expected: Set<String>, deadLettered: Int) -> Summary {
        let group = state.withLock { $0[name] ?? Group() }
        var latency = Histogram<UInt64>(highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three)
        var duplicates = 0
        var unmatched = 0
        var handled: Set<String> = []
        for record in group.byEventID.values {
            guard expected.contains(record.aggregateID) else {
                unmatched += 1
                continue
            }
            duplicates += record.receipts - 1
            if handled.insert(record.aggregateID).inserted {
                _ = latency.record(UInt64(clamping: record.latency))
            }
        }
        return Summary(
            group: name, expected: expected.count, handled: handled.count, lost: expected.count - handled.count,
            duplicates: duplicates, deadLettered: deadLettered, unmatched: unmatched, byConsumer: group.byConsumer,
            latency: latency)
    }
}

/// Follows the receipts stream with `XREAD BLOCK` from a given id, on a connection of its own,
/// in batches of up to 5000 entries.
final class ReceiptReader: Sendable {
    private let redisURL: String
    private let stream: String
    private let startAfter: String
    private let book: ReceiptBook
    private let stopped = Atomic<Bool>(false)
    private let errorCount = Atomic<Int>(0)

    init(redisURL: String, stream: String, startAfter: String, book: ReceiptBook) {
        self.redisURL = redisURL
        self.stream = stream
        self.startAfter = startAfter
        self.book = book
    }

    var errors: Int { errorCount.load(ordering: .relaxed) }

    func stop() { stopped.store(true, ordering: .relaxed) }

    func run() async {
        guard let client = try? RedisClient(url: redisURL) else { return }
        defer { client.close() }
        var last = startAfter
        while !stopped.load(ordering: .relaxed) {
            let command = RedisCommand("XREAD", "COUNT", "5000", "BLOCK", "100", "STREAMS", stream, last)
            do {
                let entries = try await client.readEntries([command], block: .milliseconds(100))
                if let newest = entries.last { last = newest.id.description }
                book.add(entries)
                // Batches: a short read means the reader has caught up; the next one waits until
                // more have come (the latencies come from the receipts' own timestamps, so
                // reading later changes no figure, and each read costs wakeups on both sides).
                if entries.count < 2000 { try? await Task.sleep(for: .milliseconds(100)) }
            } catch {
                if errorCount.add(1, ordering: .relaxed).newValue == 1 {
                    log("warning: reading receipts from '\(stream)' failed: \(error) (retrying)")
                }
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
    }
}

/// The few Redis look-ups around the run.
struct RedisAdmin {
    let client: RedisClient
    /// The stream's key, or each of its partition streams.
    let streamKeys: [String]
    let receiptsStream: String

    /// The newest receipt's id (receipts after it belong to this run), or 0-0.
    func lastReceiptID() async throws -> String {
        let newest = try await client.send("XREVRANGE", receiptsStream, "+", "-", "COUNT", "1")
        guard let entry = newest.array?.first?.array?.first?.string else { return "0-0" }
        return entry
    }

    /// The groups among `groups` that are missing on one of the stream keys.
    func missingGroups(_ groups: [String]) async throws -> [String] {
        var missing: Set<String> = []
        for key in streamKeys {
            let reply: RedisReply
            do {
                reply = try await client.send("XINFO", "GROUPS", key)
            } catch {
                return groups  // no such stream yet
            }
            var existing: Set<String> = []
            for group in reply.array ?? [] {
                let fields = group.array ?? []
                for index in stride(from: 0, to: fields.count - 1, by: 2) where fields[index].string == "name" {
                    if let name = fields[index + 1].string { existing.insert(name) }
                }
            }
            missing.formUnion(groups.filter { !existing.contains($0) })
        }
        return groups.filter(missing.contains)
    }

    /// `XLEN` of each group's dead-letter streams (`<stream key>:dlq:<group>`), summed over the keys.
    func deadLetterLengths(_ groups: [String]) async throws -> [String: Int] {
        var lengths: [String: Int] = [:]
        for group in groups {
            for key in streamKeys {
                lengths[group, default: 0] += try await client.xlen("\(key):dlq:\(group)")
            }
        }
        return lengths
    }
}
