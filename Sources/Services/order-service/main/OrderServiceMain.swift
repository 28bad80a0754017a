import OrderService
import ServiceTelemetry

/// order-service: takes orders over HTTP and answers the order saga's commands (port 8084).
@main
struct OrderServiceMain {
    static func main() async throws {
        try await ServiceExecutable.run(
            "order-service", configuration: OrderServiceConfiguration.init(environment:), settings: \.service,
            application: buildApplication(configuration:redis:logger:))
    }
}
