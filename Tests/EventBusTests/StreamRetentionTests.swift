import EventBus
import LocalRedisServer
import RedisClient
import Testing

@Suite("StreamRetention")
struct StreamRetentionTests {
    /// Reads `count` new entries for `group` as consumer `c` and acknowledges all but `keep`.
    private func read(
        _ client: RedisClient, _ stream: String, _ group: String, count: Int, keepPending keep: Set<Int> = []
    ) async throws -> [StreamEntryID] {
        let entries = try await client.xreadgroup(group: group, consumer: "c", stream: stream, count: count)
        let ids = entries.map(\.id)
        try await client.xack(stream, group: group, ids: ids.enumerated().filter { !keep.contains($0.offset) }.map(\.element))
        return ids
    }

    private func ids(_ client: RedisClient, _ stream: String) async throws -> [StreamEntryID] {
        try await client.xrange(stream).map(\.id)
    }

    @Test("safe trim never removes a pending or undelivered entry of any group")
    func safeTrimKeepsWhatGroupsNeed() async throws {
        try await OpsFixture.withClient { _, client in
            let stream = uniqueStream()
            let all = try await OpsFixture.addEntries(client, stream, count: 20, ms: 5)
            try await client.xgroupCreate(stream, group: "a", startAt: "0")
            try await client.xgroupCreate(stream, group: "b", startAt: "0")
            // a: delivered 1...10, entry 5 (index 4) still pending. b: delivered and acked 1...15.
            _ = try await read(client, stream, "a", count: 10, keepPending: [4])
            _ = try await read(client, stream, "b", count: 15)
            let retention = StreamRetention(client: client)

            let first = try await retention.trimSafely(stream: stream)
            #expect(first == SafeTrimResult(removed: 4, minimumID: all[4], limitingGroup: "a"))
            #expect(try await ids(client, stream) == Array(all[4...]))
            #expect(try await pendingCount(client, stream, "a") == 1)

            // a acknowledges entry 5: it now needs what comes after its last delivered (5-10).
            try await client.xack(stream, group: "a", ids: [all[4]])
            let second = try await retention.trimSafely(stream: stream)
            #expect(second == SafeTrimResult(removed: 6, minimumID: StreamEntryID("5-11"), limitingGroup: "a"))
            #expect(try await ids(client, stream) == Array(all[10...]))

            // a catches up past b: b (delivered up to 5-15) limits now; undelivered 5-16... stay.
            _ = try await read(client, stream, "a", count: 10)
            let third = try await retention.trimSafely(stream: stream)
            #expect(third == SafeTrimResult(removed: 5, minimumID: StreamEntryID("5-16"), limitingGroup: "b"))
            #expect(try await ids(client, stream) == Array(all[15...]))
            // Both groups still read every entry they had not read.
            #expect(try await read(client, stream, "b", count: 100) == Array(all[15...]))
        }
    }

    @Test("the id after ms-<max sequence> is (ms+1)-0")
    func sequenceOverflow() async throws {
        try await OpsFixture.withClient { _, client in
            for id in ["7-18446744073709551614", "7-18446744073709551615", "8-0", "8-1"] {
                try await client.send("XADD", "s", id, "n", id)
            }
            try await client.xgroupCreate("s", group: "g", startAt: "0")
            _ = try await read(client, "s", "g", count: 2)
            let result = try await StreamRetention(client: client).trimSafely(stream: "s")
            #expect(result == SafeTrimResult(removed: 2, minimumID: StreamEntryID("8-0"), limitingGroup: "g"))
            #expect(try await ids(client, "s") == [StreamEntryID("8-0")!, StreamEntryID("8-1")!])
        }
    }

    @Test("maxLength combined with the safe limit: the older limit wins")
    func maxLengthWithSafeLimit() async throws {
        try await OpsFixture.withClient { _, client in
            let stream = uniqueStream()
            let all = try await OpsFixture.addEntries(client, stream, count: 20)
            try await client.xgroupCreate(stream, group: "a", startAt: "0")
            let retention = StreamRetention(client: client)
            // a handled 1...18: maxLength 5 keeps 16...20 (older than what a needs, 19).
            _ = try await read(client, stream, "a", count: 18)
            let byLength = try await retention.trimSafely(stream: stream, maxLength: 5)
            #expect(byLength == SafeTrimResult(removed: 15, minimumID: all[15], limitingGroup: nil))
            #expect(try await ids(client, stream) == Array(all[15...]))
            // A new group at the start needs everything: maxLength 2 removes nothing.
            try await client.xgroupCreate(stream, group: "late", startAt: "0")
            let heldBack = try await retention.trimSafely(stream: stream, maxLength: 2)
            #expect(heldBack == SafeTrimResult(removed: 0, minimumID: StreamEntryID("0-1"), limitingGroup: "late"))
            #expect(try await client.xlen(stream) == 5)
            // late reads 16...18 and keeps 17 pending: maxLength 1 stops at 17.
            _ = try await read(client, stream, "late", count: 3, keepPending: [1])
            let pending = try await retention.trimSafely(stream: stream, maxLength: 1)
            #expect(pending == SafeTrimResult(removed: 1, minimumID: all[16], limitingGroup: "late"))
            #expect(try await ids(client, stream) == Array(all[16...]))
            // Shorter than maxLength: nothing to trim.
            #expect(try await retention.trimSafely(stream: stream, maxLength: 10) == SafeTrimResult(
                removed: 0, minimumID: nil, limitingGroup: nil))
        }
    }

    @Test("with no group: nothing trimmed without maxLength, plain maxLength with it")
    func noGroups() async throws {
        try await OpsFixture.withClient { _, client in
            let stream = uniqueStream()
            let all = try await OpsFixture.addEntries(client, stream, count: 10)
            let retention = StreamRetention(client: client)
            #expect(try await retention.trimSafely(stream: stream) == SafeTrimResult(
                removed: 0, minimumID: nil, limitingGroup: nil))
            #expect(try await client.xlen(stream) == 10)
            // 10 entries, maxLength 8 (found from the oldest end), then 4 (from the newest end).
            #expect(try await retention.trimSafely(stream: stream, maxLength: 8) == SafeTrimResult(
                removed: 2, minimumID: all[2], limitingGroup: nil))
            #expect(try await retention.trimSafely(stream: stream, maxLength: 4) == SafeTrimResult(
                removed: 4, minimumID: all[6], limitingGroup: nil))
            #expect(try await ids(client, stream) == Array(all[6...]))
            // Shorter than maxLength: nothing; maxLength 0: everything.
            #expect(try await retention.trimSafely(stream: stream, maxLength: 8).removed == 0)
            #expect(try await retention.trimSafely(stream: stream, maxLength: 0).removed == 4)
            #expect(try await client.xlen(stream) == 0)
        }
    }

    @Test("approximate safe trim removes no more than exact, and nothing needed")
    func approximateSafeTrim() async throws {
        try await OpsFixture.withClient { _, client in
            let stream = uniqueStream()
            let all = try await OpsFixture.addEntries(client, stream, count: 300)
            try await client.xgroupCreate(stream, group: "a", startAt: "0")
            _ = try await read(client, stream, "a", count: 250, keepPending: [120])
            let result = try await StreamRetention(client: client).trimSafely(stream: stream, approximate: true)
            #expect(result.minimumID == all[120] && result.removed <= 120)
            #expect(try await ids(client, stream).suffix(180) == all[120...])
        }
    }

    @Test("plain trim keeps maxLength entries even when a group has not handled them")
    func plainTrim() async throws {
        try await OpsFixture.withClient { _, client in
            let stream = uniqueStream()
            let all = try await OpsFixture.addEntries(client, stream, count: 10)
            try await client.xgroupCreate(stream, group: "a", startAt: "0")
            _ = try await read(client, stream, "a", count: 2, keepPending: [0, 1])
            let retention = StreamRetention(client: client)
            #expect(try await retention.trim(stream: stream, maxLength: 3) == 7)
            #expect(try await ids(client, stream) == Array(all[7...]))
            // The risk the doc comment states: a's pending entries lost their bodies.
            #expect(try await pendingCount(client, stream, "a") == 2)
            #expect(try await retention.apply(.none, to: stream) == 0)
            #expect(try await retention.apply(.maxLength(1), to: stream, approximate: false) == 2)
        }
    }

    @Test("missing stream and wrong type are clear errors")
    func errors() async throws {
        try await OpsFixture.withClient { _, client in
            let retention = StreamRetention(client: client)
            try await client.send("SET", "plain", "x")
            for trim in [
                { try await retention.trimSafely(stream: $0).removed },
                { try await retention.trim(stream: $0, maxLength: 1) },
            ] as [@Sendable (String) async throws -> Int] {
                let missing = await #expect(throws: EventBusError.self) { try await trim("nope") }
                #expect(missing?.code == .noSuchStream && missing?.message == "stream nope does not exist")
                let wrong = await #expect(throws: EventBusError.self) { try await trim("plain") }
                #expect(wrong?.code == .wrongType && wrong?.message.contains("WRONGTYPE key plain") == true)
            }
        }
    }
}
