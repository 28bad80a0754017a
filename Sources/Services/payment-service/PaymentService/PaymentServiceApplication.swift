import EventBus
import Hummingbird
import Logging
import OrderEvents
import PaymentCards
import RedisClient
import SagaRuntime
import ServiceKit

/// payment-service's configuration: the common service settings (`HTTP_PORT` default
/// 8086), its consumer (group `payment-service` on `payment-commands`) and the decision
/// rules (`PaymentPolicy`: `PAYMENT_DECLINE_ABOVE_CENTS`, `PAYMENT_FAILURE_PERCENT`), and
/// the installation's payment card key (`PAYMENT_CARD_PRIVATE_KEY`, required: the only key
/// that opens the card tokens order-service makes).
public struct PaymentServiceConfiguration: Sendable {
    public static let defaultPort = 8086
    public static let cardKeyVariable = "PAYMENT_CARD_PRIVATE_KEY"
    public var service: ServiceSettings
    public var commands: EventConsumer.Configuration
    public var policy: PaymentPolicy
    public var cardKey: PaymentCardOpeningKey

    public init(environment: EnvironmentReader = EnvironmentReader()) throws {
        service = try ServiceSettings(environment: environment, defaultPort: Self.defaultPort)
        // Ordered: an order's charge and refund are applied in the order the saga sent them.
        commands = service.consumer(stream: OrderStreams.paymentCommands, group: PaymentHandlers.group, ordered: true)
        policy = try PaymentPolicy(environment: environment)
        guard let key = environment.string(Self.cardKeyVariable) else {
            throw ConfigurationError(
                "\(Self.cardKeyVariable) is not set: payment-service needs the installation's payment card key "
                    + "(scripts/stack.sh makes one into .stack/secrets.env; `streams-stack secrets --env-file .env` for docker compose)")
        }
        do {
            cardKey = try PaymentCardOpeningKey(base64URL: key)
        } catch {
            throw ConfigurationError("\(Self.cardKeyVariable) is unusable: \(error)")
        }
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
        name: "payment-service", settings: configuration.service, redis: redis, logger: logger)
    let store = PaymentStore(client: parts.client)
    let replies = SagaReplyPublisher(
        client: parts.client, stream: OrderStreams.paymentEvents, logger: logger, publishing: configuration.service.publisher())
    let commands = try EventConsumer(
        redis: redis, configuration: configuration.commands,
        handlers: PaymentHandlers.make(
            store: store, policy: configuration.policy, cardKey: configuration.cardKey, replies: replies),
        logger: logger)
    PaymentRoutes(store: store).add(to: parts.router)
    return parts.makeApplication(consumers: [commands])
}
