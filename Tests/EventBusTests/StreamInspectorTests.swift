import EventBus
import LocalRedisServer
import RedisClient
import Testing

@Suite("StreamInspector")
struct StreamInspectorTests {
    @Test("streamInfo: length, first and last ids, groups")
    func streamInfo() async throws {
        try await OpsFixture.withClient { _, client in
            let ids = try await OpsFixture.addEntries(client, "s", count: 4)
            try await client.xgroupCreate("s", group: "a")
            try await client.xgroupCreate("s", group: "b")
            let info = try await StreamInspector(client: client).streamInfo(stream: "s")
            #expect(info.stream == "s" && info.length == 4 && info.groupCount == 2)
            #expect(info.firstEntryID == ids[0] && info.lastEntryID == ids[3] && info.lastGeneratedID == ids[3])
            #expect(info.entriesAdded == 4)
            try await client.send("XTRIM", "s", "MAXLEN", "0")
            let empty = try await StreamInspector(client: client).streamInfo(stream: "s")
            #expect(empty.length == 0 && empty.firstEntryID == nil && empty.lastEntryID == nil)
            #expect(empty.lastGeneratedID == ids[3])
        }
    }

    @Test("groups: consumers with pending and idle, pending, lag (nil when unknown), last delivered, entries read")
    func groups() async throws {
        try await OpsFixture.withClient { _, client in
            let ids = try await OpsFixture.addEntries(client, "s", count: 5)
            try await client.xgroupCreate("s", group: "a", startAt: "0")
            try await client.xgroupCreate("s", group: "b", startAt: "$")
            let firstRead = ContinuousClock.now
            _ = try await client.xreadgroup(group: "a", consumer: "c1", stream: "s", count: 2)
            _ = try await client.xreadgroup(group: "a", consumer: "c2", stream: "s", count: 1)
            try await client.xack("s", group: "a", ids: [ids[0]])
            let inspector = StreamInspector(client: client)
            let groups = try await inspector.groups(stream: "s")
            #expect(groups.map(\.name) == ["a", "b"])
            let a = groups[0]
            #expect(a.pending == 2 && a.lastDeliveredID == ids[2] && a.entriesRead == 3 && a.lag == 2)
            #expect(a.consumers.map(\.name) == ["c1", "c2"] && a.consumers.map(\.pending) == [1, 1])
            // Idle since their reads: no longer than the time since the first (plus Redis's ms rounding).
            let sinceFirstRead = ContinuousClock.now - firstRead + .milliseconds(2)
            #expect(a.consumers.allSatisfy { $0.idle >= .zero && $0.idle <= sinceFirstRead })
            #expect(groups[1].pending == 0 && groups[1].consumers.isEmpty && groups[1].lag == 0)
            // A deleted entry a has not read yet: Redis cannot tell the lag any more.
            try await client.send("XDEL", "s", ids[3].description)
            #expect(try await inspector.groups(stream: "s")[0].lag == nil)
        }
    }

    @Test("pending: summary, per-consumer counts and the oldest entries up to the limit")
    func pending() async throws {
        try await OpsFixture.withClient { _, client in
            let ids = try await OpsFixture.addEntries(client, "s", count: 6)
            try await client.xgroupCreate("s", group: "g", startAt: "0")
            _ = try await client.xreadgroup(group: "g", consumer: "c1", stream: "s", count: 3)
            _ = try await client.xreadgroup(group: "g", consumer: "c2", stream: "s", count: 2)
            // c1 reads its own pending entries again: their delivery counts go to 2.
            _ = try await client.xreadgroup(group: "g", consumer: "c1", stream: "s", id: "0", count: 10)
            let inspector = StreamInspector(client: client)
            let report = try await inspector.pending(stream: "s", group: "g", limit: 4)
            #expect(report.count == 5 && report.smallestID == ids[0] && report.greatestID == ids[4])
            #expect(report.consumers == [.init(consumer: "c1", count: 3), .init(consumer: "c2", count: 2)])
            #expect(report.entries.map(\.id) == Array(ids[0..<4]))
            #expect(report.entries.map(\.consumer) == ["c1", "c1", "c1", "c2"])
            #expect(report.entries.map(\.deliveries) == [2, 2, 2, 1])
            try await client.xack("s", group: "g", ids: Array(ids[0..<5]))
            let none = try await inspector.pending(stream: "s", group: "g")
            #expect(none.count == 0 && none.smallestID == nil && none.consumers.isEmpty && none.entries.isEmpty)
        }
    }

    @Test("missing stream, missing group and wrong type are clear errors")
    func errors() async throws {
        try await OpsFixture.withClient { _, client in
            let inspector = StreamInspector(client: client)
            try await client.send("SET", "plain", "x")
            try await client.send("XADD", "s", "*", "n", "1")
            let missing = await #expect(throws: EventBusError.self) { try await inspector.groups(stream: "nope") }
            #expect(missing?.code == .noSuchStream && missing?.message == "stream nope does not exist")
            let info = await #expect(throws: EventBusError.self) { try await inspector.streamInfo(stream: "nope") }
            #expect(info?.message == "stream nope does not exist")
            let wrong = await #expect(throws: EventBusError.self) {
                try await inspector.pending(stream: "plain", group: "g")
            }
            #expect(wrong?.code == .wrongType && wrong?.message == "WRONGTYPE key plain holds a string, not a stream")
            let group = await #expect(throws: EventBusError.self) {
                try await inspector.pending(stream: "s", group: "nobody")
            }
            #expect(group?.code == .noSuchGroup && group?.message.contains("nobody") == true)
        }
    }
}
