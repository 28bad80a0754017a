import InventoryService
import ServiceKit
import ServiceTelemetry

/// inventory-service: the order saga's stock reservations (port 8085).
@main
struct InventoryServiceMain {
    static func main() async throws {
        let configuration = ServiceMain.configuration { try InventoryServiceConfiguration(environment: $0) }
        let telemetry = ServiceMain.start { try ServiceTelemetry.bootstrap(service: "inventory-service", settings: configuration.service) }
        let logger = telemetry.logger
        let app = try buildApplication(configuration: configuration, redis: configuration.service.redis, logger: logger)
        try await ServiceRunner.run(app, settings: configuration.service, logger: logger, telemetry: telemetry.services)
    }
}
