import EventBus
import Hummingbird
import Logging
import OrderEvents
import RedisClient
import SagaRuntime
import ServiceKit

/// order-service's configuration: the common service settings (`HTTP_PORT` default 8084)
/// and its consumer's (group `order-service` on `order-commands`; other event types there
/// are dead-lettered).
public struct OrderServiceConfiguration: Sendable {
    public static let defaultPort = 8084
    public var service: ServiceSettings
    public var consumer: EventConsumer.Configuration

    public init(environment: EnvironmentReader = EnvironmentReader()) throws {
        service = try ServiceSettings(environment: environment, defaultPort: Self.defaultPort)
        consumer = service.consumer(stream: OrderStreams.orderCommands, group: OrderCommandHandlers.group)
    }
}

/// The order-service application: the order HTTP API (`OrderRoutes`), the `order-service`
/// group on `order-commands` answering the saga's commands (`OrderCommandHandlers`), with
/// `/health`, `/ready` and `/metrics`. Its `main` and its tests both run this.
public func buildApplication(
    configuration: OrderServiceConfiguration, redis: RedisConfiguration, logger: Logger
) throws -> some ApplicationProtocol {
    let parts = ServiceApplicationParts(
        name: "order-service", settings: configuration.service, redis: redis, logger: logger,
        groups: [(configuration.consumer.stream, configuration.consumer.group)])
    let store = OrderStore(client: parts.client, publishing: configuration.service.publisher())
    let consumer = try EventConsumer(
        redis: redis, configuration: configuration.consumer, handlers: OrderCommandHandlers.make(store: store, logger: logger),
        logger: logger)
    OrderRoutes(store: store, sagas: SagaStore(type: OrderRoutes.sagaType, client: parts.client)).add(to: parts.router)
    return parts.makeApplication(consumers: [consumer])
}
