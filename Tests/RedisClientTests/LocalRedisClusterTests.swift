import Foundation
import LocalRedisServer
import RedisClient
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// `LocalRedisCluster` against real processes: 3 masters and 3 replicas per test (serialized:
/// each test starts 6 redis-servers).
@Suite("A local Redis Cluster of redis-server processes", .serialized)
struct LocalRedisClusterTests {
    @Test func startsWithEverySlotCoveredAndEveryReplicaConnected() async throws {
        let started = ContinuousClock.now
        try await withCheckedCluster { cluster in
            print("LocalRedisClusterTests: 3 masters + 3 replicas healthy after \(ContinuousClock.now - started)")
            #expect(cluster.nodes.count == 6)
            #expect(Set(cluster.nodes.map(\.port)).count == 6)
            #expect(cluster.url == "redis://" + cluster.nodes.map { "127.0.0.1:\($0.port)" }.joined(separator: ","))
            #expect(cluster.tcpURLs == cluster.nodes.map { "redis://127.0.0.1:\($0.port)" })

            // The first three nodes are the masters, in slot order; node 3 + i replicates master i.
            let masters = try await cluster.masters()
            #expect(masters == Array(cluster.nodes[0..<3]))
            #expect(try await cluster.slotRanges(of: cluster.nodes[0]) == [0...5460])
            #expect(try await cluster.slotRanges(of: cluster.nodes[1]) == [5461...10922])
            #expect(try await cluster.slotRanges(of: cluster.nodes[2]) == [10923...16383])
            for (index, master) in masters.enumerated() {
                let replica = cluster.nodes[3 + index]
                #expect(try await cluster.replicas(of: master) == [replica])
                #expect(try await cluster.role(of: replica) == .replica(of: master))
                #expect(try await cluster.role(of: master) == .master)
                #expect(try await cluster.slotRanges(of: replica) == [])
                // INFO replication on both ends: the replica is a connected slave of its master.
                let masterInfo = try await info(master, "INFO", "replication")
                #expect(masterInfo["connected_slaves"] == "1")
                #expect(masterInfo["slave0"]?.contains("port=\(replica.port),state=online") == true)
                let replicaInfo = try await info(replica, "INFO", "replication")
                #expect(replicaInfo["role"] == "slave")
                #expect(replicaInfo["master_port"] == "\(master.port)")
                #expect(replicaInfo["master_link_status"] == "up")
            }
            for node in cluster.nodes {
                let clusterInfo = try await info(node, "CLUSTER", "INFO")
                #expect(clusterInfo["cluster_state"] == "ok", "\(node)")
                #expect(clusterInfo["cluster_slots_assigned"] == "16384")
                #expect(clusterInfo["cluster_slots_ok"] == "16384")
                #expect(clusterInfo["cluster_known_nodes"] == "6")
                #expect(clusterInfo["cluster_size"] == "3")
                // The TCP port answers too.
                let tcp = try RedisClient(url: node.tcpURL)
                defer { tcp.close() }
                #expect(try await tcp.send("PING") == .status("PONG"))
            }
        }
    }

    @Test func theMasterOfAKeysSlotServesItAndOtherMastersAnswerMoved() async throws {
        try await withCheckedCluster { cluster in
            // The slot from any node, its master from CLUSTER NODES.
            let slot = try #require(try await send(cluster.nodes[4], "CLUSTER", "KEYSLOT", "{a}x").int)
            #expect(slot == RedisHashSlot.slot(of: "{a}x"))
            let owner = try await cluster.owner(ofSlot: slot)
            let masters = try await cluster.masters()
            #expect(masters.contains(owner))
            #expect(try await cluster.slotRanges(of: owner).contains { $0.contains(slot) })

            let ownerClient = try RedisClient(url: owner.tcpURL)
            defer { ownerClient.close() }
            #expect(try await ownerClient.send("SET", "{a}x", "1") == .status("OK"))
            #expect(try await ownerClient.send("GET", "{a}x").string == "1")

            // Every other node (masters, and replicas without READONLY) redirects to the owner:
            // a client told never to route over a cluster sees the MOVED; a default one given
            // that node alone follows it (and routes over the cluster from then on).
            for other in cluster.nodes where other != owner {
                var configuration = try RedisConfiguration(url: other.tcpURL)
                configuration.cluster = .never
                let client = RedisClient(configuration: configuration)
                defer { client.close() }
                await #expect {
                    try await client.send("SET", "{a}x", "1")
                } throws: { error in
                    (error as? RedisError)?.message == "MOVED \(slot) 127.0.0.1:\(owner.port)"
                }
                let following = try RedisClient(url: other.tcpURL)
                defer { following.close() }
                #expect(try await following.send("SET", "{a}x", "2") == .status("OK"))
                #expect(following.isClustered)
            }
            #expect(try await ownerClient.send("GET", "{a}x").string == "2")
        }
    }

    @Test func killingAMasterGetsItsReplicaPromoted() async throws {
        try await withCheckedCluster { cluster in
            let slot = RedisHashSlot.slot(of: "{a}x")
            let master = try await cluster.owner(ofSlot: slot)
            let replica = cluster.nodes[3 + master.index]
            #expect(try await cluster.replicas(of: master) == [replica])
            let client = try RedisClient(url: master.tcpURL)
            #expect(try await client.send("SET", "{a}x", "1") == .status("OK"))
            // Acknowledged by the replica before the master dies.
            #expect(try await client.send("WAIT", "1", "5000") == .integer(1))
            client.close()
            let pid = try #require(master.server.pid)

            let promotion = try await cluster.waitForPromotion(afterKilling: master)
            print("LocalRedisClusterTests: \(promotion.replica) promoted \(promotion.elapsed) after kill -9 of \(master)")
            #expect(promotion.replica == replica)
            #expect(!master.isRunning)
            #expect(!processExists(pid))
            #expect(try await cluster.owner(ofSlot: slot) == replica)
            #expect(try await cluster.role(of: replica) == .master)
            #expect(try await cluster.slotRanges(of: replica) == promotion.slots)
            let masters = try await cluster.masters()
            #expect(masters.count == 3 && masters.contains(replica) && !masters.contains(master))
            for node in cluster.nodes where node.isRunning {
                #expect(try await info(node, "CLUSTER", "INFO")["cluster_state"] == "ok", "\(node)")
            }
            let promoted = try RedisClient(url: replica.tcpURL)
            defer { promoted.close() }
            #expect(try await promoted.send("GET", "{a}x").string == "1")
            #expect(try await promoted.send("INCR", "{a}x") == .integer(2))
        }
    }

    @Test func aKilledMasterRejoinsAsAReplicaAndAManualFailoverGivesItsSlotsBack() async throws {
        try await withCheckedCluster { cluster in
            let master = cluster.nodes[1]
            let replica = cluster.nodes[4]
            let promotion = try await cluster.waitForPromotion(afterKilling: master)
            #expect(promotion.replica == replica)
            #expect(promotion.slots == [5461...10922])

            try await cluster.restart(master)
            #expect(master.isRunning)
            #expect(try await cluster.role(of: master) == .replica(of: replica))
            try await cluster.waitUntilHealthy()
            #expect(try await cluster.replicas(of: replica) == [master])

            let took = try await cluster.failover(master)
            print("LocalRedisClusterTests: manual failover back to \(master) took \(took)")
            #expect(try await cluster.role(of: master) == .master)
            #expect(try await cluster.role(of: replica) == .replica(of: master))
            #expect(try await cluster.slotRanges(of: master) == [5461...10922])
            #expect(try await cluster.masters() == Array(cluster.nodes[0..<3]))

            // A replica stopped (SIGTERM) leaves the cluster healthy; restarted, it rejoins.
            let otherReplica = cluster.nodes[5]
            let pid = try #require(otherReplica.server.pid)
            await cluster.stop(otherReplica)
            #expect(!processExists(pid))
            try await cluster.waitUntilHealthy()
            try await cluster.restart(otherReplica)
            try await cluster.waitUntilHealthy()
            #expect(try await cluster.replicas(of: cluster.nodes[2]) == [otherReplica])
        }
    }

    @Test func everythingIsStoppedAndRemovedWhenTheBodyThrows() async throws {
        struct Planned: Error {}
        var pids: [Int32] = []
        var directory: URL?
        await #expect(throws: Planned.self) {
            try await withLocalRedisCluster { cluster in
                pids = cluster.nodes.compactMap(\.server.pid)
                directory = cluster.directory
                throw Planned()
            }
        }
        #expect(pids.count == 6)
        try await expectStopped(pids: pids, directory: try #require(directory))
    }

    // MARK: Helpers

    /// Runs `body` in a fresh cluster, then checks that every process it ever ran (also those
    /// restarted in `body`) is gone and its folder removed.
    private func withCheckedCluster(_ body: (LocalRedisCluster) async throws -> Void) async throws {
        var pids: [Int32] = []
        var directory: URL?
        try await withLocalRedisCluster { cluster in
            pids = cluster.nodes.compactMap(\.server.pid)
            directory = cluster.directory
            #expect(pids.count == 6)
            try await body(cluster)
            pids += cluster.nodes.compactMap(\.server.pid)
        }
        try await expectStopped(pids: pids, directory: try #require(directory))
    }

    private func expectStopped(pids: [Int32], directory: URL) async throws {
        let gone = try await eventually(timeout: .seconds(10)) { pids.allSatisfy { !processExists($0) } }
        #expect(gone, "redis-server processes left: \(pids.filter(processExists))")
        #expect(!FileManager.default.fileExists(atPath: directory.path))
    }

    private func send(_ node: LocalRedisCluster.Node, _ name: String, _ arguments: String...) async throws -> RedisReply {
        let client = RedisClient(configuration: RedisConfiguration(endpoint: .unixSocket(path: node.socketPath)))
        defer { client.close() }
        return try await client.send(RedisCommand(name, arguments: arguments))
    }

    /// The `key:value` fields of `INFO <section>` or `CLUSTER INFO` on one node.
    private func info(_ node: LocalRedisCluster.Node, _ name: String, _ argument: String) async throws -> [String: String] {
        fields(try await send(node, name, argument).string ?? "")
    }
}

/// Whether a process with this id exists (the nodes are reaped, so a stopped one does not).
private func processExists(_ pid: Int32) -> Bool {
    kill(pid, 0) == 0 || errno != ESRCH
}

/// The `key:value` lines of `INFO` or `CLUSTER INFO`.
private func fields(_ text: String) -> [String: String] {
    var fields: [String: String] = [:]
    for line in text.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
        guard let colon = line.firstIndex(of: ":") else { continue }
        fields[String(line[..<colon])] = String(line[line.index(after: colon)...])
    }
    return fields
}
