import Hummingbird
import Logging
import Prometheus
import RedisClient
import ServiceLifecycle

/// What every service's `main` sets up, in one place: settings from the environment (exit 2
/// on a bad value), logging and metrics, a Redis client, and a router with correlation ids,
/// HTTP metrics and `/health`, `/ready`, `/metrics`.
public struct ServiceApp {
    public let settings: ServiceSettings
    public let registry: PrometheusCollectorRegistry
    public let logger: Logger
    public let client: RedisClient
    public let router: Router<ServiceRequestContext>
    /// The `(stream, group)` pairs the service consumes: `/ready` checks them, and their lag
    /// and pending counts are sampled into metrics.
    public let groups: [(stream: String, group: String)]

    public init(
        name: String, defaultPort: Int, groups: [(stream: String, group: String)] = [],
        environment: EnvironmentReader = EnvironmentReader()
    ) {
        settings = ServiceMain.settings(defaultPort: defaultPort, environment: environment)
        registry = ServiceBootstrap.bootstrap(logLevel: settings.logLevel)
        logger = Logger(label: name)
        client = RedisClient(configuration: settings.redis, logger: logger)
        router = Router(context: ServiceRequestContext.self)
        router.add(middleware: CorrelationMiddleware())
        router.add(middleware: MetricsMiddleware())
        self.groups = groups
        OperationalRoutes(registry: registry, client: client, groups: groups).add(to: router)
    }

    /// Serves HTTP and runs `services` (consumers) until SIGTERM/SIGINT; closes the client.
    public func run(services: [any Service] = []) async throws {
        var all = services
        if !groups.isEmpty { all.append(GroupMetricsSampler(client: client, groups: groups, logger: logger)) }
        do {
            try await ServiceRunner.run(router: router, settings: settings, services: all, logger: logger)
        } catch {
            await client.shutdown()
            throw error
        }
        await client.shutdown()
    }
}
