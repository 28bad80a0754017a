import SagaCoordinatorService
import ServiceKit
import ServiceTelemetry

/// saga-coordinator: runs the order saga across order, inventory and payment services (port 8087).
@main
struct SagaCoordinatorMain {
    static func main() async throws {
        let configuration = ServiceMain.configuration { try SagaCoordinatorConfiguration(environment: $0) }
        let telemetry = ServiceMain.start { try ServiceTelemetry.bootstrap(service: "saga-coordinator", settings: configuration.service) }
        let logger = telemetry.logger
        let app = try buildApplication(configuration: configuration, redis: configuration.service.redis, logger: logger)
        try await ServiceRunner.run(app, settings: configuration.service, logger: logger, telemetry: telemetry.services)
    }
}
