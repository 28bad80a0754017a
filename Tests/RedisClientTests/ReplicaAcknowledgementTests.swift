import LocalRedisServer
import Testing
import TestSupport

@testable import RedisClient

/// Writes sent with a `ReplicaAcknowledgement` (`WAIT` after the write): each is acknowledged
/// or refused on its own, and the requests of one pipelined batch share one `WAIT` (a `WAIT`
/// blocks the connection, so one per request held every other command behind it).
@Suite("Writes acknowledged by replicas")
struct ReplicaAcknowledgementTests {
    static let wait = ReplicaAcknowledgement(replicas: 1, timeout: .milliseconds(300)).command

    static func write(_ key: String) -> PendingRequest {
        PendingRequest(commands: [RedisCommand("XADD", key, "*", "f", "v"), wait], timeoutMilliseconds: 1000) { _ in }
    }

    @Test func theRequestsOfABatchThatEndWithTheSameWaitShareOne() {
        let other = PendingRequest(commands: [RedisCommand("GET", "k")], timeoutMilliseconds: 1000) { _ in }
        let longer = PendingRequest(
            commands: [RedisCommand("XADD", "s", "*", "f", "v"), ReplicaAcknowledgement(replicas: 1, timeout: .seconds(2)).command],
            timeoutMilliseconds: 1000) { _ in }
        let waits = CoalescedWaits([Self.write("a"), other, Self.write("b"), longer, Self.write("c")])
        #expect(waits.command?.body == Self.wait.body)
        #expect((0..<5).map(waits.isMember) == [true, false, true, false, true])
        // One such request alone keeps its own WAIT.
        #expect(CoalescedWaits([Self.write("a"), other]).command == nil)
        #expect(!CoalescedWaits([Self.write("a"), other]).isMember(0))
        // A WAIT in the middle of a request is not trailing: left alone.
        let middle = PendingRequest(commands: [Self.wait, RedisCommand("GET", "k")], timeoutMilliseconds: 1000) { _ in }
        #expect(CoalescedWaits([middle, middle]).command == nil)
    }

    @Test func concurrentWritesWithAReplicaAreEachAcknowledgedAndOnTheReplica() async throws {
        try await withLocalRedisServer(tcp: true) { master in
            let port = try #require(master.port)
            try await withLocalRedisServer(extraArguments: ["--replicaof", "127.0.0.1", "\(port)"]) { replica in
                let client = try RedisClient(url: master.url)
                defer { client.close() }
                let replicaClient = try RedisClient(url: replica.url)
                defer { replicaClient.close() }
                #expect(
                    try await eventually {
                        let info = try await replicaClient.send("INFO", "replication").string ?? ""
                        return info.contains("master_link_status:up")
                    })
                let acknowledgement = ReplicaAcknowledgement(replicas: 1, timeout: .seconds(10))
                let ids = try await withThrowingTaskGroup(of: String.self) { group in
                    for index in 0..<200 {
                        group.addTask {
                            try await client.send(
                                RedisCommand("XADD", "acked", "*", "n", "\(index)"), replicated: acknowledgement
                            ).string ?? ""
                        }
                    }
                    return try await group.reduce(into: Set<String>()) { $0.insert($1) }
                }
                // Every write got its own entry id back, and each is on the replica once acknowledged.
                #expect(ids.count == 200)
                #expect(try await replicaClient.send("XLEN", "acked").int == 200)
                let onReplica = try await replicaClient.send("XRANGE", "acked", "-", "+").array ?? []
                #expect(Set(onReplica.compactMap { $0.array?.first?.string }) == ids)
                let sent = client.statistics.commandsSent
                print("200 replicated writes: \(sent) commands sent, so \(sent - 200) WAITs")
            }
        }
    }

    @Test func withoutAReplicaEveryWriteIsRefusedAsNotReplicatedButApplied() async throws {
        try await withLocalRedisServer { server in
            let client = try RedisClient(url: server.url)
            defer { client.close() }
            let acknowledgement = ReplicaAcknowledgement(replicas: 1, timeout: .milliseconds(200))
            let outcomes = await withTaskGroup(of: RedisError.Code?.self) { group in
                for index in 0..<60 {
                    group.addTask {
                        do {
                            _ = try await client.send(RedisCommand("XADD", "lonely", "*", "n", "\(index)"), replicated: acknowledgement)
                            return nil
                        } catch let error as RedisError {
                            return error.code
                        } catch {
                            return .connectionFailed
                        }
                    }
                }
                return await group.reduce(into: [RedisError.Code?]()) { $0.append($1) }
            }
            #expect(outcomes.count == 60)
            #expect(outcomes.allSatisfy { $0 == .notReplicated }, "\(outcomes)")
            // Applied on the master all the same (what not_replicated means).
            #expect(try await client.send("XLEN", "lonely").int == 60)
            // A WAIT blocks the connection for its whole timeout here: the writes queued behind
            // the first one share WAITs (60 WAITs would have held the connection 12 s).
            let sent = client.statistics.commandsSent
            #expect(sent < 60 * 2, "no WAIT was shared: \(sent) commands for 60 writes")
        }
    }
}
