import PaymentService
import ServiceKit
import ServiceTelemetry

/// payment-service: the order saga's payment simulator (port 8086).
@main
struct PaymentServiceMain {
    static func main() async throws {
        let configuration = ServiceMain.configuration { try PaymentServiceConfiguration(environment: $0) }
        let telemetry = ServiceMain.start { try ServiceTelemetry.bootstrap(service: "payment-service", settings: configuration.service) }
        let logger = telemetry.logger
        let app = try buildApplication(configuration: configuration, redis: configuration.service.redis, logger: logger)
        try await ServiceRunner.run(app, settings: configuration.service, logger: logger, telemetry: telemetry.services)
    }
}
