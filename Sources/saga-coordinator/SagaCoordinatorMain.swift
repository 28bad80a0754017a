import SagaCoordinatorService
import ServiceKit

/// saga-coordinator: runs the order saga across order, inventory and payment services (port 8087).
@main
struct SagaCoordinatorMain {
    static func main() async throws {
        let configuration = ServiceMain.configuration { try SagaCoordinatorConfiguration(environment: $0) }
        let logger = ServiceMain.bootstrapLogging(service: "saga-coordinator", level: configuration.service.logLevel)
        let app = try buildApplication(configuration: configuration, redis: configuration.service.redis, logger: logger)
        try await ServiceRunner.run(app, settings: configuration.service, logger: logger)
    }
}
