@testable import EventBus
import RedisClient
import Testing
import TestSupport

/// `Partitioning/partition-ownership.lua`, called directly: assignment, leases, release,
/// leave, expiry, and what it refuses.
@Suite("Scripts: partition-ownership", .serialized)
struct OwnershipScriptTests {
    static func beat(
        _ client: RedisClient, _ consumer: String, leaseMilliseconds: Int = 60_000, partitions: Int = 4,
        mode: String = "beat", releasing: [Int] = []
    ) async throws -> PartitionOwnershipReply {
        try await client.run(LuaScripts.partitionOwnership, keys: ["s:owners:g"], as: PartitionOwnershipReply.self) {
            command in
            command.append(consumer)
            command.append(leaseMilliseconds)
            command.append(partitions)
            command.append(mode)
            for partition in releasing { command.append(partition) }
        }
    }

    @Test("a lone member takes every partition; a second one gets its share once the first releases it")
    func assignmentAndRelease() async throws {
        try await ScriptTesting.withClient { client in
            let first = try await Self.beat(client, "a")
            #expect(first == PartitionOwnershipReply(owned: [0, 1, 2, 3], acquired: [0, 1, 2, 3], toRelease: [], members: 1))
            // b joins: assigned 1 and 3 (sorted members a, b; p mod 2), still held by a.
            let joined = try await Self.beat(client, "b")
            #expect(joined == PartitionOwnershipReply(owned: [], acquired: [], toRelease: [], members: 2))
            let told = try await Self.beat(client, "a")
            #expect(told == PartitionOwnershipReply(owned: [0, 1, 2, 3], acquired: [], toRelease: [1, 3], members: 2))
            // a drained 1 and 3 and gives them up; b takes them at its next beat.
            let released = try await Self.beat(client, "a", releasing: [1, 3])
            #expect(released == PartitionOwnershipReply(owned: [0, 2], acquired: [], toRelease: [], members: 2))
            let taken = try await Self.beat(client, "b")
            #expect(taken == PartitionOwnershipReply(owned: [1, 3], acquired: [1, 3], toRelease: [], members: 2))
            // Renewal keeps them, not acquired again.
            #expect(try await Self.beat(client, "b").acquired == [])
        }
    }

    @Test("a member that stops beating loses its leases after one lease, and only then")
    func expiry() async throws {
        try await ScriptTesting.withClient { client in
            // While a's lease (a minute) lives, b joins and gets nothing: the partitions are a's.
            _ = try await Self.beat(client, "a", leaseMilliseconds: 60_000, partitions: 2)
            let early = try await Self.beat(client, "b", leaseMilliseconds: 60_000, partitions: 2)
            #expect(early.owned == [])
            #expect(try await Self.beat(client, "a", leaseMilliseconds: 60_000, partitions: 2).toRelease == [1])
            // a's last heartbeat sets a short lease and a stops beating: once it has run out
            // (on Redis's clock), b takes both partitions.
            _ = try await Self.beat(client, "a", leaseMilliseconds: 200, partitions: 2)
            #expect(
                try await eventually(timeout: .seconds(10)) {
                    try await Self.beat(client, "b", leaseMilliseconds: 60_000, partitions: 2).owned == [0, 1]
                })
            // a's membership expired with it.
            #expect(try await Self.beat(client, "b", leaseMilliseconds: 60_000, partitions: 2).members == 1)
        }
    }

    @Test("leaving gives the partitions up and the membership with them")
    func leave() async throws {
        try await ScriptTesting.withClient { client in
            _ = try await Self.beat(client, "a", partitions: 2)
            _ = try await Self.beat(client, "b", partitions: 2)
            let left = try await Self.beat(client, "a", partitions: 2, mode: "leave", releasing: [0, 1])
            #expect(left == PartitionOwnershipReply(owned: [], acquired: [], toRelease: [], members: 1))
            #expect(try await Self.beat(client, "b", partitions: 2).acquired == [0, 1])
        }
    }

    @Test("releasing a partition another consumer holds does nothing")
    func releaseOthers() async throws {
        try await ScriptTesting.withClient { client in
            _ = try await Self.beat(client, "a", partitions: 2)
            // "a|" would match a prefix check; the owner must be exactly the caller.
            let reply = try await Self.beat(client, "a|x", partitions: 2, releasing: [0, 1])
            #expect(reply.owned == [])
            #expect(try await Self.beat(client, "a", partitions: 2, releasing: []).owned == [0, 1])
        }
    }

    @Test("refuses a key of another type and bad arguments, writing nothing")
    func refusals() async throws {
        try await ScriptTesting.withClient { client in
            try await ScriptTesting.send(client, ["SET", "s:owners:g", "x"])
            let wrongType = try await ScriptTesting.expectRefusal(
                client, LuaScripts.partitionOwnership, keys: ["s:owners:g"], ["a", "1000", "2", "beat"])
            #expect(wrongType?.code == .wrongType)
            try await ScriptTesting.send(client, ["DEL", "s:owners:g"])
            for arguments in [["", "1000", "2", "beat"], ["a", "0", "2", "beat"], ["a", "1000", "x", "beat"],
                ["a", "1000", "2", "dance"], ["a", "1000", "2", "beat", "one"]]
            {
                try await ScriptTesting.expectRefusal(client, LuaScripts.partitionOwnership, keys: ["s:owners:g"], arguments)
            }
        }
    }
}
