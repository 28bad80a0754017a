import EventBus
import Foundation
import Hummingbird
import Logging
import OrderEvents
import PaymentCards
import RedisClient
import SagaRuntime
import ServiceKit

/// order-service's configuration: the common service settings (`HTTP_PORT` default 8084)
/// and its consumer's (group `order-service` on `order-commands`; other event types there
/// are dead-lettered), and the public half of the installation's payment card key
/// (`PAYMENT_CARD_PUBLIC_KEY`, required): cards are sealed with it for payment-service, and
/// order-service itself cannot open them. `SAGA_COORDINATOR_URL` (default
/// `http://127.0.0.1:8087`) is where `GET /orders/{id}` asks for the order's saga.
public struct OrderServiceConfiguration: Sendable {
    public static let defaultPort = 8084
    public static let cardKeyVariable = "PAYMENT_CARD_PUBLIC_KEY"
    public var service: ServiceSettings
    public var consumer: EventConsumer.Configuration
    public var cardKey: PaymentCardSealingKey
    public var sagaCoordinatorURL: URL
    /// `SAGA_COORDINATOR_TIMEOUT_MS` (default 2000): how long `GET /orders/{id}` waits for the
    /// coordinator's view of the saga before answering `saga_unavailable`.
    public var sagaCoordinatorTimeout: Duration

    public init(environment: EnvironmentReader = EnvironmentReader()) throws {
        service = try ServiceSettings(environment: environment, defaultPort: Self.defaultPort)
        consumer = service.consumer(stream: OrderStreams.orderCommands, group: OrderCommandHandlers.group)
        guard let key = environment.string(Self.cardKeyVariable) else {
            throw ConfigurationError(
                "\(Self.cardKeyVariable) is not set: order-service seals cards with the installation's payment card key "
                    + "(scripts/stack.sh makes one into .stack/secrets.env; `streams-stack secrets --env-file .env` for docker compose)")
        }
        do {
            cardKey = try PaymentCardSealingKey(base64URL: key)
        } catch {
            throw ConfigurationError("\(Self.cardKeyVariable) is unusable: \(error)")
        }
        sagaCoordinatorURL = try environment.url("SAGA_COORDINATOR_URL") ?? URL(string: "http://127.0.0.1:8087")!
        sagaCoordinatorTimeout = try environment.milliseconds("SAGA_COORDINATOR_TIMEOUT_MS", default: .seconds(2), in: 10...600_000)
    }
}

/// The order-service application: the order HTTP API (`OrderRoutes`), the `order-service`
/// group on `order-commands` answering the saga's commands (`OrderCommandHandlers`), with
/// `/health`, `/ready` and `/metrics`. Its `main` and its tests both run this.
public func buildApplication(
    configuration: OrderServiceConfiguration, redis: RedisConfiguration, logger: Logger
) throws -> some ApplicationProtocol {
    let parts = ServiceApplicationParts(
        name: "order-service", settings: configuration.service, redis: redis, logger: logger)
    let store = OrderStore(client: parts.client, cardKey: configuration.cardKey, publishing: configuration.service.publisher())
    let consumer = try EventConsumer(
        redis: redis, configuration: configuration.consumer, handlers: OrderCommandHandlers.make(store: store, logger: logger),
        logger: logger)
    OrderRoutes(store: store, sagas: SagaViewClient(baseURL: configuration.sagaCoordinatorURL, timeout: configuration.sagaCoordinatorTimeout)).add(to: parts.router)
    return parts.makeApplication(consumers: [consumer])
}
