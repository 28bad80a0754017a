import LocalRedisServer
import Testing

@testable import RedisClient

@Suite("Pending entries and claiming against a real redis-server")
struct PendingEntriesTests {
    @Test func pendingListShowsOwnerIdleTimeAndDeliveries() async throws {
        try await withLocalRedisServer { server in
            let client = try RedisClient(url: server.url)
            defer { client.close() }
            try await client.xgroupCreate("s", group: "g", startAt: "0")
            let first = try await client.xadd("s", fields: [("n", "1")])
            try await client.xadd("s", fields: [("n", "2")])
            _ = try await client.xreadgroup(group: "g", consumer: "alice", stream: "s", count: 10)
            try await Task.sleep(for: .milliseconds(120))
            let pending = try await client.xpending("s", group: "g", minIdle: .milliseconds(100), count: 10)
            #expect(pending.count == 2)
            #expect(pending[0].id == first)
            #expect(pending[0].consumer == "alice")
            #expect(pending[0].deliveries == 1)
            #expect(pending[0].idle >= .milliseconds(100))
            #expect(try await client.xpending("s", group: "g", minIdle: .seconds(60), count: 10).isEmpty)
        }
    }

    @Test func autoclaimTakesOverIdleEntriesAndReportsDeletedOnes() async throws {
        try await withLocalRedisServer { server in
            let client = try RedisClient(url: server.url)
            defer { client.close() }
            try await client.xgroupCreate("s", group: "g", startAt: "0")
            let kept = try await client.xadd("s", fields: [("n", "1")])
            let trimmed = try await client.xadd("s", fields: [("n", "2")])
            _ = try await client.xreadgroup(group: "g", consumer: "dead", stream: "s", count: 10)
            try await client.send("XDEL", "s", trimmed.description)  // its body is gone while pending
            try await Task.sleep(for: .milliseconds(60))
            let result = try await client.xautoclaim("s", group: "g", consumer: "alive", minIdle: .milliseconds(50), count: 10)
            #expect(result.entries.map(\.id) == [kept])
            #expect(result.entries.first?.string(named: "n") == "1")
            #expect(result.deletedIDs == [trimmed])
            let pending = try await client.xpending("s", group: "g", count: 10)
            #expect(pending.map(\.id) == [kept])
            #expect(pending.first?.consumer == "alive")
            #expect(pending.first?.deliveries == 2)
        }
    }

    @Test func claimWithJustIDRenewsTheLeaseWithoutCountingADelivery() async throws {
        try await withLocalRedisServer { server in
            let client = try RedisClient(url: server.url)
            defer { client.close() }
            try await client.xgroupCreate("s", group: "g", startAt: "0")
            let id = try await client.xadd("s", fields: [("n", "1")])
            _ = try await client.xreadgroup(group: "g", consumer: "c", stream: "s", count: 1)
            #expect(try await client.xclaim("s", group: "g", consumer: "c", minIdle: .zero, ids: [id], justID: true) == [id])
            #expect(try await client.xpending("s", group: "g", count: 1).first?.deliveries == 1)
            #expect(try await client.xclaim("s", group: "g", consumer: "d", minIdle: .zero, ids: [id]) == [id])
            let after = try await client.xpending("s", group: "g", count: 1).first
            #expect(after?.consumer == "d")
            #expect(after?.deliveries == 2)
        }
    }
}
