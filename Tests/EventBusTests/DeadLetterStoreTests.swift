import EventBus
import Foundation
import LocalRedisServer
import RedisClient
import Testing

/// Writes dead letters the way the consumer does (original fields, then `dlq_*`), and
/// ordinary stream entries, for the operations tests.
enum OpsFixture {
    /// XADDs a dead letter for `stream`/`group` with `fields` (raw bytes) and returns its id.
    @discardableResult
    static func addDeadLetter(
        _ client: RedisClient, stream: String, group: String, reason: DeadLetter.Reason,
        fields: [(String, [UInt8])]? = nil, originalID: String = "1-1", id: String = "*"
    ) async throws -> StreamEntryID {
        let original = fields ?? [
            (EventStreamFields.eventID, Array(UUID().uuidString.utf8)),
            (EventStreamFields.eventType, Array("todo.created".utf8)),
            (EventStreamFields.data, Array(#"{"todo_id":"t1"}"#.utf8)),
        ]
        var command = RedisCommand("XADD", DeadLetter.streamKey(stream: stream, group: group), id)
        for (name, value) in reason == .deleted ? [] : original {
            command.append(name)
            command.append(value)
        }
        let dlq: [(String, String)] = [
            (DeadLetter.Field.stream, stream), (DeadLetter.Field.entryID, originalID),
            (DeadLetter.Field.group, group), (DeadLetter.Field.consumer, "host-1"),
            (DeadLetter.Field.deliveries, "5"), (DeadLetter.Field.reason, reason.rawValue),
            (DeadLetter.Field.error, "handler failed: boom"),
            (DeadLetter.Field.failedAt, RFC3339.string(microsecondsSinceEpoch: RFC3339.nowMicroseconds())),
        ]
        for (name, value) in dlq {
            command.append(name)
            command.append(value)
        }
        return try await client.entryIDs([command])[0]
    }

    /// XADDs `count` entries `n=<i>` to `stream` (explicit ids `<ms>-<i>` when `ms` is given).
    @discardableResult
    static func addEntries(_ client: RedisClient, _ stream: String, count: Int, ms: Int? = nil) async throws
        -> [StreamEntryID]
    {
        let commands = (1...count).map { index in
            var command = RedisCommand("XADD", stream, ms.map { "\($0)-\(index)" } ?? "*")
            command.append("n")
            command.append(index)
            return command
        }
        return try await client.entryIDs(commands)
    }

    /// Runs `body` with a private server and a client.
    static func withClient(_ body: (LocalRedisServer, RedisClient) async throws -> Void) async throws {
        try await withLocalRedisServer { server in
            let client = try RedisClient(url: server.url)
            defer { client.close() }
            try await body(server, client)
        }
    }

    /// Every field of `entry` as raw bytes.
    static func rawFields(_ entry: StreamEntry) -> [[UInt8]] {
        (0..<entry.fieldCount).flatMap { [Array(entry.name(at: $0)), Array(entry.value(at: $0))] }
    }
}

@Suite("DeadLetterStore")
struct DeadLetterStoreTests {
    @Test("list finds every dead-letter stream with counts by reason")
    func listCountsByReason() async throws {
        try await OpsFixture.withClient { _, client in
            for reason in [DeadLetter.Reason.maxDeliveries, .maxDeliveries, .undecodable, .deleted] {
                try await OpsFixture.addDeadLetter(client, stream: "orders:eu", group: "billing", reason: reason)
            }
            try await OpsFixture.addDeadLetter(client, stream: "todo-events", group: "analytics", reason: .unknownType)
            try await client.send("SET", "not:dlq:a-stream", "x")  // matches the pattern, not a stream
            try await client.send("XADD", "todo-events", "*", "a", "b")  // a stream, not dead letters
            let summaries = try await DeadLetterStore(client: client).list()
            #expect(summaries.map(\.key) == ["orders:eu:dlq:billing", "todo-events:dlq:analytics"])
            #expect(summaries[0].stream == "orders:eu" && summaries[0].group == "billing")
            #expect(summaries[0].count == 4)
            #expect(summaries[0].countsByReason == ["max_deliveries": 2, "undecodable": 1, "deleted": 1])
            #expect(summaries[1].countsByReason == ["unknown_type": 1])
        }
    }

    @Test("list pages through more than 500 dead letters")
    func listPages() async throws {
        try await OpsFixture.withClient { _, client in
            let key = DeadLetter.streamKey(stream: "big", group: "g")
            let commands = (0..<1203).map { index in
                RedisCommand("XADD", key, "*", "dlq_reason", index % 3 == 0 ? "undecodable" : "max_deliveries")
            }
            _ = try await client.pipeline(commands)
            let summary = try #require(try await DeadLetterStore(client: client).list().first)
            #expect(summary.count == 1203)
            #expect(summary.countsByReason == ["undecodable": 401, "max_deliveries": 802])
        }
    }

    @Test("show filters by reason and limit, oldest first, with parsed fields")
    func showFilterAndLimit() async throws {
        try await OpsFixture.withClient { _, client in
            var ids: [StreamEntryID] = []
            for (index, reason) in [DeadLetter.Reason.undecodable, .maxDeliveries, .undecodable, .undecodable].enumerated() {
                ids.append(
                    try await OpsFixture.addDeadLetter(
                        client, stream: "s", group: "g", reason: reason, originalID: "1-\(index)"))
            }
            let store = DeadLetterStore(client: client)
            let records = try await store.show(stream: "s", group: "g", reason: .undecodable, limit: 2)
            #expect(records.map(\.id) == [ids[0], ids[2]])
            let first = records[0]
            #expect(first.reason == .undecodable && first.reasonText == "undecodable")
            #expect(first.originalStream == "s" && first.originalEntryID == StreamEntryID("1-0"))
            #expect(first.group == "g" && first.consumer == "host-1" && first.deliveries == 5)
            #expect(first.error == "handler failed: boom")
            #expect(first.failedAt.flatMap { RFC3339.parseMicroseconds($0) } != nil)
            #expect(first.eventType == "todo.created" && first.eventID != nil)
            #expect(first.originalFields.map(\.nameText) == ["event_id", "event_type", "data"])
            #expect(try await store.show(stream: "s", group: "g").count == 4)
            #expect(try await store.show(stream: "s", group: "g", reason: .maxDeliveries).map(\.id) == [ids[1]])
            await #expect(throws: EventBusError.self) {
                try await store.show(stream: "s", group: "nobody")
            }
        }
    }

    @Test("replay --id puts the original bytes back with meta.replayed_from and a new id")
    func replayByIDKeepsBytes() async throws {
        try await OpsFixture.withClient { _, client in
            let stream = uniqueStream()
            let before = try await OpsFixture.addEntries(client, stream, count: 2)
            let invalidUTF8: [UInt8] = [0xFF, 0xFE, 0x00, 0x41, 0xC3]
            let fields: [(String, [UInt8])] = [
                ("event_id", Array("e-1".utf8)), ("event_type", Array("todo.created".utf8)),
                (DeadLetter.replayedFromField, Array("0-7".utf8)), ("data", invalidUTF8),
                ("meta.tenant", Array("ü".utf8)),
            ]
            let id = try await OpsFixture.addDeadLetter(
                client, stream: stream, group: "g", reason: .undecodable, fields: fields, originalID: before[0].description)
            let report = try await DeadLetterStore(client: client).replay(stream: stream, group: "g", selection: .id(id))
            #expect(report.skipped.isEmpty)
            let replayed = try #require(report.replayed.first)
            #expect(replayed.deadLetterID == id && replayed.originalEntryID == before[0])
            #expect(replayed.newEntryID > before[1])
            let entry = try #require(try await client.xrange(stream, from: replayed.newEntryID.description, to: "+").first)
            let expected: [[UInt8]] = [
                Array("event_id".utf8), Array("e-1".utf8), Array("event_type".utf8), Array("todo.created".utf8),
                Array("data".utf8), invalidUTF8, Array("meta.tenant".utf8), Array("ü".utf8),
                Array(DeadLetter.replayedFromField.utf8), Array(before[0].description.utf8),
                Array(DeadLetter.replayForGroupField.utf8), Array("g".utf8),
            ]
            #expect(OpsFixture.rawFields(entry) == expected)
            #expect(try await client.xlen(DeadLetter.streamKey(stream: stream, group: "g")) == 0)
        }
    }

    @Test("replay --reason and --all skip deleted dead letters and leave them")
    func replayReasonAndAll() async throws {
        try await OpsFixture.withClient { _, client in
            let store = DeadLetterStore(client: client)
            let a = try await OpsFixture.addDeadLetter(client, stream: "s", group: "g", reason: .maxDeliveries)
            let b = try await OpsFixture.addDeadLetter(client, stream: "s", group: "g", reason: .undecodable)
            let c = try await OpsFixture.addDeadLetter(client, stream: "s", group: "g", reason: .deleted)
            let byReason = try await store.replay(stream: "s", group: "g", selection: .reason(.undecodable))
            #expect(byReason.replayed.map(\.deadLetterID) == [b] && byReason.skipped.isEmpty)
            let all = try await store.replay(stream: "s", group: "g", selection: .all)
            #expect(all.replayed.map(\.deadLetterID) == [a])
            #expect(all.skipped.map(\.deadLetterID) == [c])
            #expect(all.skipped.first?.reason.contains("deleted") == true)
            #expect(try await store.show(stream: "s", group: "g").map(\.id) == [c])
            let published = try await client.xrange("s")
            #expect(published.count == 2)
            #expect(published.allSatisfy { $0.string(named: DeadLetter.replayedFromField) == "1-1" })
            #expect(published.allSatisfy { entry in entry.fields.allSatisfy { !$0.name.hasPrefix("dlq_") } })
        }
    }

    @Test("two replays of one dead letter at once publish it once")
    func doubleReplayPublishesOnce() async throws {
        try await OpsFixture.withClient { server, client in
            let other = try RedisClient(url: server.url)
            defer { other.close() }
            for round in 0..<20 {
                let id = try await OpsFixture.addDeadLetter(client, stream: "s", group: "g", reason: .maxDeliveries)
                async let first = DeadLetterStore(client: client).replay(stream: "s", group: "g", selection: .id(id))
                async let second = DeadLetterStore(client: other).replay(stream: "s", group: "g", selection: .id(id))
                let reports = try await [first, second]
                #expect(reports.map(\.replayed.count).reduce(0, +) == 1)
                #expect(reports.map(\.skipped.count).reduce(0, +) == 1)
                #expect(try await client.xlen("s") == round + 1)
            }
            let again = try await DeadLetterStore(client: client).replay(
                stream: "s", group: "g", selection: .id(StreamEntryID("1-1")!))
            #expect(again.replayed.isEmpty && again.skipped.first?.reason.contains("not found") == true)
        }
    }

    @Test("replay loads its script again after SCRIPT FLUSH")
    func replayAfterScriptFlush() async throws {
        try await OpsFixture.withClient { _, client in
            let store = DeadLetterStore(client: client)
            let a = try await OpsFixture.addDeadLetter(client, stream: "s", group: "g", reason: .maxDeliveries)
            #expect(try await store.replay(stream: "s", group: "g", selection: .id(a)).replayed.count == 1)
            try await client.send("SCRIPT", "FLUSH")
            let b = try await OpsFixture.addDeadLetter(client, stream: "s", group: "g", reason: .maxDeliveries)
            #expect(try await store.replay(stream: "s", group: "g", selection: .id(b)).replayed.count == 1)
        }
    }

    @Test("purge by reason, by age, and all")
    func purgeByReasonAndAge() async throws {
        try await OpsFixture.withClient { _, client in
            let store = DeadLetterStore(client: client)
            // Two dead letters from 1970 (explicit ids), two from now.
            try await OpsFixture.addDeadLetter(client, stream: "s", group: "g", reason: .maxDeliveries, id: "1000-0")
            try await OpsFixture.addDeadLetter(client, stream: "s", group: "g", reason: .undecodable, id: "2000-0")
            try await OpsFixture.addDeadLetter(client, stream: "s", group: "g", reason: .maxDeliveries)
            let recent = try await OpsFixture.addDeadLetter(client, stream: "s", group: "g", reason: .undecodable)
            #expect(try await store.purge(stream: "s", group: "g", reason: .undecodable, olderThan: .seconds(3600)) == 1)
            #expect(try await store.purge(stream: "s", group: "g", olderThan: .seconds(3600)) == 1)
            #expect(try await store.show(stream: "s", group: "g").count == 2)
            #expect(try await store.purge(stream: "s", group: "g", reason: .maxDeliveries) == 1)
            #expect(try await store.show(stream: "s", group: "g").map(\.id) == [recent])
            #expect(try await store.purge(stream: "s", group: "g") == 1)
            #expect(try await store.purge(stream: "s", group: "g") == 0)
            #expect(try await store.purge(stream: "none", group: "g") == 0)
        }
    }
}
