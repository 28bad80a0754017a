import InventoryService
import ServiceKit

/// inventory-service: the order saga's stock reservations (port 8085).
@main
struct InventoryServiceMain {
    static func main() async throws {
        let configuration = ServiceMain.configuration { try InventoryServiceConfiguration(environment: $0) }
        let logger = ServiceMain.bootstrapLogging(service: "inventory-service", level: configuration.service.logLevel)
        let app = try buildApplication(configuration: configuration, redis: configuration.service.redis, logger: logger)
        try await ServiceRunner.run(app, settings: configuration.service, logger: logger)
    }
}
