import EventBus
import EventStore
import Foundation
import LocalRedisServer
import RedisClient
import Testing

/// A note: the fold of its `note.written` events.
struct Note: EventSourcedAggregate, Equatable {
    static let aggregateType = "note"
    static let snapshotSchemaVersion = 1
    var id: String
    var texts: [String] = []

    init(id: String) { self.id = id }

    mutating func apply(_ event: RecordedEvent) throws {
        texts.append(try event.decode(NoteWritten.self).text)
    }
}

/// A later form of the note, with a new snapshot schema: the old snapshots must be ignored.
struct NoteV2: EventSourcedAggregate, Equatable {
    static let aggregateType = "note"
    static let snapshotSchemaVersion = 2
    var id: String
    var count = 0

    init(id: String) { self.id = id }

    mutating func apply(_ event: RecordedEvent) throws { count += 1 }
}

@Suite("Aggregate repository")
struct AggregateRepositoryTests {
    @Test func aRebuiltAggregateEqualsTheLiveOneWithAndWithoutSnapshots() async throws {
        try await withLocalRedisServer { server in
            let client = try RedisClient(url: server.url)
            defer { client.close() }
            let store = EventStore(aggregateType: "note", client: client, publisher: EventPublisher(client: client))
            let repository = AggregateRepository<Note>(store: store, snapshotEvery: 4)
            var live = Note(id: "n1")
            for index in 1...10 {
                let loaded = try await repository.load("n1")
                #expect(loaded?.aggregate ?? Note(id: "n1") == live)
                let event = NoteWritten(noteID: "n1", text: "t\(index)", language: "en")
                live.texts.append(event.text)
                try await repository.append([event], to: "n1", expectedVersion: loaded?.version ?? 0, after: live)
            }
            // Snapshots at 4 and 8: the load starts from 8.
            #expect(try await store.load("n1", snapshotSchemaVersion: 1).snapshot?.version == 8)
            #expect(try await repository.load("n1")?.aggregate == live)
            #expect(try await repository.rebuild("n1")?.aggregate == live)
            #expect(try await repository.load("n1")?.version == 10)
            // As it was after its 3rd event; a version it never had.
            #expect(try await repository.load("n1", upTo: 3)?.aggregate.texts == ["t1", "t2", "t3"])
            #expect(try await repository.load("n1", upTo: 11) == nil)
            #expect(try await repository.load("n1", upTo: 0) == nil)
            // A new snapshot schema ignores the old snapshots and rebuilds from the events.
            let v2 = AggregateRepository<NoteV2>(store: store, snapshotEvery: 4)
            #expect(try await v2.load("n1")?.aggregate.count == 10)
            // A stale append is refused.
            await #expect(throws: EventStoreError.conflict(expected: 3, actual: 10)) {
                try await repository.append(
                    [NoteWritten(noteID: "n1", text: "late", language: "en")], to: "n1", expectedVersion: 3, after: live)
            }
        }
    }
}
