import EventBus
import Foundation
import LocalRedisServer
import RedisClient
import TestSupport
import Testing

/// `StreamInspector` and `DeadLetterStore` over the partitions of a stream, called directly.
@Suite("Operations over partitions")
struct PartitionedOperationsTests {
    @Test("streamInfo: a missing partition is left out; lag unknown on one partition is unknown in total")
    func missingPartitionsAndUnknownLag() async throws {
        try await OpsFixture.withClient { _, client in
            let layout = try StreamPartitions(count: 3)
            let keys = layout.streamKeys("orders")
            let inspector = StreamInspector(client: client)
            await #expect(throws: EventBusError.self) { try await inspector.streamInfo(stream: "orders", partitions: layout) }

            let first = try await OpsFixture.addEntries(client, keys[0], count: 3)
            let last = try await OpsFixture.addEntries(client, keys[2], count: 2)
            for key in [keys[0], keys[2]] { try await client.xgroupCreate(key, group: "g", startAt: "0") }
            _ = try await client.xreadgroup(group: "g", consumer: "a", stream: keys[0], count: 1)
            _ = try await client.xreadgroup(group: "g", consumer: "b", stream: keys[2], count: 2)

            let info = try await inspector.streamInfo(stream: "orders", partitions: layout)
            #expect(info.partitions.map(\.stream) == [keys[0], keys[2]] && info.missing == [keys[1]])
            #expect(info.length == 5 && info.firstEntryID == min(first[0], last[0]) && info.lastEntryID == max(first[2], last[1]))
            let group = try #require(info.groups.first)
            #expect(info.groups.count == 1 && group.partitions.map(\.index) == [0, 2] && !group.isOnEveryPartition)
            #expect(group.pending == 3 && group.lag == 2 && group.entriesRead == 3)
            #expect(group.consumers.map(\.name) == ["a", "b"] && group.consumers.map(\.pending) == [1, 2])

            try await client.send("XDEL", keys[0], first[2].description)  // Redis cannot tell this partition's lag now
            let unknown = try await inspector.streamInfo(stream: "orders", partitions: layout)
            #expect(unknown.groups.first?.lag == nil && unknown.groups.first?.partitions.map(\.group.lag) == [nil, 0])

            let pending = try await inspector.pending(stream: "orders", group: "g", partitions: layout, limit: 2)
            #expect(pending.count == 3 && pending.entries.count == 2 && pending.missing == [keys[1]])
            #expect(pending.consumers.map(\.consumer) == ["a", "b"])
            await #expect(throws: EventBusError.self) {
                try await inspector.pending(stream: "orders", group: "nobody", partitions: layout)
            }
        }
    }

    @Test("DeadLetterStore.list(partitions:) folds each stream's partitions and leaves plain dead letters alone")
    func listFoldsPartitions() async throws {
        try await OpsFixture.withClient { _, client in
            let layout = try StreamPartitions(count: 4)
            let keys = layout.streamKeys("todo-events")
            try await OpsFixture.addDeadLetter(client, stream: keys[3], group: "mail", reason: .undecodable, id: "1000-0")
            try await OpsFixture.addDeadLetter(client, stream: keys[1], group: "mail", reason: .maxDeliveries, id: "2000-0")
            try await OpsFixture.addDeadLetter(client, stream: keys[1], group: "audit", reason: .maxDeliveries)
            try await OpsFixture.addDeadLetter(client, stream: "todo-events", group: "mail", reason: .deleted)  // from before partitioning
            try await OpsFixture.addDeadLetter(client, stream: "todo-events:{p9}", group: "mail", reason: .deleted)  // another layout

            let store = DeadLetterStore(client: client)
            let summaries = try await store.list(partitions: layout)
            // By stream, then group, then key.
            #expect(summaries.map(\.key) == [
                "todo-events:{*}:dlq:audit", "todo-events:dlq:mail", "todo-events:{*}:dlq:mail", "todo-events:{p9}:dlq:mail",
            ], "\(summaries.map(\.key))")
            let mail = summaries[2]
            #expect(mail.stream == "todo-events" && mail.group == "mail" && mail.count == 2)
            #expect(mail.countsByReason == ["undecodable": 1, "max_deliveries": 1])
            #expect(mail.partitions.map(\.partition) == [1, 3] && mail.partitions.map(\.key) == [keys[1], keys[3]].map {
                DeadLetter.streamKey(stream: $0, group: "mail")
            })
            #expect(summaries[0].partitions.map(\.partition) == [1])
            #expect(summaries[1].partitions.isEmpty && summaries[3].partitions.isEmpty)
            #expect(try await store.list(partitions: .single) == store.list())

            let shown = try await store.show(stream: "todo-events", group: "mail", partitions: layout)
            #expect(shown.map(\.originalStream) == [keys[3], keys[1]], "oldest first over the partitions")
            #expect(shown.map(\.deadLetterStream) == [keys[3], keys[1]].map { DeadLetter.streamKey(stream: $0, group: "mail") })
            await #expect(throws: EventBusError.self) { try await store.show(stream: "todo-events", group: "nobody", partitions: layout) }
        }
    }
}
