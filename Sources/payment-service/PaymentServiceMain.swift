import PaymentService
import ServiceKit

/// payment-service: the order saga's payment simulator (port 8086).
@main
struct PaymentServiceMain {
    static func main() async throws {
        let configuration = ServiceMain.configuration { try PaymentServiceConfiguration(environment: $0) }
        let logger = ServiceMain.bootstrapLogging(service: "payment-service", level: configuration.service.logLevel)
        let app = try buildApplication(configuration: configuration, redis: configuration.service.redis, logger: logger)
        try await ServiceRunner.run(app, settings: configuration.service, logger: logger)
    }
}
