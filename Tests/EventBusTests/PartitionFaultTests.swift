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
            try await Self.orderedKillRun(url: server.url, total: 6000, cluster: nil)
        }
    }

    /// The same on a Redis Cluster (3 masters, 3 replicas), with the slots of two partitions
    /// migrated to another master while events flow (the `ASK`, `TRYAGAIN` and `MOVED` paths
    /// under load, blocked reads on a moving stream).
    @Test func onAClusterEachAggregatesEventsAreAppliedOnceAndInOrderThroughKillsAndASlotMigration() async throws {
        try await withLocalRedisCluster { cluster in
            try await Self.orderedKillRun(url: cluster.url, total: 4000, cluster: cluster)
        }
    }

    static func orderedKillRun(url: String, total: Int, cluster: LocalRedisCluster?) async throws {
        let client = RedisClient(configuration: try RedisConfiguration(url: url))
        defer { client.close() }
        let stream = uniqueStream("ordered")
        let fleet = try ProbeFleet(url: url, stream: stream)
        let partitions = try StreamPartitions(count: 6)
        let ordered = ["--partitions", "6", "--ordered", "--lease-milliseconds", "1500"]
        let publisher = EventPublisher(
            client: client, configuration: .init(streamName: { _ in stream }, partitions: partitions))
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
            await fleet.kill9(victim)
            kills += 1
            generation += 1
            try fleet.start(
                kills % 2 == 0 ? victim : "p\(kills % 3 + 1)-g\(generation)", handlerMicroseconds: 50,
                extraArguments: ordered)
            if kills == 3, let cluster {
                for partition in [0, 3] {
                    try await migrate(slot: RedisHashSlot.slot(of: partitions.streamKey(stream, partition: partition)), in: cluster)
                }
            }
        }
        try await publishing.value
        let owners = PartitionOwnership.ownersKey(stream: stream, group: "probe")
        let handledAll = try await eventually(timeout: .seconds(60)) {
            try await fleet.counts(client, partitions: partitions).seen == total
        }
        let ownership = try await client.hgetall(owners)
        #expect(handledAll, "ownership: \(ownership), live: \(fleet.processes.keys.sorted())")
        let counts = try await fleet.counts(client, partitions: partitions)
        #expect(counts.seen == total)  // every event handled
        #expect(counts.applied == total)  // its effect applied once
        // Each aggregate (probe-<n mod 64>) got its events in publish order, each once.
        for aggregate in 0..<64 {
            let applied = try await fleet.appliedOrder(of: "probe-\(aggregate)", client, partitions: partitions)
            let expected = Array(stride(from: aggregate, to: total, by: 64))
            #expect(
                applied == expected,
                "probe-\(aggregate): \(applied.count) applied, first out of order at \(zip(applied, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? -1)"
            )
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
        print(
            "ordered kill -9 run\(cluster == nil ? "" : " on a cluster, two partitions' slots migrated"): \(total) events, "
                + "\(kills) kills, \(counts.attempts) deliveries, in order per aggregate")
    }

    /// Moves `slot` from its master to the next one by hand (IMPORTING/MIGRATING, MIGRATE of
    /// its keys in batches, then the slot handed over on every master), as `redis-cli --cluster
    /// reshard` does, while the clients keep using it.
    static func migrate(slot: Int, in cluster: LocalRedisCluster) async throws {
        let masters = try await cluster.masters()
        let source = try await cluster.owner(ofSlot: slot)
        let target = masters[(masters.firstIndex(of: source)! + 1) % masters.count]
        func node(_ node: LocalRedisCluster.Node) throws -> RedisClient {
            var configuration = try RedisConfiguration(url: node.tcpURL)
            configuration.cluster = .never
            return RedisClient(configuration: configuration)
        }
        let from = try node(source)
        defer { from.close() }
        let to = try node(target)
        defer { to.close() }
        try await to.send("CLUSTER", "SETSLOT", "\(slot)", "IMPORTING", source.id)
        try await from.send("CLUSTER", "SETSLOT", "\(slot)", "MIGRATING", target.id)
        while true {
            let keys = try await from.send("CLUSTER", "GETKEYSINSLOT", "\(slot)", "20").array?.compactMap(\.string) ?? []
            if keys.isEmpty { break }
            try await from.send(
                RedisCommand("MIGRATE", arguments: ["127.0.0.1", "\(target.port)", "", "0", "5000", "REPLACE", "KEYS"] + keys))
            try await Task.sleep(for: .milliseconds(20))  // let the clients meet the half-moved slot
        }
        for master in masters {
            let client = try node(master)
            defer { client.close() }
            try await client.send("CLUSTER", "SETSLOT", "\(slot)", "NODE", target.id)
        }
    }
}
