import EventBus
import EventStore
import Foundation
import LocalRedisServer
import RedisClient
import TestSupport
import Testing

/// A tiny aggregate's events for the store's tests.
struct NoteWritten: DomainEvent, Equatable {
    static let eventType = "note.written"
    static let aggregateType = "note"
    static let schemaVersion = 2
    var noteID: String
    var text: String
    /// New in v2.
    var language: String
    var aggregateID: String { noteID }

    enum CodingKeys: String, CodingKey { case noteID = "note_id", text, language }
}

/// The event store against a real redis-server. The tests taking a `RedisBackend` run on one
/// node and on a Redis Cluster with the type stream in 6 partitions (an aggregate's history,
/// snapshot and its partition of the type stream in one slot): appends checked by the
/// expected version, a conflict that writes nothing, reads up to a version, snapshots.
@Suite("Event store")
struct EventStoreTests {
    static func withStore(
        on backend: RedisBackend = .node, upcasters: EventUpcasters = EventUpcasters(),
        _ body: (EventStore, RedisClient) async throws -> Void
    ) async throws {
        try await withRedis(backend) { target in
            let client = try target.makeClient()
            defer { client.close() }
            let publisher = EventPublisher(client: client, configuration: .init(partitions: target.partitions))
            let store = EventStore(aggregateType: "note", client: client, publisher: publisher, upcasters: upcasters)
            try await body(store, client)
        }
    }

    static func note(_ id: String, _ text: String) -> NoteWritten { NoteWritten(noteID: id, text: text, language: "en") }

    @Test(arguments: RedisBackend.allCases)
    func appendedEventsAreTheAggregatesHistoryAndAreOnTheTypeStream(_ backend: RedisBackend) async throws {
        try await Self.withStore(on: backend) { store, client in
            #expect(try await store.append([Self.note("n1", "a"), Self.note("n1", "b")], to: "n1", expectedVersion: 0) == 2)
            #expect(try await store.append([Self.note("n1", "c")], to: "n1", expectedVersion: 2) == 3)
            let history = try await store.load("n1")
            #expect(history.version == 3 && history.snapshot == nil)
            #expect(history.events.map(\.version) == [1, 2, 3])
            #expect(try history.events.map { try $0.decode(NoteWritten.self).text } == ["a", "b", "c"])
            // The type stream carries the same events, in order, with their versions.
            let stream = try await client.xrange(store.keys.typeStream(for: "n1"))
            #expect(backend == .node ? store.keys.typeStream(for: "n1") == "note-events" : store.keys.typeStream(for: "n1").hasPrefix("note-events:{"))
            #expect(stream.map { $0.string(named: "meta.aggregate_version") } == ["1", "2", "3"])
            #expect(stream.map { $0.string(named: "event_id") } == history.events.map(\.envelope.eventID))
            #expect(try await client.xrange(store.keys.history("n1")).map(\.id.description) == ["0-1", "0-2", "0-3"])
            // Up to a version, and a version it never had.
            #expect(try await store.load("n1", upTo: 2).events.map(\.version) == [1, 2])
            #expect(try await store.load("n1", upTo: 0).events.isEmpty)
            #expect(try await store.load("nobody").version == 0)
        }
    }

    @Test(arguments: RedisBackend.allCases)
    func twoWritersAtOneVersionOneWinsAndTheOtherWritesNothing(_ backend: RedisBackend) async throws {
        try await Self.withStore(on: backend) { store, client in
            try await store.append([Self.note("n1", "a")], to: "n1", expectedVersion: 0)
            let results = await withTaskGroup(of: Result<Int, any Error>.self) { group in
                for text in ["b", "c"] {
                    group.addTask {
                        do { return .success(try await store.append([Self.note("n1", text)], to: "n1", expectedVersion: 1)) } catch {
                            return .failure(error)
                        }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.filter { if case .success(2) = $0 { true } else { false } }.count == 1)
            let failures = results.compactMap { if case .failure(let error) = $0 { error as? EventStoreError } else { nil } }
            #expect(failures == [.conflict(expected: 1, actual: 2)])
            #expect(try await store.load("n1").version == 2)
            #expect(try await client.xlen(store.keys.typeStream(for: "n1")) == 2)
        }
    }

    @Test func concurrentWritersThatRetryOnConflictLeaveNoGapAndLoseNoChange() async throws {
        try await Self.withStore { store, _ in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<20 {
                    group.addTask {
                        while true {
                            let version = try await store.load("n1").version
                            do {
                                try await store.append([Self.note("n1", "w\(writer)")], to: "n1", expectedVersion: version)
                                return
                            } catch EventStoreError.conflict {
                                continue
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let history = try await store.load("n1")
            #expect(history.events.map(\.version) == Array(1...20))
            #expect(Set(try history.events.map { try $0.decode(NoteWritten.self).text }) == Set((0..<20).map { "w\($0)" }))
        }
    }

    @Test(arguments: RedisBackend.allCases)
    func aSnapshotOfTheWantedSchemaShortensTheLoadAndAnOlderOneIsIgnored(_ backend: RedisBackend) async throws {
        try await Self.withStore(on: backend) { store, _ in
            try await store.append((1...8).map { Self.note("n1", "t\($0)") }, to: "n1", expectedVersion: 0)
            try await store.save(EventStore.Snapshot(version: 5, schemaVersion: 2, state: Array(#"{"count":5}"#.utf8)), of: "n1")
            let fromSnapshot = try await store.load("n1", snapshotSchemaVersion: 2)
            #expect(fromSnapshot.snapshot?.version == 5 && fromSnapshot.events.map(\.version) == [6, 7, 8] && fromSnapshot.version == 8)
            // A newer snapshot schema than the stored one: ignored, every event is loaded.
            let older = try await store.load("n1", snapshotSchemaVersion: 3)
            #expect(older.snapshot == nil && older.events.count == 8)
            // A snapshot past the version asked for is not used.
            let early = try await store.load("n1", upTo: 3, snapshotSchemaVersion: 2)
            #expect(early.snapshot == nil && early.events.map(\.version) == [1, 2, 3])
            // An older snapshot never replaces a newer one of the same schema.
            try await store.save(EventStore.Snapshot(version: 2, schemaVersion: 2, state: Array("{}".utf8)), of: "n1")
            #expect(try await store.load("n1", snapshotSchemaVersion: 2).snapshot?.version == 5)
        }
    }

    @Test func loadsLongerThanTheTailWindowReadEveryEventInOrder() async throws {
        try await Self.withStore { store, client in
            try await store.append((1...100).map { Self.note("n1", "t\($0)") }, to: "n1", expectedVersion: 0)
            #expect(try await store.load("n1").events.map(\.version) == Array(1...100))
            #expect(try await store.load("n1", upTo: 70).events.map(\.version) == Array(1...70))
            #expect(try await store.load("n1", upTo: 20).events.map(\.version) == Array(1...20))
            // A snapshot far behind: the events after it, across the window's edge.
            try await store.save(EventStore.Snapshot(version: 10, schemaVersion: 2, state: Array("{}".utf8)), of: "n1")
            #expect(try await store.load("n1", snapshotSchemaVersion: 2).events.map(\.version) == Array(11...100))
            #expect(try await store.load("n1", upTo: 60, snapshotSchemaVersion: 2).events.map(\.version) == Array(11...60))
            // Right at the window: as many events after the snapshot as it holds, then one more.
            try await store.save(EventStore.Snapshot(version: 68, schemaVersion: 2, state: Array("{}".utf8)), of: "n1")
            #expect(try await store.load("n1", snapshotSchemaVersion: 2, tailWindow: 32).events.map(\.version) == Array(69...100))
            #expect(try await store.load("n1", snapshotSchemaVersion: 2, tailWindow: 31).events.map(\.version) == Array(69...100))
            #expect(try await store.load("n1", upTo: 99, snapshotSchemaVersion: 2, tailWindow: 31).events.map(\.version) == Array(69...99))
            #expect(try await store.load("n1", snapshotSchemaVersion: 2, tailWindow: 1).events.map(\.version) == Array(69...100))
            // A snapshot key of another type is no snapshot; a history key of another type is an error.
            _ = try await client.send("SET", store.keys.snapshot("n2"), "x")
            try await store.append([Self.note("n2", "a")], to: "n2", expectedVersion: 0)
            #expect(try await store.load("n2", snapshotSchemaVersion: 2).events.map(\.version) == [1])
            _ = try await client.send("SET", store.keys.history("n3"), "x")
            await #expect(throws: RedisError.self) { try await store.load("n3") }
        }
    }

    @Test func aStoredV1EventIsUpcastBeforeItIsSeen() async throws {
        var upcasters = EventUpcasters()
        upcasters.register(NoteWritten.eventType, from: 1) { data in data["language"] = "und" }
        try await Self.withStore(upcasters: upcasters) { store, client in
            // As an older writer (or redis-cli) stored it: v1, without `language`.
            let fields = [
                "event_id", "e-v1", "event_type", "note.written", "event_version", "1", "aggregate_type", "note", "aggregate_id", "n1",
                "timestamp", "2026-01-01T00:00:00.000000Z", "correlation_id", "c", "causation_id", "c", "data",
                #"{"note_id":"n1","text":"old"}"#,
            ]
            _ = try await client.send(RedisCommand("XADD", arguments: [store.keys.history("n1"), "0-1"] + fields))
            try await store.append([Self.note("n1", "new")], to: "n1", expectedVersion: 1)
            let events = try await store.load("n1").events
            #expect(events.map(\.envelope.eventVersion) == [2, 2])
            #expect(try events.map { try $0.decode(NoteWritten.self) } == [
                NoteWritten(noteID: "n1", text: "old", language: "und"), Self.note("n1", "new"),
            ])
        }
    }

    @Test func aKeyOfTheWrongTypeRefusesTheAppendBeforeAnyWrite() async throws {
        try await Self.withStore { store, client in
            _ = try await client.send("SET", "note-events", "x")
            await #expect(throws: RedisError.self) { try await store.append([Self.note("n1", "a")], to: "n1", expectedVersion: 0) }
            #expect(try await client.send("EXISTS", store.keys.history("n1")).int == 0)
        }
    }

    @Test func aHistoryOrTypeStreamOfTheWrongTypeRefusesTheAppendBeforeAnyWrite() async throws {
        try await Self.withStore { store, client in
            _ = try await client.send("SET", store.keys.history("h1"), "not a stream")
            await #expect(throws: RedisError.self) { try await store.append([Self.note("h1", "a")], to: "h1", expectedVersion: 0) }
            #expect(try await client.send("EXISTS", "note-events").int == 0)
            _ = try await client.send("SET", "note-events", "not a stream")
            await #expect(throws: RedisError.self) { try await store.append([Self.note("h2", "a")], to: "h2", expectedVersion: 0) }
            #expect(try await client.send("EXISTS", store.keys.history("h2")).int == 0)
        }
    }

    @Test func aSnapshotKeyOfTheWrongTypeRefusesTheSave() async throws {
        try await Self.withStore { store, client in
            _ = try await client.send("SET", store.keys.snapshot("s1"), "not a hash")
            await #expect(throws: RedisError.self) {
                try await store.save(EventStore.Snapshot(version: 1, schemaVersion: 1, state: Array("{}".utf8)), of: "s1")
            }
            #expect(try await client.send("GET", store.keys.snapshot("s1")).string == "not a hash")
        }
    }

    @Test func extraWritesAreMadeWithTheEventsAndCheckedBeforeAnyWrite() async throws {
        try await Self.withStore { store, client in
            let index = "es:{note-events}:by-language:en"
            try await store.append(
                [Self.note("n1", "a")], to: "n1", expectedVersion: 0, alsoWrite: [RedisCommand("ZADD", index, "1", "n1")])
            #expect(try await client.send("ZSCORE", index, "n1").string == "1")

            // A key outside the hash tag, a key of the wrong type, a command not allowed:
            // each refuses the whole append, and nothing is written.
            _ = try await client.send("SET", "es:{note-events}:wrong", "x")
            let refused: [RedisCommand] = [
                RedisCommand("ZADD", "notes:by-language:en", "1", "n1"),
                RedisCommand("HSET", "es:{other-events}:n1", "a", "b"),
                RedisCommand("ZADD", "es:{note-events}:wrong", "1", "n1"),
                RedisCommand("HSET", "es:{note-events}:wrong", "a", "b"),
                RedisCommand("SET", "es:{note-events}:n9", "x"),
            ]
            for write in refused {
                await #expect(throws: RedisError.self) {
                    try await store.append(
                        [Self.note("n1", "b")], to: "n1", expectedVersion: 1,
                        alsoWrite: [RedisCommand("ZADD", index, "2", "n2"), write])
                }
            }
            #expect(try await store.load("n1").version == 1)
            #expect(try await client.xlen("note-events") == 1)
            #expect(try await client.send("ZCARD", index).int == 1)
            #expect(try await client.send("EXISTS", "notes:by-language:en", "es:{other-events}:n1", "es:{note-events}:n9").int == 0)
            #expect(try await client.send("TYPE", "es:{note-events}:wrong").string == "string")
        }
    }

    @Test func eventsOfATypeSinceATimeComeFromTheTypeStream() async throws {
        try await Self.withStore { store, _ in
            let before = Date()
            try await store.append([Self.note("n1", "a")], to: "n1", expectedVersion: 0)
            try await store.append([Self.note("n2", "b")], to: "n2", expectedVersion: 0)
            #expect(try await store.events(ofType: "note.written", since: before.addingTimeInterval(-1)).map(\.envelope.aggregateID) == ["n1", "n2"])
            #expect(try await store.events(ofType: "note.written", since: Date().addingTimeInterval(60)).isEmpty)
            #expect(try await store.events(ofType: "note.deleted", since: before.addingTimeInterval(-1)).isEmpty)
        }
    }
}
