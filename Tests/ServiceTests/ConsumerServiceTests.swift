import AnalyticsService
import EventBus
import Foundation
import LocalRedisServer
import NotificationService
import RedisClient
import TestSupport
import Testing
import TodoEvents

/// notification-service's and analytics-service's handlers against a real redis-server.
@Suite("notification-service and analytics-service handlers")
struct ConsumerServiceTests {
    struct Fixture {
        let server: LocalRedisServer
        let redis: RedisConfiguration
        let client: RedisClient
        let publisher: EventPublisher
    }

    func withFixture(_ body: (Fixture) async throws -> Void) async throws {
        try await withLocalRedisServer { server in
            let redis = try RedisConfiguration(url: server.url)
            let client = RedisClient(configuration: redis)
            defer { client.close() }
            try await body(Fixture(server: server, redis: redis, client: client, publisher: EventPublisher(client: client)))
        }
    }

    func consumer(_ fixture: Fixture, group: String, handlers: EventHandlers, acknowledgeOthers: Bool = false) throws -> Task<Void, Error> {
        var configuration = EventConsumer.Configuration(
            stream: TodoEvents.stream, group: group, consumerName: "test", startPosition: .beginning,
            blockTimeout: .milliseconds(100))
        configuration.reclaimInterval = .milliseconds(30)
        configuration.retry = RetryPolicy(initialBackoff: .milliseconds(100), maximumBackoff: .milliseconds(400), maxDeliveries: 3)
        if acknowledgeOthers { configuration.unhandledTypes = .acknowledge }
        let consumer = try EventConsumer(redis: fixture.redis, configuration: configuration, handlers: handlers)
        return Task { try await consumer.run() }
    }

    @Test func notificationsAreSentOncePerEventAndRecorded() async throws {
        try await withFixture { fixture in
            let log = NotificationLog(client: fixture.client, logger: .init(label: "test"))
            let handlers = NotificationHandlers.make(sender: StreamNotificationSender(log: log), client: fixture.client)
            let task = try consumer(fixture, group: NotificationHandlers.group, handlers: handlers, acknowledgeOthers: true)
            let created = TodoCreated(todoID: "t1", userID: "alice", title: "Buy milk", priority: .high)
            let id = try await fixture.publisher.publish(created)
            try await fixture.publisher.publish(TodoPriorityChanged(todoID: "t1", userID: "alice", title: "Buy milk", oldPriority: .high, newPriority: .low))
            try await fixture.publisher.publish(TodoCompleted(todoID: "t1", userID: "alice", title: "Buy milk", priority: .low, createdAt: Date()))
            // The same event delivered again (same event_id): no second notification.
            let entry = try #require(try await fixture.client.xrange(TodoEvents.stream, from: id.description, to: id.description).first)
            try await fixture.client.xadd(TodoEvents.stream, fields: entry.fields.map { ($0.name, $0.value) })
            #expect(try await eventually { try await log.recent(userID: "alice").count == 2 })
            try await Task.sleep(for: .milliseconds(300))
            let sent = try await log.recent(userID: "alice")
            #expect(sent.map(\.kind) == [.todoCompleted, .todoCreated])
            #expect(sent.last?.message == "New todo 'Buy milk' (high priority) was added to your list.")
            #expect(try await fixture.client.xlen(NotificationLog.stream) == 2)
            task.cancel()
            _ = await task.result
        }
    }

    @Test func aFailingWebhookIsRetriedThenDeadLettered() async throws {
        try await withFixture { fixture in
            let log = NotificationLog(client: fixture.client, logger: .init(label: "test"))
            let webhook = WebhookNotificationSender(url: URL(string: "http://127.0.0.1:9/down")!, timeout: .seconds(1), log: log)
            let sender = RoutingNotificationSender(webhook: webhook, users: ["dave"], others: StreamNotificationSender(log: log))
            let handlers = NotificationHandlers.make(sender: sender, client: fixture.client)
            let task = try consumer(fixture, group: NotificationHandlers.group, handlers: handlers, acknowledgeOthers: true)
            try await fixture.publisher.publish(TodoCreated(todoID: "d1", userID: "dave", title: "Call the bank"))
            try await fixture.publisher.publish(TodoCreated(todoID: "a1", userID: "alice", title: "Buy milk"))
            let dlq = DeadLetter.streamKey(stream: TodoEvents.stream, group: NotificationHandlers.group)
            #expect(try await eventually { try await fixture.client.xlen(dlq) == 1 })
            let letter = try #require(try await fixture.client.xrange(dlq).first)
            #expect(letter.string(named: "dlq_reason") == "max_deliveries")
            #expect(letter.string(named: "dlq_deliveries") == "3")
            #expect(letter.string(named: "dlq_error")?.contains("webhook") == true)
            #expect(letter.string(named: "aggregate_id") == "d1")
            #expect(try await log.recent(userID: "alice").count == 1)
            #expect(try await log.recent(userID: "dave").isEmpty)
            task.cancel()
            _ = await task.result
        }
    }

    @Test func analyticsCountsEveryEventOnceAndAcceptsBothCompletedVersions() async throws {
        try await withFixture { fixture in
            let task = try consumer(fixture, group: AnalyticsHandlers.group, handlers: AnalyticsHandlers.make())
            let start = Date(timeIntervalSince1970: 1_795_000_000)
            try await fixture.publisher.publish(TodoCreated(todoID: "t1", userID: "bob", title: "a", priority: .urgent, createdAt: start))
            let id = try await fixture.publisher.publish(
                TodoCompleted(todoID: "t1", userID: "bob", title: "a", priority: .urgent, createdAt: start, completedAt: start + 90))
            try await fixture.publisher.publish(TodoCreated(todoID: "t2", userID: "bob", title: "b", priority: .low, createdAt: start))
            // A v1 todo.completed, as an older todo-service wrote it.
            var v1 = RedisCommand.xadd(TodoEvents.stream, approximateMaxLength: nil)
            for field in [
                "event_id", "v1-event", "event_type", "todo.completed", "event_version", "1", "aggregate_type", "todo",
                "aggregate_id", "t2", "timestamp", "2026-11-25T00:00:00.000000Z", "correlation_id", "c", "causation_id", "c",
                "data", #"{"todo_id":"t2","user_id":"bob","title":"b"}"#,
            ] { v1.append(field) }
            _ = try await fixture.client.send(v1)
            try await fixture.publisher.publish(TodoDeleted(todoID: "t2", userID: "bob", title: "b", priority: .low, wasCompleted: true))
            // A duplicate delivery of the v2 completion: not counted twice.
            let entry = try #require(try await fixture.client.xrange(TodoEvents.stream, from: id.description, to: id.description).first)
            try await fixture.client.xadd(TodoEvents.stream, fields: entry.fields.map { ($0.name, $0.value) })

            let store = AnalyticsStore(client: fixture.client)
            #expect(try await eventually { try await store.statistics().totals.deleted == 1 })
            try await Task.sleep(for: .milliseconds(300))
            let statistics = try await store.statistics()
            #expect(statistics.totals.created == 2)
            #expect(statistics.totals.completed == 2)
            #expect(statistics.totals.meanCompletionSeconds == 90)  // the v1 completion has no duration
            #expect(statistics.byPriority["created:urgent"] == 1)
            #expect(statistics.byPriority["completed:urgent"] == 1)
            #expect(statistics.users == 1)
            let bob = try #require(try await store.statistics(userID: "bob"))
            #expect(bob.counters.created == 2 && bob.counters.deleted == 1)
            #expect(try await store.statistics(userID: "nobody") == nil)
            #expect(try await fixture.client.xlen(DeadLetter.streamKey(stream: TodoEvents.stream, group: AnalyticsHandlers.group)) == 0)
            task.cancel()
            _ = await task.result
        }
    }
}
