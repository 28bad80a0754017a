import EventBus
import Foundation
import Hummingbird
import Logging
import RedisClient
import ServiceKit
import TodoEvents
import NotificationService

/// notification-service: notifies users of created and completed todos (port 8082).
/// `NOTIFICATION_WEBHOOK_URL` switches from the stream sender to the webhook sender.
@main
struct NotificationServiceMain {
    static func main() async throws {
        let environment = EnvironmentReader()
        let settings = ServiceMain.settings(defaultPort: 8082, environment: environment)
        let webhook: URL?
        let webhookTimeout: Duration
        let webhookUsers = Set(environment.string("NOTIFICATION_WEBHOOK_USERS", default: "").split(separator: ",").map {
            $0.trimmingCharacters(in: .whitespaces)
        })
        do {
            webhook = try environment.url("NOTIFICATION_WEBHOOK_URL")
            webhookTimeout = try environment.milliseconds("WEBHOOK_TIMEOUT_MS", default: .seconds(5), in: 1...600_000)
        } catch {
            ServiceMain.exitWithConfigurationError(error)
        }
        let registry = ServiceBootstrap.bootstrap(logLevel: settings.logLevel)
        let logger = Logger(label: "notification-service")
        let client = RedisClient(configuration: settings.redis, logger: logger)
        defer { client.close() }
        let log = NotificationLog(client: client, logger: logger)
        var sender: any NotificationSender = StreamNotificationSender(log: log)
        if let webhook {
            sender = RoutingNotificationSender(
                webhook: WebhookNotificationSender(url: webhook, timeout: webhookTimeout, log: log), users: webhookUsers,
                others: sender)
        }
        var configuration = settings.consumer(stream: TodoEvents.stream, group: NotificationHandlers.group)
        configuration.unhandledTypes = .acknowledge  // only created and completed are wanted here
        let consumer = try EventConsumer(
            redis: settings.redis, configuration: configuration,
            handlers: NotificationHandlers.make(sender: sender, client: client), logger: logger)
        let groups = [(stream: TodoEvents.stream, group: NotificationHandlers.group)]
        let router = Router(context: ServiceRequestContext.self)
        router.add(middleware: CorrelationMiddleware())
        router.add(middleware: MetricsMiddleware())
        OperationalRoutes(registry: registry, client: client, groups: groups).add(to: router)
        NotificationRoutes(log: log).add(to: router)
        try await ServiceRunner.run(
            router: router, settings: settings,
            services: [consumer, GroupMetricsSampler(client: client, groups: groups, logger: logger)], logger: logger)
    }
}
