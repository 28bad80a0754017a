import EventBus
import Foundation
import Hummingbird
import Logging
import RedisClient
import ServiceKit
import TodoEvents

/// notification-service's configuration: the common service settings (`HTTP_PORT` default
/// 8082), its consumer's, and the webhook: `NOTIFICATION_WEBHOOK_URL` (none: notifications
/// are only recorded), `NOTIFICATION_WEBHOOK_USERS` (comma-separated; empty: everyone),
/// `WEBHOOK_TIMEOUT_MS` (the whole request's deadline, default 5000; with a webhook,
/// `HANDLER_TIMEOUT_MS` must be longer, or every slow POST would be cancelled). The webhook
/// guard's lease follows from it (`NotificationHandlers.webhookLease(timeout:)`).
public struct NotificationServiceConfiguration: Sendable {
    public static let defaultPort = 8082
    public var service: ServiceSettings
    public var consumer: EventConsumer.Configuration
    public var webhookURL: URL?
    public var webhookUsers: Set<String>
    public var webhookTimeout: Duration

    public init(environment: EnvironmentReader = EnvironmentReader()) throws {
        service = try ServiceSettings(environment: environment, defaultPort: Self.defaultPort)
        consumer = service.consumer(stream: TodoEvents.stream, group: NotificationHandlers.group)
        consumer.unhandledTypes = .acknowledge  // only created and completed are wanted here
        webhookURL = try environment.url("NOTIFICATION_WEBHOOK_URL")
        webhookTimeout = try environment.milliseconds("WEBHOOK_TIMEOUT_MS", default: .seconds(5), in: 1...600_000)
        webhookUsers = Set(
            environment.string("NOTIFICATION_WEBHOOK_USERS", default: "").split(separator: ",").map {
                $0.trimmingCharacters(in: .whitespaces)
            }.filter { !$0.isEmpty })
        if webhookURL != nil, let handlerTimeout = consumer.handlerTimeout, handlerTimeout <= webhookTimeout {
            throw ConfigurationError(
                "HANDLER_TIMEOUT_MS (\(handlerTimeout)) must be longer than WEBHOOK_TIMEOUT_MS (\(webhookTimeout)): "
                    + "the handler would be cancelled before the webhook's deadline")
        }
    }
}

/// The notification-service application: the `notification-service` group on
/// `todo-events` (each created or completed todo notifies its user once, by webhook or into
/// the `notifications` stream) and `GET /notifications`, with `/health`, `/ready` and
/// `/metrics`. Its `main` and its tests both run this.
public func buildApplication(
    configuration: NotificationServiceConfiguration, redis: RedisConfiguration, logger: Logger
) throws -> some ApplicationProtocol {
    let parts = ServiceApplicationParts(
        name: "notification-service", settings: configuration.service, redis: redis, logger: logger)
    let log = NotificationLog(client: parts.client, partitions: configuration.service.partitions)
    var sender: any NotificationSender = StreamNotificationSender()
    if let url = configuration.webhookURL {
        sender = RoutingNotificationSender(
            webhook: WebhookNotificationSender(url: url, timeout: configuration.webhookTimeout),
            users: configuration.webhookUsers, others: sender)
    }
    let consumer = try EventConsumer(
        redis: redis, configuration: configuration.consumer,
        handlers: NotificationHandlers.make(
            sender: sender, client: parts.client, markerWindow: configuration.service.processedMarkerTTL,
            webhookLease: NotificationHandlers.webhookLease(timeout: configuration.webhookTimeout)),
        logger: logger)
    NotificationRoutes(log: log).add(to: parts.router)
    return parts.makeApplication(consumers: [consumer])
}
