import AnalyticsService
import EventBus
import Foundation
import Hummingbird
import HummingbirdTesting
import LocalRedisServer
import Logging
import RedisClient
import ServiceKit
import TestSupport
import Testing
import TodoEvents

/// analytics-service as its `main` runs it (`buildApplication`), against a private redis-server.
@Suite("analytics-service")
struct AnalyticsServiceTests {
    static func json(_ response: TestResponse) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any] ?? [:]
    }

    @Test func everyEventIsCountedOnceAndBothCompletedVersionsAreAccepted() async throws {
        try await withLocalRedisServer { server in
            let redis = try RedisConfiguration(url: server.url)
            let client = RedisClient(configuration: redis)
            defer { client.close() }
            let configuration = try AnalyticsServiceConfiguration(environment: EnvironmentReader([:]))
            let app = try buildApplication(configuration: configuration, redis: redis, logger: Logger(label: "analytics-test"))
            try await app.test(.router) { http in
                let publisher = EventPublisher(client: client)
                let start = Date(timeIntervalSince1970: 1_795_000_000)
                try await publisher.publish(TodoCreated(todoID: "t1", userID: "bob", title: "a", priority: .urgent, createdAt: start))
                let id = try await publisher.publish(
                    TodoCompleted(todoID: "t1", userID: "bob", title: "a", priority: .urgent, createdAt: start, completedAt: start + 90))
                try await publisher.publish(TodoCreated(todoID: "t2", userID: "bob", title: "b", priority: .low, createdAt: start))
                // A v1 todo.completed, as an older todo-service wrote it.
                var v1 = RedisCommand.xadd(TodoEvents.stream, approximateMaxLength: nil)
                for field in [
                    "event_id", "v1-event", "event_type", "todo.completed", "event_version", "1", "aggregate_type", "todo",
                    "aggregate_id", "t2", "timestamp", "2026-11-25T00:00:00.000000Z", "correlation_id", "c", "causation_id", "c",
                    "data", #"{"todo_id":"t2","user_id":"bob","title":"b"}"#,
                ] { v1.append(field) }
                _ = try await client.send(v1)
                try await publisher.publish(TodoDeleted(todoID: "t2", userID: "bob", title: "b", priority: .low, wasCompleted: true))
                // A duplicate delivery of the v2 completion: not counted twice.
                let entry = try #require(try await client.xrange(TodoEvents.stream, from: id.description, to: id.description).first)
                try await client.xadd(TodoEvents.stream, fields: entry.fields.map { ($0.name, $0.value) })

                // Everything read and acknowledged: the counts are final.
                #expect(
                    try await eventually {
                        let group = try await StreamInspector(client: client).groups(stream: TodoEvents.stream)
                            .first { $0.name == AnalyticsHandlers.group }
                        return group?.pending == 0 && group?.lag == 0
                    })
                let stats = Self.json(try await http.execute(uri: "/stats", method: .get))
                let totals = stats["totals"] as? [String: Any] ?? [:]
                #expect(totals["created"] as? Int == 2)
                #expect(totals["completed"] as? Int == 2)
                #expect(totals["deleted"] as? Int == 1)
                #expect(totals["mean_completion_seconds"] as? Double == 90)  // the v1 completion has no duration
                let bob = Self.json(try await http.execute(uri: "/stats/users/bob", method: .get))
                #expect((bob["counters"] as? [String: Any])?["created"] as? Int == 2)
                #expect(try await http.execute(uri: "/stats/users/nobody", method: .get).status == .notFound)
                #expect(try await client.xlen(DeadLetter.streamKey(stream: TodoEvents.stream, group: AnalyticsHandlers.group)) == 0)
            }
        }
    }
}
