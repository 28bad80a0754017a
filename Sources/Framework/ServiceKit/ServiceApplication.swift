import EventBus
import Hummingbird
import Logging
import RedisClient
import ServiceLifecycle
import Tracing

/// The parts every service's application is made of, so that each service's
/// `buildApplication` only adds its routes and consumers:
///
/// - a shared `RedisClient` for the HTTP routes (consumers make their own connections),
///   closed only after everything else has stopped;
/// - a router with a server span per request when a tracer is bootstrapped (swift-otel:
///   see ServiceTelemetry), correlation ids, request limits (`HTTP_MAX_BODY_BYTES`,
///   `HTTP_REQUEST_TIMEOUT_MS`), HTTP metrics and `/health`, `/ready` (Redis and the
///   consumed groups), `/metrics`;
/// - a sampler of the consumed groups' lag, pending entries and dead letters.
///
/// `makeApplication` returns a Hummingbird `Application` whose services are stopped in
/// reverse order on graceful shutdown: the server stops accepting first, then the
/// consumers finish and acknowledge their in-flight events, then the client closes.
public struct ServiceApplicationParts {
    public let name: String
    public let settings: ServiceSettings
    public let logger: Logger
    public let client: RedisClient
    public let router: Router<ServiceRequestContext>

    public init(name: String, settings: ServiceSettings, redis: RedisConfiguration, logger: Logger) {
        // swift-metrics is bootstrapped with the Prometheus registry here, before the service
        // makes its consumers: a metric made before the bootstrap records nowhere, forever.
        _ = ServiceMetrics.registry
        self.name = name
        self.settings = settings
        self.logger = logger
        client = RedisClient(configuration: redis, logger: logger)
        router = Router(context: ServiceRequestContext.self)
        if !(InstrumentationSystem.tracer is NoOpTracer) { router.add(middleware: TracingMiddleware()) }
        router.add(middleware: CorrelationMiddleware())
        router.add(middleware: RequestLimitsMiddleware(maximumBodyBytes: settings.maximumBodyBytes, timeout: settings.requestTimeout))
        router.add(middleware: MetricsMiddleware())
    }

    /// The groups of the `EventConsumer`s among `services` and the stream keys they read:
    /// what `/ready` checks and the sampler measures. Known from the consumers themselves, so
    /// a consumer added to a service is never left out of its readiness.
    public static func consumedGroups(of services: [any Service]) -> [ConsumedGroup] {
        services.compactMap { service in
            (service as? EventConsumer).map {
                ConsumedGroup(
                    stream: $0.configuration.stream, group: $0.configuration.group,
                    partitionStreams: $0.configuration.partitionStreams)
            }
        }
    }

    /// The application: the router on `HTTP_HOST:HTTP_PORT` with `/health`, `/ready` and
    /// `/metrics`, and `consumers` (and any other long-running services of the service) with
    /// the group sampler and the client's lifetime as its services.
    public func makeApplication(consumers: [any Service] = []) -> Application<RouterResponder<ServiceRequestContext>> {
        let groups = Self.consumedGroups(of: consumers)
        OperationalRoutes(registry: ServiceMetrics.registry, client: client, groups: groups).add(to: router)
        var services: [any Service] = [RedisClientService(client: client)]
        services += consumers
        if !groups.isEmpty { services.append(GroupMetricsSampler(client: client, groups: groups, interval: settings.metricsSampleInterval, logger: logger)) }
        return Application(
            router: router,
            configuration: .init(address: .hostname(settings.httpHost, port: settings.httpPort), serverName: name),
            services: services,
            logger: logger)
    }
}
