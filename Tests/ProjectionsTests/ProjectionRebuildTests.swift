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
/// stream was trimmed, against a private redis-server with the real consumer running.
@Suite("Projections")
struct ProjectionRebuildTests {
    struct Fixture {
        let server: LocalRedisServer
        let client: RedisClient
        let store: EventStore
        let projection = AnalyticsHandlers.projection

        var analytics: AnalyticsStore { AnalyticsStore(client: client) }
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
            try await ProjectionRebuilder.position(name: projection.name, stream: projection.stream, client: client).caughtUp
        }

        /// Event types counted over the type stream.
        func countsInStream() async throws -> [String: Int] {
            var counts: [String: Int] = [:]
            for entry in try await client.xrange(TodoEvents.stream) {
                counts[entry.string(named: "event_type") ?? "?", default: 0] += 1
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

    static func withProjection(_ body: (Fixture) async throws -> Void) async throws {
        try await withLocalRedisServer { server in
            let redis = try RedisConfiguration(url: server.url)
            let client = RedisClient(configuration: redis)
            defer { client.close() }
            let store = EventStore(aggregateType: "todo", client: client, publisher: EventPublisher(client: client))
            let consumer = try EventConsumer(
                redis: redis,
                configuration: .init(
                    stream: TodoEvents.stream, group: AnalyticsHandlers.group, startPosition: .beginning,
                    blockTimeout: .milliseconds(100)),
                handlers: AnalyticsHandlers.make())
            let running = Task { try await consumer.run() }
            defer { running.cancel() }
            do {
                try await body(Fixture(server: server, client: client, store: store))
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

    @Test func aRebuildAfterTheStreamWasTrimmedReplaysTheHistoriesAndGivesTheSameStats() async throws {
        try await Self.withProjection { fixture in
            for index in 0..<40 { try await fixture.writeTodo(index) }
            #expect(try await eventually { try await fixture.caughtUp() })
            let before = try await fixture.analytics.statistics()
            let user = try await fixture.analytics.statistics(userID: "user-1")
            let histories = try await fixture.countsInHistories(40)

            // Keep only the last 10 entries of the type stream.
            _ = try await fixture.client.send("XTRIM", TodoEvents.stream, "MAXLEN", "10")
            #expect(try await fixture.client.xlen(TodoEvents.stream) == 10)

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

    @Test func whileRebuildingTheStatsSayRebuilding() async throws {
        try await withLocalRedisServer { server in
            let client = try RedisClient(url: server.url)
            defer { client.close() }
            // No consumer runs: the rebuild cannot catch up and stays `rebuilding`.
            let store = EventStore(aggregateType: "todo", client: client, publisher: EventPublisher(client: client))
            try await store.append([TodoCreated(todoID: "t1", userID: "bob", title: "a")], to: "t1", expectedVersion: 0)
            try await ProjectionRebuilder(projection: AnalyticsHandlers.projection, client: client).rebuild()
            #expect(try await AnalyticsStore(client: client).statistics().rebuilding)
            let position = try await ProjectionRebuilder.refresh(name: "analytics-service", stream: "todo-events", client: client)
            #expect(position.status == "rebuilding" && position.phase == "catching_up" && !position.caughtUp)
            #expect(try await ProjectionRebuilder.namesWithState(client: client) == ["analytics-service"])
        }
    }
}
