import EventBus
import Hummingbird
import Logging
import OrderEvents
import RedisClient
import SagaRuntime
import ServiceKit

/// payment-service's configuration: the common service settings (`HTTP_PORT` default
/// 8086), its consumer (group `payment-service` on `payment-commands`) and the decision
/// rules (`PaymentPolicy`: `PAYMENT_DECLINE_ABOVE_CENTS`, `PAYMENT_FAILURE_PERCENT`).
public struct PaymentServiceConfiguration: Sendable {
    public static let defaultPort = 8086
    public var service: ServiceSettings
    public var commands: EventConsumer.Configuration
    public var policy: PaymentPolicy

    public init(environment: EnvironmentReader = EnvironmentReader()) throws {
        service = try ServiceSettings(environment: environment, defaultPort: Self.defaultPort)
        commands = service.consumer(stream: OrderStreams.paymentCommands, group: PaymentHandlers.group)
        policy = try PaymentPolicy(environment: environment)
    }
}

/// The payment-service application: the saga's payment commands answered on
/// `payment-events` (each order charged at most once, refunded at most once) and
/// `GET /payments/{order_id}`, with `/health`, `/ready` and `/metrics`. Its `main` and its
/// tests both run this.
public func buildApplication(
    configuration: PaymentServiceConfiguration, redis: RedisConfiguration, logger: Logger
) throws -> some ApplicationProtocol {
    let parts = ServiceApplicationParts(
        name: "payment-service", settings: configuration.service, redis: redis, logger: logger,
        groups: [(configuration.commands.stream, configuration.commands.group)])
    let store = PaymentStore(client: parts.client)
    let replies = SagaReplyPublisher(
        client: parts.client, stream: OrderStreams.paymentEvents, logger: logger, publishing: configuration.service.publisher())
    let commands = try EventConsumer(
        redis: redis, configuration: configuration.commands,
        handlers: PaymentHandlers.make(store: store, policy: configuration.policy, replies: replies), logger: logger)
    PaymentRoutes(store: store).add(to: parts.router)
    return parts.makeApplication(consumers: [commands])
}
