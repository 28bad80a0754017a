import Foundation
import LocalRedisServer
import RedisClient
import Testing
import TestSupport

/// RedisClient over a real Redis Cluster (3 masters, 3 replicas per test; serialized: each
/// test starts 6 redis-servers).
@Suite("RedisClient on a Redis Cluster", .serialized)
struct ClusterClientTests {
    /// A client of one node that never follows redirections (to set a cluster up by hand).
    static func nodeClient(_ node: LocalRedisCluster.Node) throws -> RedisClient {
        var configuration = try RedisConfiguration(url: node.tcpURL)
        configuration.cluster = .never
        return RedisClient(configuration: configuration)
    }

    @Test func keysOfEverySlotAreReachedAndAPipelineKeepsItsOrder() async throws {
        try await withLocalRedisCluster { cluster in
            let client = try RedisClient(url: cluster.url)
            defer { client.close() }
            #expect(client.isClustered)
            let keys = (0..<300).map { "key-\($0)" }
            let written = try await client.pipeline(keys.map { RedisCommand("SET", $0, "value-\($0)") })
            #expect(written.allSatisfy { $0 == .status("OK") }, "\(written.filter { $0 != .status("OK") }.prefix(3))")
            // Mixed: reads of keys on all three masters, an error in the middle, in order.
            var commands = keys.map { RedisCommand("GET", $0) }
            commands.insert(RedisCommand("INCR", "key-7"), at: 150)
            let read = try await client.pipeline(commands)
            #expect(read.count == 301)
            #expect(read[0].string == "value-key-0" && read[300].string == "value-key-299")
            if case .error(let text) = read[150] { #expect(text.hasPrefix("ERR")) } else { Issue.record("expected an error, got \(read[150])") }
            #expect(Array(read.prefix(150)).map(\.string) == keys.prefix(150).map { "value-\($0)" })
            // The keys really are spread: each master holds some.
            for master in try await cluster.masters() {
                let node = try Self.nodeClient(master)
                defer { node.close() }
                #expect(try await node.send("DBSIZE").int ?? 0 > 50, "\(master)")
            }
            let slots = client.clusterSlots
            #expect(slots.count == 3)
            #expect(slots.flatMap(\.slots).reduce(0) { $0 + $1.count } == 16384)
        }
    }

    @Test func scriptsRunWhereverTheirKeysAreAndAreLoadedAgainAfterAFlush() async throws {
        try await withLocalRedisCluster { cluster in
            let client = try RedisClient(url: cluster.url)
            defer { client.close() }
            let script = RedisScript("redis.call('SET', KEYS[1], ARGV[1]); return redis.call('GET', KEYS[2])")
            for tag in ["a", "b", "c", "d", "e", "f"] {
                let reply = try await client.run(script, keys: ["{\(tag)}x", "{\(tag)}x"]) { $0.append(tag) }
                #expect(reply.string == tag)
            }
            // A master forgets its scripts (as a promoted replica or a restart would).
            for master in try await cluster.masters() {
                let node = try Self.nodeClient(master)
                defer { node.close() }
                try await node.send("SCRIPT", "FLUSH")
            }
            #expect(try await client.run(script, keys: ["{a}y", "{a}y"]) { $0.append("again") }.string == "again")
            // Keys of two slots in one script: Redis refuses it, and the error says so.
            await #expect(throws: RedisError.self) {
                try await client.run(script, keys: ["{a}x", "{b}x"]) { $0.append("no") }
            }
        }
    }

    @Test func streamsAndBlockingReadsRunOnTheirSlotsMaster() async throws {
        try await withLocalRedisCluster { cluster in
            let client = try RedisClient(url: cluster.url)
            defer { client.close() }
            let reader = try RedisClient(url: cluster.url)
            defer { reader.close() }
            for stream in ["s:{p0}", "s:{p1}", "s:{p2}"] {
                #expect(try await client.xgroupCreate(stream, group: "g", startAt: "$"))
                let read = Task {
                    try await reader.xreadgroup(group: "g", consumer: "c", stream: stream, count: 10, block: .seconds(5))
                }
                // The read blocks on the stream's master until the entry arrives.
                try await Task.sleep(for: .milliseconds(50))
                let id = try await client.xadd(stream, fields: [("n", stream)])
                let entries = try await read.value
                #expect(entries.map(\.id) == [id])
                try await client.xack(stream, group: "g", ids: [id])
            }
        }
    }

    @Test func aKilledMasterIsFollowedToItsPromotedReplica() async throws {
        try await withLocalRedisCluster { cluster in
            let client = try RedisClient(url: cluster.url)
            defer { client.close() }
            let key = "{failover}k"
            try await client.send("SET", key, "before")
            let master = try await cluster.owner(ofSlot: RedisHashSlot.slot(of: key))
            await cluster.kill(master)
            // Refused connections are retried on a fresh slot map until the command's timeout
            // (5 s): the write lands on the promoted replica.
            var succeeded = false
            let deadline = ContinuousClock.now + .seconds(30)
            while !succeeded, ContinuousClock.now < deadline {
                do {
                    try await client.send("SET", key, "after")
                    succeeded = true
                } catch let error as RedisError {
                    // A command in flight when the node died: not known whether it ran.
                    #expect([.connectionLost, .connectionFailed, .timeout].contains(error.code) || error.message.hasPrefix("CLUSTERDOWN"), "\(error)")
                }
            }
            #expect(succeeded)
            #expect(try await client.send("GET", key).string == "after")
            let owner = try await cluster.owner(ofSlot: RedisHashSlot.slot(of: key))
            #expect(owner != master)
            #expect(client.clusterSlots.contains { $0.endpoint == .tcp(host: "127.0.0.1", port: owner.port) })
        }
    }

    @Test func aSlotMovedWhileInUseIsFollowedThroughAskThenMoved() async throws {
        try await withLocalRedisCluster { cluster in
            let client = try RedisClient(url: cluster.url)
            defer { client.close() }
            let slot = RedisHashSlot.slot(of: "{move}")
            let keys = (0..<10).map { "{move}\($0)" }
            for key in keys { try await client.send("SET", key, key) }
            let source = try await cluster.owner(ofSlot: slot)
            let target = try #require(try await cluster.masters().first { $0 != source })
            let sourceClient = try Self.nodeClient(source)
            defer { sourceClient.close() }
            let targetClient = try Self.nodeClient(target)
            defer { targetClient.close() }
            try await targetClient.send("CLUSTER", "SETSLOT", "\(slot)", "IMPORTING", source.id)
            try await sourceClient.send("CLUSTER", "SETSLOT", "\(slot)", "MIGRATING", target.id)
            // Half the keys move: the source answers ASK for them, the client asks the target.
            try await sourceClient.send(
                RedisCommand("MIGRATE", arguments: ["127.0.0.1", "\(target.port)", "", "0", "5000", "KEYS"] + keys.prefix(5)))
            let read = try await client.pipeline(keys.map { RedisCommand("GET", $0) })
            #expect(read.map(\.string) == keys)
            // A new key of the slot goes where the migration says (ASK to the target).
            try await client.send("SET", "{move}new", "n")
            // The rest moves and the slot is handed over: MOVED, then the map is reloaded.
            try await sourceClient.send(
                RedisCommand("MIGRATE", arguments: ["127.0.0.1", "\(target.port)", "", "0", "5000", "KEYS"] + keys.suffix(5)))
            for master in try await cluster.masters() {
                let node = try Self.nodeClient(master)
                defer { node.close() }
                try await node.send("CLUSTER", "SETSLOT", "\(slot)", "NODE", target.id)
            }
            let again = try await client.pipeline((keys + ["{move}new"]).map { RedisCommand("GET", $0) })
            #expect(again.map(\.string) == keys + ["n"])
            #expect(
                try await eventually {
                    client.clusterSlots.first { $0.endpoint == .tcp(host: "127.0.0.1", port: target.port) }?.slots
                        .contains { $0.contains(slot) } == true
                })
        }
    }
}

@Suite("RedisClient on a Redis Cluster: commands for every node", .serialized)
struct ClusterNodeCommandTests {
    @Test func scanAndNodeCommandsCoverEveryMasterWhateverNodeTheClientWasGiven() async throws {
        try await withLocalRedisCluster { cluster in
            let seeded = try RedisClient(url: cluster.url)
            defer { seeded.close() }
            for index in 0..<60 { try await seeded.send("SET", "scan:\(index)", "x") }
            try await seeded.send("HSET", "scan:hash", "f", "v")
            // A client given one node (not yet redirected) finds the others before scanning.
            let single = try RedisClient(url: cluster.nodes[1].tcpURL)
            defer { single.close() }
            for client in [seeded, single] {
                #expect(Set(try await client.scanKeys(matching: "scan:*")).count == 61)
                #expect(try await client.scanKeys(matching: "scan:*", type: "hash") == ["scan:hash"])
                let sizes = try await client.sendToEveryMaster(RedisCommand("DBSIZE")).compactMap(\.int)
                #expect(sizes.count == 3 && sizes.reduce(0, +) == 61)
            }
            #expect(single.isClustered)
            // A single node that is not a cluster: one node, no routing.
            try await withLocalRedisServer { server in
                let plain = try RedisClient(url: server.url)
                defer { plain.close() }
                try await plain.send("SET", "scan:1", "x")
                #expect(try await plain.scanKeys(matching: "scan:*") == ["scan:1"])
                #expect(try await plain.sendToEveryMaster(RedisCommand("DBSIZE")) == [.integer(1)])
                #expect(!plain.isClustered)
            }
        }
    }
}
