import NotificationService
import ServiceTelemetry

/// notification-service: notifies users of created and completed todos (port 8082).
/// `NOTIFICATION_WEBHOOK_URL` sends by webhook (for `NOTIFICATION_WEBHOOK_USERS`, or all).
@main
struct NotificationServiceMain {
    static func main() async throws {
        try await ServiceExecutable.run(
            "notification-service", configuration: NotificationServiceConfiguration.init(environment:), settings: \.service,
            application: buildApplication(configuration:redis:logger:))
    }
}
