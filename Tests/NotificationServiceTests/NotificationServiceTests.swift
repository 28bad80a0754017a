import EventBus
import Foundation
import Hummingbird
import HummingbirdTesting
import LocalRedisServer
import Logging
import NotificationService
import RedisClient
import ServiceKit
import TestSupport
import Testing
import TodoEvents

/// notification-service as its `main` runs it (`buildApplication`: consumer, routes,
/// middleware), against a private redis-server, with real webhooks where they matter.
@Suite("notification-service")
struct NotificationServiceTests {
    /// Quick retries, so that dead letters come within a test's patience.
    static let quickRetries = [
        "RETRY_INITIAL_BACKOFF_MS": "100", "RETRY_MAX_BACKOFF_MS": "400", "MAX_DELIVERIES": "3",
    ]

    func withService(
        _ environment: [String: String] = [:],
        _ body: @escaping @Sendable (any TestClientProtocol, RedisClient, EventPublisher) async throws -> Void
    ) async throws {
        try await withLocalRedisServer { server in
            let redis = try RedisConfiguration(url: server.url)
            let client = RedisClient(configuration: redis)
            defer { client.close() }
            let configuration = try NotificationServiceConfiguration(
                environment: EnvironmentReader(Self.quickRetries.merging(environment) { $1 }))
            let app = try buildApplication(configuration: configuration, redis: redis, logger: Logger(label: "notification-test"))
            try await app.test(.router) { http in try await body(http, client, EventPublisher(client: client)) }
        }
    }

    static func notifications(_ http: any TestClientProtocol, user: String) async throws -> [[String: Any]] {
        let response = try await http.execute(uri: "/notifications?user_id=\(user)", method: .get)
        return (try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [[String: Any]]) ?? []
    }

    /// Waits until the group has read and acknowledged everything in the stream.
    static func caughtUp(_ client: RedisClient) async throws -> Bool {
        try await eventually {
            let groups = try await StreamInspector(client: client).groups(stream: TodoEvents.stream)
            guard let group = groups.first(where: { $0.name == NotificationHandlers.group }) else { return false }
            return group.pending == 0 && group.lag == 0
        }
    }

    @Test func eachCreatedOrCompletedTodoNotifiesItsUserOnce() async throws {
        try await withService { http, client, publisher in
            let id = try await publisher.publish(TodoCreated(todoID: "t1", userID: "alice", title: "Buy milk", priority: .high))
            try await publisher.publish(
                TodoPriorityChanged(todoID: "t1", userID: "alice", title: "Buy milk", oldPriority: .high, newPriority: .low))
            try await publisher.publish(
                TodoCompleted(todoID: "t1", userID: "alice", title: "Buy milk", priority: .low, createdAt: Date()))
            // The same event delivered again (same event_id): no second notification.
            let entry = try #require(try await client.xrange(TodoEvents.stream, from: id.description, to: id.description).first)
            try await client.xadd(TodoEvents.stream, fields: entry.fields.map { ($0.name, $0.value) })
            #expect(try await Self.caughtUp(client))
            let sent = try await Self.notifications(http, user: "alice")
            #expect(sent.map { $0["kind"] as? String } == ["todo_completed", "todo_created"])
            #expect(sent.last?["message"] as? String == "New todo 'Buy milk' (high priority) was added to your list.")
            #expect(try await client.xlen(NotificationLog.stream) == 2)
            #expect(try await http.execute(uri: "/ready", method: .get).status == .ok)
            #expect(try await http.execute(uri: "/notifications", method: .get).status == .badRequest)
        }
    }

    @Test func aWebhookThatIsDownIsRetriedThenDeadLettered() async throws {
        let closed = TestPorts.free()[0]
        try await withService([
            "NOTIFICATION_WEBHOOK_URL": "http://127.0.0.1:\(closed)/hook", "NOTIFICATION_WEBHOOK_USERS": "dave",
        ]) {
            http, client, publisher in
            try await publisher.publish(TodoCreated(todoID: "d1", userID: "dave", title: "Call the bank"))
            try await publisher.publish(TodoCreated(todoID: "a1", userID: "alice", title: "Buy milk"))
            let dlq = DeadLetter.streamKey(stream: TodoEvents.stream, group: NotificationHandlers.group)
            #expect(try await eventually { try await client.xlen(dlq) == 1 })
            let letter = try #require(try await client.xrange(dlq).first)
            #expect(letter.string(named: "dlq_reason") == "max_deliveries")
            #expect(letter.string(named: "dlq_deliveries") == "3")
            #expect(letter.string(named: "dlq_error")?.contains("webhook") == true)
            #expect(letter.string(named: "aggregate_id") == "d1")
            #expect(try await Self.caughtUp(client))
            #expect(try await Self.notifications(http, user: "alice").count == 1)
            #expect(try await Self.notifications(http, user: "dave").isEmpty)
        }
    }

    @Test func aSubSecondWebhookTimeoutIsAWholeRequestDeadline() async throws {
        try await withWebhook { url, received in
            // 900 ms is enough for a prompt webhook (a sub-second value was cut to 1 ms once)...
            try await withService(["NOTIFICATION_WEBHOOK_URL": url + "/prompt", "WEBHOOK_TIMEOUT_MS": "900"]) { http, client, publisher in
                try await publisher.publish(TodoCreated(todoID: "p1", userID: "pat", title: "Prompt"))
                #expect(try await Self.caughtUp(client))
                let sent = try await Self.notifications(http, user: "pat")
                #expect(sent.map { $0["channel"] as? String } == ["webhook"])
                // (A loaded machine may overrun the deadline once; the retry is notified once all the same.)
                #expect(await received.count >= 1)
            }
            // ... and a webhook answering after 5 s fails every delivery, then dead-letters.
            try await withService(["NOTIFICATION_WEBHOOK_URL": url + "/slow", "WEBHOOK_TIMEOUT_MS": "300"]) { http, client, publisher in
                try await publisher.publish(TodoCreated(todoID: "s1", userID: "sam", title: "Slow"))
                let dlq = DeadLetter.streamKey(stream: TodoEvents.stream, group: NotificationHandlers.group)
                #expect(try await eventually(timeout: .seconds(30)) { try await client.xlen(dlq) == 1 })
                #expect(try await Self.notifications(http, user: "sam").isEmpty)
            }
        }
    }

    /// Runs a webhook server on a free port: `/prompt` answers 204 at once, `/slow` after 5 s.
    func withWebhook(_ body: (String, Recorder) async throws -> Void) async throws {
        let received = Recorder()
        let router = Router()
        router.post("/prompt") { _, _ in
            await received.add()
            return HTTPResponse.Status.noContent
        }
        router.post("/slow") { _, _ in
            try await Task.sleep(for: .seconds(5))
            return HTTPResponse.Status.noContent
        }
        // Port 0: the kernel picks a free port as it binds (a port chosen beforehand and freed
        // could meanwhile be taken by any outgoing connection); the server reports it once running.
        let (ports, reportPort) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                reportPort.yield(channel.localAddress?.port ?? 0)
                reportPort.finish()
            })
        let server = Task { try await app.runService(gracefulShutdownSignals: []) }
        defer { server.cancel() }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())
        #expect(TestPorts.isListening(port))
        try await body("http://127.0.0.1:\(port)", received)
    }

    actor Recorder {
        private(set) var count = 0
        func add() { count += 1 }
    }
}
