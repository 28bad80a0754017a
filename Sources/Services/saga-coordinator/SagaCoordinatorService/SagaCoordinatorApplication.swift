import EventBus
import Hummingbird
import Logging
import OrderEvents
import RedisClient
import SagaRuntime
import ServiceKit
import ServiceLifecycle

/// saga-coordinator's configuration: the common service settings (`HTTP_PORT` default
/// 8087) and the order saga's timing: `SAGA_STEP_TIMEOUT_MS` (default 5000),
/// `SAGA_COMPENSATION_TIMEOUT_MS` (default 5000), `SAGA_MAX_COMPENSATION_ATTEMPTS`
/// (default 5), `SAGA_DEADLINE_POLL_MS` (default 100), and how long an ended saga stays
/// readable, `SAGA_RETENTION_HOURS` (default 168, 7 days; 0 keeps ended sagas forever).
public struct SagaCoordinatorConfiguration: Sendable {
    public static let defaultPort = 8087
    /// The consumer group on the three event streams.
    public static let group = "saga-coordinator"
    public var service: ServiceSettings
    public var timing: OrderSaga.Timing
    public var deadlinePollInterval: Duration
    /// How long an ended saga's state stays in Redis; nil: forever.
    public var endedSagaRetention: Duration?

    public init(environment: EnvironmentReader = EnvironmentReader()) throws {
        service = try ServiceSettings(environment: environment, defaultPort: Self.defaultPort)
        timing = OrderSaga.Timing(
            stepTimeout: try environment.milliseconds("SAGA_STEP_TIMEOUT_MS", default: .seconds(5)),
            compensationTimeout: try environment.milliseconds("SAGA_COMPENSATION_TIMEOUT_MS", default: .seconds(5)),
            maxCompensationAttempts: try environment.integer("SAGA_MAX_COMPENSATION_ATTEMPTS", default: 5, in: 1...1000))
        deadlinePollInterval = try environment.milliseconds("SAGA_DEADLINE_POLL_MS", default: .milliseconds(100), in: 1...60_000)
        let retentionHours = try environment.integer("SAGA_RETENTION_HOURS", default: 168, in: 0...876_000)
        endedSagaRetention = retentionHours == 0 ? nil : .seconds(retentionHours * 3600)
    }

    /// The consumers' configurations: group `saga-coordinator` on each stream the saga's
    /// replies (and its starting event) come on, acknowledging the types it does not read.
    public var consumers: [EventConsumer.Configuration] {
        OrderSaga.replies.map { replies in
            var consumer = service.consumer(stream: replies.stream, group: Self.group)
            consumer.unhandledTypes = .acknowledge
            return consumer
        }
    }
}

/// The saga-coordinator application: runs the order saga (started by `order.created`,
/// advanced by the participants' replies and by the deadlines), with `GET /sagas/{id}`,
/// `GET /sagas?status=&limit=`, `/health`, `/ready` and `/metrics`. Any number of
/// instances may run at once. Its `main` and its tests both run this.
public func buildApplication(
    configuration: SagaCoordinatorConfiguration, redis: RedisConfiguration, logger: Logger
) throws -> some ApplicationProtocol {
    let consumers = configuration.consumers
    let parts = ServiceApplicationParts(
        name: "saga-coordinator", settings: configuration.service, redis: redis, logger: logger)
    let coordinator = SagaCoordinator(
        definition: OrderSaga.definition(configuration.timing), client: parts.client, publisher: EventPublisher(client: parts.client, configuration: configuration.service.publisher()),
        makeCommand: OrderSaga.makeCommand, logger: logger, endedRetention: configuration.endedSagaRetention)
    var services: [any Service] = try zip(consumers, OrderSaga.replies).map { consumer, replies in
        var handlers = EventHandlers()
        coordinator.repliesOn(replies.types, in: &handlers)
        if replies.stream == OrderStreams.orderEvents {
            coordinator.startOn(OrderCreated.self, in: &handlers) { $0.orderID }
        }
        return try EventConsumer(redis: redis, configuration: consumer, handlers: handlers, logger: logger)
    }
    services.append(SagaDeadlineScheduler(coordinator: coordinator, pollInterval: configuration.deadlinePollInterval, logger: logger))
    services.append(SagaStatusSampler(store: coordinator.store, interval: configuration.service.metricsSampleInterval, logger: logger))
    SagaRoutes(store: coordinator.store).add(to: parts.router)
    return parts.makeApplication(consumers: services)
}
