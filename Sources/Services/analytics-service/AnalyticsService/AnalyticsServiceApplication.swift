import EventBus
import Hummingbird
import Logging
import RedisClient
import ServiceKit
import TodoEvents

/// analytics-service's configuration: the common service settings (`HTTP_PORT` default
/// 8083) and its consumer's.
public struct AnalyticsServiceConfiguration: Sendable {
    public static let defaultPort = 8083
    public var service: ServiceSettings
    public var consumer: EventConsumer.Configuration

    public init(environment: EnvironmentReader = EnvironmentReader()) throws {
        service = try ServiceSettings(environment: environment, defaultPort: Self.defaultPort)
        // Ordered: a todo's events are counted in order by whichever replica owns its partition.
        consumer = service.consumer(stream: TodoEvents.stream, group: AnalyticsHandlers.group, ordered: true)
    }
}

/// The analytics-service application: the `analytics-service` group on `todo-events`
/// (exactly-once counters) and the stats HTTP API, with `/health`, `/ready` and `/metrics`.
/// Its `main` and its tests both run this.
public func buildApplication(
    configuration: AnalyticsServiceConfiguration, redis: RedisConfiguration, logger: Logger
) throws -> some ApplicationProtocol {
    let parts = ServiceApplicationParts(
        name: "analytics-service", settings: configuration.service, redis: redis, logger: logger)
    let consumer = try EventConsumer(
        redis: redis, configuration: configuration.consumer, handlers: AnalyticsHandlers.make(), logger: logger)
    AnalyticsRoutes(store: AnalyticsStore(client: parts.client, partitions: configuration.service.partitions)).add(to: parts.router)
    return parts.makeApplication(consumers: [consumer])
}
