import AnalyticsService
import EventBus
import ServiceKit
import TodoEvents

/// analytics-service: counts every todo event exactly once (port 8083).
@main
struct AnalyticsServiceMain {
    static func main() async throws {
        let app = ServiceApp(
            name: "analytics-service", defaultPort: 8083, groups: [(TodoEvents.stream, AnalyticsHandlers.group)])
        let consumer = try EventConsumer(
            redis: app.settings.redis,
            configuration: app.settings.consumer(stream: TodoEvents.stream, group: AnalyticsHandlers.group),
            handlers: AnalyticsHandlers.make(), logger: app.logger)
        AnalyticsRoutes(store: AnalyticsStore(client: app.client)).add(to: app.router)
        try await app.run(services: [consumer])
    }
}
