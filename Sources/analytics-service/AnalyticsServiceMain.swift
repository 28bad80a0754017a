import EventBus
import Hummingbird
import Logging
import RedisClient
import ServiceKit
import TodoEvents
import AnalyticsService

/// analytics-service: counts every todo event exactly once (port 8083).
@main
struct AnalyticsServiceMain {
    static func main() async throws {
        let settings = ServiceMain.settings(defaultPort: 8083)
        let registry = ServiceBootstrap.bootstrap(logLevel: settings.logLevel)
        let logger = Logger(label: "analytics-service")
        let client = RedisClient(configuration: settings.redis, logger: logger)
        defer { client.close() }
        let consumer = try EventConsumer(
            redis: settings.redis, configuration: settings.consumer(stream: TodoEvents.stream, group: AnalyticsHandlers.group),
            handlers: AnalyticsHandlers.make(), logger: logger)
        let groups = [(stream: TodoEvents.stream, group: AnalyticsHandlers.group)]
        let router = Router(context: ServiceRequestContext.self)
        router.add(middleware: CorrelationMiddleware())
        router.add(middleware: MetricsMiddleware())
        OperationalRoutes(registry: registry, client: client, groups: groups).add(to: router)
        AnalyticsRoutes(store: AnalyticsStore(client: client)).add(to: router)
        try await ServiceRunner.run(
            router: router, settings: settings,
            services: [consumer, GroupMetricsSampler(client: client, groups: groups, logger: logger)], logger: logger)
    }
}
