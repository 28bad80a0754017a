@testable import EventBus
import Foundation
import LocalRedisServer
import RedisClient
import TestSupport
import Testing

@Suite("Faults: an ordered group's consumers killed with SIGKILL during rebalances")
struct PartitionFaultTests {
    /// Three `probe-consumer` processes own the six partitions of a stream; every 700 ms one
    /// of them is killed with SIGKILL and another started (under its old name or a new one),
    /// so partitions move between live consumers and from dead ones while events flow. Every
    /// event is applied exactly once, and each aggregate's events in publish order.
    @Test func eachAggregatesEventsAreAppliedOnceAndInOrderThroughKillsAndRebalances() async throws {
        try await withLocalRedisServer { server in
            let client = RedisClient(configuration: try RedisConfiguration(url: server.url))
            defer { client.close() }
            let stream = uniqueStream("ordered")
            let fleet = try ProbeFleet(url: server.url, stream: stream)
            let partitions = try StreamPartitions(count: 6)
            let ordered = ["--partitions", "6", "--ordered", "--lease-milliseconds", "1500"]
            let publisher = EventPublisher(
                client: client, configuration: .init(streamName: { _ in stream }, partitions: partitions))
            let total = 6000
            for name in ["p1", "p2", "p3"] { try fleet.start(name, handlerMicroseconds: 50, extraArguments: ordered) }
            let publishing = Task {
                for start in stride(from: 0, to: total, by: 25) {
                    try await publisher.publish((start..<start + 25).map { ProbeTicked(number: $0) })
                    try await Task.sleep(for: .milliseconds(30))
                }
            }
            var kills = 0
            var generation = 0
            while kills < 8 {
                try await Task.sleep(for: .milliseconds(700))
                let victim = fleet.processes.keys.sorted()[kills % 3]
                fleet.kill9(victim)
                kills += 1
                generation += 1
                try fleet.start(
                    kills % 2 == 0 ? victim : "p\(kills % 3 + 1)-g\(generation)", handlerMicroseconds: 50,
                    extraArguments: ordered)
            }
            try await publishing.value
            let owners = PartitionOwnership.ownersKey(stream: stream, group: "probe")
            let handledAll = try await eventually(timeout: .seconds(60)) { try await fleet.counts(client).seen == total }
            let ownership = try await client.hgetall(owners)
            #expect(handledAll, "ownership: \(ownership), live: \(fleet.processes.keys.sorted())")
            let counts = try await fleet.counts(client)
            #expect(counts.seen == total)  // every event handled
            #expect(counts.applied == total)  // its effect applied once
            // Each aggregate (probe-<n mod 64>) got its events in publish order, each once.
            for aggregate in 0..<64 {
                let applied = try await client.send("LRANGE", "\(stream):order:probe-\(aggregate)", "0", "-1").array?
                    .compactMap { $0.string.flatMap(Int.init) } ?? []
                let expected = Array(stride(from: aggregate, to: total, by: 64))
                #expect(applied == expected, "probe-\(aggregate): \(applied.count) applied, first out of order at \(zip(applied, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? -1)")
            }
            for key in partitions.streamKeys(stream) {
                #expect(try await eventually { try await pendingCount(client, key, "probe") == 0 })
                #expect(try await deadLetters(client, key, "probe").isEmpty)
            }
            // Every live process has joined (its signal handlers are set up) before SIGTERM.
            #expect(
                try await eventually {
                    let fields = try await client.hgetall(owners)
                    return fleet.processes.keys.allSatisfy { fields["member:\($0)"] != nil }
                })
            let unclean = await fleet.stopAll()
            #expect(unclean.isEmpty, "not stopped cleanly: \(unclean)")
            print("ordered kill -9 run: \(total) events, \(kills) kills, \(counts.attempts) deliveries, in order per aggregate")
        }
    }
}
