import InventoryService
import ServiceTelemetry

/// inventory-service: the order saga's stock reservations (port 8085).
@main
struct InventoryServiceMain {
    static func main() async throws {
        try await ServiceExecutable.run(
            "inventory-service", configuration: InventoryServiceConfiguration.init(environment:), settings: \.service,
            application: buildApplication(configuration:redis:logger:))
    }
}
