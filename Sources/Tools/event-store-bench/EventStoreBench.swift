import ArgumentParser
import EventBus
import EventStore
import Foundation
import LocalRedisServer
import RedisClient

/// A stored event for the benchmark: about the size of a `todo.title_changed`.
struct BenchEvent: DomainEvent {
    static let eventType = "bench.changed"
    static let aggregateType = "bench"
    var benchID: String
    var title: String
    var priority: String
    var aggregateID: String { benchID }

    enum CodingKeys: String, CodingKey { case benchID = "bench_id", title, priority }
}

/// The event store's costs (BENCHMARKS.md, issue 11): appends per second (one event each,
/// expected version checked), loading an aggregate of 10, 100 and 1000 events with and
/// without a snapshot, and Redis memory per event (history and type stream).
@main
struct EventStoreBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "event-store-bench", abstract: "Measure the event store: appends/s, load times, memory per event.")

    @Option(help: "Appends per run (one event each).") var appends = 20_000
    @Option(help: "Appends in flight at once (each to its own aggregate).") var concurrency = 32
    @Option(help: "Loads per aggregate size.") var loads = 300
    @Option(help: "Redis URL (default: a private redis-server without persistence).") var redisURL: String?

    func run() async throws {
        if let redisURL {
            try await measure(url: redisURL)
        } else {
            try await withLocalRedisServer { server in try await measure(url: server.url) }
        }
    }

    func measure(url: String) async throws {
        let client = try RedisClient(url: url)
        defer { client.close() }
        _ = try await client.send("FLUSHDB")
        let store = EventStore(aggregateType: "bench", client: client, publisher: EventPublisher(client: client))
        func event(_ id: String, _ n: Int) -> BenchEvent {
            BenchEvent(benchID: id, title: "Write the quarterly report, take \(n)", priority: ["low", "medium", "high"][n % 3])
        }

        // 1. Appends: `concurrency` writers, each appending to its own aggregate one event at a time.
        let perWriter = appends / concurrency
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<concurrency {
                group.addTask {
                    for n in 0..<perWriter { try await store.append([event("w\(writer)", n)], to: "w\(writer)", expectedVersion: n) }
                }
            }
            try await group.waitForAll()
        }
        let appendSeconds = (ContinuousClock.now - started).seconds
        let sequentialStart = ContinuousClock.now
        for n in 0..<2000 { try await store.append([event("seq", n)], to: "seq", expectedVersion: n) }
        let sequentialSeconds = (ContinuousClock.now - sequentialStart).seconds

        // 2. Memory per event: one aggregate's history, and the type stream.
        let historyBytes = try await client.send("MEMORY", "USAGE", store.keys.history("w0"), "SAMPLES", "0").int ?? 0
        let streamBytes = try await client.send("MEMORY", "USAGE", store.keys.stream, "SAMPLES", "0").int ?? 0
        let streamLength = try await client.xlen(store.keys.stream)

        var report: [String: Any] = [
            "appends_per_s_concurrent": round(Double(perWriter * concurrency) / appendSeconds),
            "concurrency": concurrency,
            "appends_per_s_sequential": round(2000 / sequentialSeconds),
            "history_bytes_per_event": round(Double(historyBytes) / Double(perWriter) * 10) / 10,
            "type_stream_bytes_per_event": round(Double(streamBytes) / Double(streamLength) * 10) / 10,
        ]

        // 3. Loads of 10, 100, 1000 events, without a snapshot and from one 5 events back.
        for size in [10, 100, 1000] {
            let id = "load-\(size)"
            var version = 0
            while version < size {
                let batch = (version..<min(size, version + 100)).map { event(id, $0) }
                version = try await store.append(batch, to: id, expectedVersion: version)
            }
            for (label, schema) in [("no_snapshot", nil as Int?), ("snapshot", 1)] {
                if schema != nil {
                    try await store.save(EventStore.Snapshot(version: size - 5, schemaVersion: 1, state: Array(#"{"n":1}"#.utf8)), of: id)
                }
                var samples: [Double] = []
                for _ in 0..<loads {
                    let start = ContinuousClock.now
                    let history = try await store.load(id, snapshotSchemaVersion: schema)
                    samples.append((ContinuousClock.now - start).seconds * 1e6)
                    precondition(history.version == size)
                }
                samples.sort()
                report["load_\(size)_\(label)_p50_us"] = round(samples[samples.count / 2])
                report["load_\(size)_\(label)_p99_us"] = round(samples[samples.count * 99 / 100])
            }
        }
        let data = try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
