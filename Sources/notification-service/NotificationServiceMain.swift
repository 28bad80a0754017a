import EventBus
import Foundation
import NotificationService
import ServiceKit
import TodoEvents

/// notification-service: notifies users of created and completed todos (port 8082).
/// `NOTIFICATION_WEBHOOK_URL` sends by webhook (for `NOTIFICATION_WEBHOOK_USERS`, or all).
@main
struct NotificationServiceMain {
    static func main() async throws {
        let environment = EnvironmentReader()
        let webhook: URL?
        let webhookTimeout: Duration
        do {
            webhook = try environment.url("NOTIFICATION_WEBHOOK_URL")
            webhookTimeout = try environment.milliseconds("WEBHOOK_TIMEOUT_MS", default: .seconds(5), in: 1...600_000)
        } catch {
            ServiceMain.exitWithConfigurationError(error)
        }
        let webhookUsers = Set(
            environment.string("NOTIFICATION_WEBHOOK_USERS", default: "").split(separator: ",").map {
                $0.trimmingCharacters(in: .whitespaces)
            })
        let app = ServiceApp(
            name: "notification-service", defaultPort: 8082, groups: [(TodoEvents.stream, NotificationHandlers.group)],
            environment: environment)
        let log = NotificationLog(client: app.client, logger: app.logger)
        var sender: any NotificationSender = StreamNotificationSender(log: log)
        if let webhook {
            sender = RoutingNotificationSender(
                webhook: WebhookNotificationSender(url: webhook, timeout: webhookTimeout, log: log), users: webhookUsers,
                others: sender)
        }
        var configuration = app.settings.consumer(stream: TodoEvents.stream, group: NotificationHandlers.group)
        configuration.unhandledTypes = .acknowledge  // only created and completed are wanted here
        let consumer = try EventConsumer(
            redis: app.settings.redis, configuration: configuration,
            handlers: NotificationHandlers.make(sender: sender, client: app.client), logger: app.logger)
        NotificationRoutes(log: log).add(to: app.router)
        try await app.run(services: [consumer])
    }
}
