import Foundation
import RedisClient

/// When a Redis Cluster counts as healthy, for `LocalRedisCluster` (its nodes through their unix
/// sockets) and the local stack's cluster (`streams-stack up --cluster`, its nodes over TCP as an
/// ACL user): one definition of "healthy" for both.
public enum ClusterHealth {
    /// A running node and how to send it commands.
    public struct Member: Sendable {
        /// Its cluster node id (`CLUSTER MYID`).
        public let id: String
        /// Its client port (`INFO replication` names a replica's master by port).
        public let port: Int
        /// How messages name it.
        public let name: String
        /// Sends a pipeline to this node alone (no slot routing).
        public let send: @Sendable ([RedisCommand]) async throws -> [RedisReply]

        public init(id: String, port: Int, name: String, send: @escaping @Sendable ([RedisCommand]) async throws -> [RedisReply]) {
            self.id = id
            self.port = port
            self.name = name
            self.send = send
        }
    }

    /// What keeps the cluster of `members` (the running nodes) from being healthy, or nil when it
    /// is: each reports `cluster_state:ok` with 16384 slots assigned and ok; each sees every other
    /// member connected and not failing; all agree which master serves which slot and which master
    /// each replica follows; every slot is served by a member; every replica's replication link is
    /// up (its master lists it `state=online`); and `expectedMasters` (replica id -> master id) holds.
    public static func problem(_ members: [Member], expectedMasters: [String: String] = [:]) async -> String? {
        guard !members.isEmpty else { return "no node runs" }
        func name(_ id: String) -> String { members.first { $0.id == id }?.name ?? String(id.prefix(8)) }
        var views: [String: [String: ClusterNodesEntry]] = [:]
        var replication: [String: [String: String]] = [:]
        for node in members {
            let replies: [RedisReply]
            do {
                replies = try await node.send(
                    [RedisCommand("CLUSTER", "INFO"), RedisCommand("CLUSTER", "NODES"), RedisCommand("INFO", "replication")])
            } catch {
                return "\(node.name) does not answer: \(error)"
            }
            guard replies.count == 3, let infoText = replies[0].string, let nodesText = replies[1].string,
                let replicationText = replies[2].string
            else { return "\(node.name) answered \(replies)" }
            let info = LocalRedisCluster.fields(infoText)
            if info["cluster_state"] != "ok" { return "\(node.name) reports cluster_state:\(info["cluster_state"] ?? "?")" }
            if info["cluster_slots_assigned"] != "16384" || info["cluster_slots_ok"] != "16384" {
                return "\(node.name) reports \(info["cluster_slots_assigned"] ?? "?") slots assigned, \(info["cluster_slots_ok"] ?? "?") ok"
            }
            views[node.id] = ClusterNodesEntry.parse(nodesText)
            replication[node.id] = LocalRedisCluster.fields(replicationText)
        }
        let runningIDs = Set(members.map(\.id))
        var referenceSlots: [ClosedRange<Int>: String]?
        var referenceMasters: [String: String]?
        for node in members {
            let view = views[node.id]!
            for other in members {
                guard let entry = view[other.id] else { return "\(node.name) does not know \(other.name)" }
                if entry.isFailing || !entry.connected {
                    return "\(node.name) sees \(other.name) as \(entry.flags.sorted()) \(entry.connected ? "connected" : "disconnected")"
                }
            }
            var slots: [ClosedRange<Int>: String] = [:]
            for entry in view.values where entry.isMaster && !entry.isFailing {
                for range in entry.slots { slots[range] = entry.id }
            }
            let covered = slots.keys.reduce(0) { $0 + $1.count }
            if covered != 16384 { return "\(node.name) sees \(covered) slots served by masters not failing" }
            if let stray = slots.values.first(where: { !runningIDs.contains($0) }) {
                return "\(node.name) sees slots served by \(name(stray)), which does not run"
            }
            var masters: [String: String] = [:]
            for entry in view.values where entry.isReplica && runningIDs.contains(entry.id) { masters[entry.id] = entry.masterID ?? "" }
            if let referenceSlots, referenceSlots != slots { return "the nodes do not agree on the slots' masters yet" }
            if let referenceMasters, referenceMasters != masters { return "the nodes do not agree on the replicas' masters yet" }
            referenceSlots = slots
            referenceMasters = masters
            for (replicaID, masterID) in expectedMasters where runningIDs.contains(replicaID) && masters[replicaID] != masterID {
                return "\(name(replicaID)) does not replicate \(name(masterID)) yet"
            }
        }
        for node in members where replication[node.id]?["role"] == "slave" {
            let info = replication[node.id]!
            if info["master_link_status"] != "up" { return "\(node.name)'s replication link is \(info["master_link_status"] ?? "?")" }
            guard let master = members.first(where: { "\($0.port)" == info["master_port"] }) else {
                return "\(node.name) replicates port \(info["master_port"] ?? "?"), no running node"
            }
            if referenceMasters?[node.id] != master.id { return "\(node.name) replicates \(master.name), the cluster thinks otherwise" }
            let listed = replication[master.id]!.contains { $0.key.hasPrefix("slave") && $0.value.contains("port=\(node.port),state=online") }
            if !listed { return "\(master.name) does not list \(node.name) online" }
        }
        return nil
    }
}
