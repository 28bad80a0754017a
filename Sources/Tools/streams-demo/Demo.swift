import EventBus
import Foundation
import LocalRedisServer
import Logging
import RedisClient
import ServiceLifecycle
import TodoEvents

/// Publishes a few typed todo events to `todo-events`, consumes them in the groups
/// `notification-service` and `analytics-service`, prints what each handled, and shows how
/// to inspect the stream with redis-cli. Uses `REDIS_URL` when set; otherwise starts a
/// private redis-server for the duration of the demo.
@main
struct Demo {
    static func main() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = Logger.Level(rawValue: ProcessInfo.processInfo.environment["LOG_LEVEL"] ?? "") ?? .warning
            return handler
        }
        let logger = Logger(label: "streams-demo")
        var privateServer: LocalRedisServer?
        let url: String
        if let given = ProcessInfo.processInfo.environment["REDIS_URL"], !given.isEmpty {
            url = given
            print("Redis: \(try RedisConfiguration(url: given).redactedURL) (from REDIS_URL)")
        } else {
            let server = try await LocalRedisServer.start()
            privateServer = server
            url = server.url
            print("Redis: started a private redis-server at \(url) (set REDIS_URL to use your own)")
        }
        // A private server stops when it is released, at the end of this function (its deinit).
        _ = privateServer

        let redis = try RedisConfiguration(url: url)
        let client = RedisClient(configuration: redis, logger: logger)
        defer { client.close() }
        let stream = "todo-events"
        let board = DemoBoard()

        let notification = try EventConsumer(
            redis: redis,
            configuration: .init(
                stream: stream, group: "notification-service", consumerName: "demo-notifier-1",
                unhandledTypes: .acknowledge),  // it only wants created and completed
            handlers: NotificationHandlers.make(board: board), logger: logger)
        let analytics = try EventConsumer(
            redis: redis,
            configuration: .init(stream: stream, group: "analytics-service", consumerName: "demo-analytics-1"),
            handlers: AnalyticsHandlers.make(board: board), logger: logger)
        let group = ServiceGroup(services: [notification, analytics], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        let running = Task { try await group.run() }

        // The groups start at new events: wait until both exist before publishing.
        for _ in 0..<200 {
            let groups = (try? await client.send("XINFO", "GROUPS", stream))?.array ?? []
            let names = groups.compactMap { $0.array?.dropFirst().first?.string }
            if names.contains("notification-service") && names.contains("analytics-service") { break }
            try await Task.sleep(for: .milliseconds(25))
        }

        let publisher = EventPublisher(client: client, logger: logger)
        let flow = EventContext(correlationID: "demo-\(EventID.generate().prefix(8))", metadata: ["source": "streams-demo"])
        let milk = EventID.generate()
        let report = EventID.generate()
        let script: [any DomainEvent] = [
            TodoCreated(todoID: milk, userID: "alice", title: "Buy milk", priority: .medium),
            TodoCreated(todoID: report, userID: "bob", title: "Write the report", priority: .low),
            TodoPriorityChanged(todoID: report, userID: "bob", title: "Write the report", oldPriority: .low, newPriority: .urgent),
            TodoCompleted(todoID: milk, userID: "alice", title: "Buy milk", priority: .medium, createdAt: Date()),
            TodoDeleted(todoID: report, userID: "bob", title: "Write the report", priority: .urgent, wasCompleted: false),
        ]
        print("\nPublishing \(script.count) events to \(stream) (correlation id \(flow.correlationID!)):")
        for event in script {
            let id = try await publisher.publish(event, context: flow)
            print("  \(id)  \(type(of: event).eventType)  todo \(event.aggregateID.prefix(8))")
        }

        // Notification handles created + completed (3), analytics handles all (5).
        let deadline = ContinuousClock.now + .seconds(10)
        while await board.count < 8, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        await group.triggerGracefulShutdown()
        try await running.value

        print("\nWhat each consumer group handled:")
        for line in await board.lines { print("  \(line)") }
        print("\nAnalytics totals: \(await board.totals.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))")

        let pending = try await Inspection.show(
            client: client, stream: stream, configuration: redis, keepsRunning: privateServer == nil)
        let handled = await board.count
        guard handled == 8, pending == 0 else {
            print("\nERROR: expected 8 handled events and none pending, saw \(handled) handled and \(pending) pending")
            throw DemoError(description: "not every event was handled")
        }
        print("\nDemo complete: \(script.count) events published, \(handled) deliveries handled across 2 consumer groups, \(pending) pending.")
    }
}

struct DemoError: Error, CustomStringConvertible {
    let description: String
}
