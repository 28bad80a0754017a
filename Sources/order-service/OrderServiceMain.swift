import OrderService
import ServiceKit
import ServiceTelemetry

/// order-service: takes orders over HTTP and answers the order saga's commands (port 8084).
@main
struct OrderServiceMain {
    static func main() async throws {
        let configuration = ServiceMain.configuration { try OrderServiceConfiguration(environment: $0) }
        let telemetry = ServiceMain.start { try ServiceTelemetry.bootstrap(service: "order-service", settings: configuration.service) }
        let logger = telemetry.logger
        let app = try buildApplication(configuration: configuration, redis: configuration.service.redis, logger: logger)
        try await ServiceRunner.run(app, settings: configuration.service, logger: logger, telemetry: telemetry.services)
    }
}
