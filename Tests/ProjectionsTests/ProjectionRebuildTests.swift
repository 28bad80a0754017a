import AnalyticsService
import EventBus
import EventStore
import Foundation
import LocalRedisServer
import Projections
import RedisClient
import TestSupport
import Testing
import TodoEvents

/// analytics-service as a projection: rebuilt while events arrive, and after the type
/// stream was trimmed, against a private redis-server with the real consumer running. The
/// tests taking a `RedisBackend` run on one node and on a Redis Cluster with 6 partitions
/// (each partition's counters, markers and histories in its slot; the reset node by node on a
/// cluster): the projection counts every event, and a rebuild after a trim gives the same
/// read model from the histories.
@Suite("Projections")
struct ProjectionRebuildTests {
    struct Fixture {
        /// The Redis URL (a node's socket, or a cluster's seeds).
        let url: String
        let partitions: StreamPartitions
        let client: RedisClient
        let store: EventStore
        var projection: Projection { AnalyticsHandlers.projection(partitions: partitions) }

        var analytics: AnalyticsStore { AnalyticsStore(client: client, partitions: partitions) }
        var rebuilder: ProjectionRebuilder { ProjectionRebuilder(projection: projection, client: client) }

        /// Todo `index`: created, then (every other one) completed, (every third one) its
        /// priority changed; appended with the event store, so it has a history.
        func writeTodo(_ index: Int) async throws {
            let id = "todo-\(index)"
            let user = "user-\(index % 4)"
            let created = Date(timeIntervalSince1970: 1_795_000_000 + Double(index) * 3600)
            var events: [any DomainEvent] = [
                TodoCreated(todoID: id, userID: user, title: "t\(index)", priority: index % 2 == 0 ? .high : .low, createdAt: created)
            ]
            if index % 3 == 0 {
                events.append(TodoPriorityChanged(todoID: id, userID: user, title: "t\(index)", oldPriority: .low, newPriority: .urgent))
            }
            if index % 2 == 0 {
                events.append(
                    TodoCompleted(todoID: id, userID: user, title: "t\(index)", priority: .high, createdAt: created, completedAt: created + 60))
            }
            try await store.append(events, to: id, expectedVersion: 0)
        }

        func caughtUp() async throws -> Bool {
            try await ProjectionRebuilder.position(
                name: projection.name, stream: projection.stream, partitions: partitions, client: client
            ).caughtUp
        }

        /// Event types counted over the type stream.
        func countsInStream() async throws -> [String: Int] {
            var counts: [String: Int] = [:]
            for stream in partitions.streamKeys(TodoEvents.stream) {
                for entry in try await client.xrange(stream) {
                    counts[entry.string(named: "event_type") ?? "?", default: 0] += 1
                }
            }
            return counts
        }

        /// Event types counted over every history `es:{todo-events}:*`.
        func countsInHistories(_ todos: Int) async throws -> [String: Int] {
            var counts: [String: Int] = [:]
            for index in 0..<todos {
                for event in try await store.load("todo-\(index)").events {
                    counts[event.envelope.eventType, default: 0] += 1
                }
            }
            return counts
        }
    }

    static func withProjection(on backend: RedisBackend = .node, _ body: (Fixture) async throws -> Void) async throws {
        try await withRedis(backend) { target in
            let redis = try target.configuration()
            let client = RedisClient(configuration: redis)
            defer { client.close() }
            let publisher = EventPublisher(client: client, configuration: .init(partitions: target.partitions))
            let store = EventStore(aggregateType: "todo", client: client, publisher: publisher)
            var configuration = EventConsumer.Configuration(
                stream: TodoEvents.stream, group: AnalyticsHandlers.group, startPosition: .beginning,
                blockTimeout: .milliseconds(100))
            configuration.partitions = target.partitions
            let consumer = try EventConsumer(redis: redis, configuration: configuration, handlers: AnalyticsHandlers.make())
            let running = Task { try await consumer.run() }
            defer { running.cancel() }
            do {
                try await body(Fixture(url: target.url, partitions: target.partitions, client: client, store: store))
            } catch {
                running.cancel()
                _ = await running.result
                throw error
            }
            running.cancel()
            _ = await running.result
        }
    }

    static func expectTotals(_ stats: Statistics, _ counts: [String: Int]) {
        #expect(stats.totals.created == counts["todo.created"] ?? 0)
        #expect(stats.totals.completed == counts["todo.completed"] ?? 0)
        #expect(stats.totals.priorityChanged == counts["todo.priority_changed"] ?? 0)
        #expect(stats.totals.deleted == counts["todo.deleted"] ?? 0)
    }

    @Test func aRebuildWhileTodosAreCreatedCountsEveryEventOnce() async throws {
        try await Self.withProjection { fixture in
            for index in 0..<30 { try await fixture.writeTodo(index) }
            #expect(try await eventually { try await fixture.caughtUp() })
            let before = try await fixture.analytics.statistics()
            #expect(before.totals.created == 30 && !before.rebuilding)

            // Todos keep being created during the whole rebuild.
            let writer = Task {
                for index in 30..<150 {
                    try await fixture.writeTodo(index)
                    await Task.yield()
                }
            }
            // The rebuild starts once the writer is under way.
            #expect(try await eventually { try await fixture.store.load("todo-40").version > 0 })
            let report = try await fixture.rebuilder.rebuild()
            #expect(!report.streamWasTrimmed && report.historyEventsReplayed == 0)
            // Until the group caught up the service says so.
            try await writer.value
            #expect(try await fixture.rebuilder.waitUntilCaughtUp(timeout: .seconds(30)))
            #expect(try await eventually { try await fixture.caughtUp() })

            let after = try await fixture.analytics.statistics()
            #expect(!after.rebuilding)
            let fromStream = try await fixture.countsInStream()
            #expect(fromStream["todo.created"] == 150)
            Self.expectTotals(after, fromStream)
            #expect(try await fixture.countsInHistories(150) == fromStream)
            #expect(after.users == 4)
            #expect(try await fixture.client.hgetall(ProjectionKeys.state("analytics-service"))["status"] == "ready")
        }
    }

    /// On a cluster the rebuild's reset deletes node by node (no script sees every node);
    /// nothing is published meanwhile here, as the README asks on a cluster.
    @Test(arguments: RedisBackend.allCases)
    func aRebuildAfterTheStreamWasTrimmedReplaysTheHistoriesAndGivesTheSameStats(_ backend: RedisBackend) async throws {
        try await Self.withProjection(on: backend) { fixture in
            for index in 0..<40 { try await fixture.writeTodo(index) }
            #expect(try await eventually { try await fixture.caughtUp() })
            let before = try await fixture.analytics.statistics()
            // The projection counted every event of the stream (every partition).
            Self.expectTotals(before, try await fixture.countsInStream())
            #expect(before.totals.created == 40)
            let user = try await fixture.analytics.statistics(userID: "user-1")
            let histories = try await fixture.countsInHistories(40)

            // Keep only the last 2 entries of each partition of the type stream.
            let streams = fixture.partitions.streamKeys(TodoEvents.stream)
            for stream in streams { _ = try await fixture.client.send("XTRIM", stream, "MAXLEN", "2") }
            for stream in streams { #expect(try await fixture.client.xlen(stream) == 2) }

            let report = try await fixture.rebuilder.rebuild()
            #expect(report.streamWasTrimmed)
            #expect(report.historiesReplayed == 40)
            #expect(report.historyEventsReplayed == histories.values.reduce(0, +))
            #expect(try await fixture.rebuilder.waitUntilCaughtUp(timeout: .seconds(30)))

            let after = try await fixture.analytics.statistics()
            #expect(after == before)
            Self.expectTotals(after, histories)
            #expect(try await fixture.analytics.statistics(userID: "user-1") == user)
        }
    }

    /// The rebuild resets the read model (one script on a node, node by node on a cluster) and
    /// says `rebuilding` until its group caught up.
    @Test(arguments: RedisBackend.allCases)
    func whileRebuildingTheStatsSayRebuilding(_ backend: RedisBackend) async throws {
        try await withRedis(backend) { target in
            let client = try target.makeClient()
            defer { client.close() }
            let partitions = target.partitions
            // No consumer runs: the rebuild cannot catch up and stays `rebuilding`.
            let publisher = EventPublisher(client: client, configuration: .init(partitions: partitions))
            let store = EventStore(aggregateType: "todo", client: client, publisher: publisher)
            try await store.append([TodoCreated(todoID: "t1", userID: "bob", title: "a")], to: "t1", expectedVersion: 0)
            // A read model left from before: the reset deletes it.
            try await client.send("SET", "analytics:{x}:old", "1")
            let report = try await ProjectionRebuilder(projection: AnalyticsHandlers.projection(partitions: partitions), client: client).rebuild()
            #expect(report.deletedKeys == 1)
            #expect(try await client.send("EXISTS", "analytics:{x}:old").int == 0)
            #expect(try await AnalyticsStore(client: client, partitions: partitions).statistics().rebuilding)
            let position = try await ProjectionRebuilder.refresh(
                name: "analytics-service", stream: "todo-events", partitions: partitions, client: client)
            #expect(position.status == "rebuilding" && position.phase == "catching_up" && !position.caughtUp)
            #expect(try await ProjectionRebuilder.namesWithState(client: client) == ["analytics-service"])
        }
    }
}
