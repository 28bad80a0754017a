import NotificationService
import ServiceKit
import ServiceTelemetry

/// notification-service: notifies users of created and completed todos (port 8082).
/// `NOTIFICATION_WEBHOOK_URL` sends by webhook (for `NOTIFICATION_WEBHOOK_USERS`, or all).
@main
struct NotificationServiceMain {
    static func main() async throws {
        let configuration = ServiceMain.configuration { try NotificationServiceConfiguration(environment: $0) }
        let telemetry = ServiceMain.start { try ServiceTelemetry.bootstrap(service: "notification-service", settings: configuration.service) }
        let logger = telemetry.logger
        let app = try buildApplication(configuration: configuration, redis: configuration.service.redis, logger: logger)
        try await ServiceRunner.run(app, settings: configuration.service, logger: logger, telemetry: telemetry.services)
    }
}
