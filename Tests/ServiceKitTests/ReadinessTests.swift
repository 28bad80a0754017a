import EventBus
import Foundation
import Hummingbird
import HummingbirdTesting
import LocalRedisServer
import Logging
import RedisClient
import ServiceKit
import ServiceLifecycle
import TestSupport
import Testing

/// `/ready` checks every consumer group the service consumes, known from its consumers (no
/// second list to forget one in).
@Suite("Readiness from the consumers")
struct ReadinessTests {
    /// A long-running service that is no consumer.
    struct Idle: Service {
        func run() async throws { try await gracefulShutdown() }
    }

    @Test func readyOnlyOnceEveryConsumersGroupExists() async throws {
        try await withLocalRedisServer { server in
            let redis = try RedisConfiguration(url: server.url)
            let client = RedisClient(configuration: redis)
            defer { client.close() }
            let settings = try ServiceSettings(environment: EnvironmentReader([:]), defaultPort: 8081)
            let parts = ServiceApplicationParts(name: "ready-test", settings: settings, redis: redis, logger: Logger(label: "ready"))
            let consumers: [any Service] = try [("first-events", "ready-test"), ("second-events", "ready-test")].map {
                try EventConsumer(redis: redis, configuration: .init(stream: $0.0, group: $0.1), handlers: EventHandlers())
            } + [Idle()]
            #expect(ServiceApplicationParts.consumedGroups(of: consumers).map { "\($0.stream)/\($0.group)" }
                == ["first-events/ready-test", "second-events/ready-test"])
            // The second stream's key is a string: its consumer cannot make its group, so the
            // service is not ready, and /ready names that group; once the key is gone the
            // consumer makes it and the service becomes ready.
            _ = try await client.send("SET", "second-events", "not a stream")
            let app = parts.makeApplication(consumers: consumers)
            try await app.test(.router) { http in
                @Sendable func ready() async throws -> (HTTPResponse.Status, String) {
                    let response = try await http.execute(uri: "/ready", method: .get)
                    return (response.status, String(buffer: response.body))
                }
                let named = try await eventually { try await ready().1.contains("second-events") }
                let notReady = try await ready()
                #expect(named && notReady.0 == .serviceUnavailable, "\(notReady)")
                _ = try await client.send("DEL", "second-events")
                let isReady = try await eventually(timeout: .seconds(60)) { try await ready().0 == .ok }
                let last = try await ready()
                #expect(isReady, "\(last)")
            }
        }
    }
}
