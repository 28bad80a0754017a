import SagaCoordinatorService
import ServiceTelemetry

/// saga-coordinator: runs the order saga across order, inventory and payment services (port 8087).
@main
struct SagaCoordinatorMain {
    static func main() async throws {
        try await ServiceExecutable.run(
            "saga-coordinator", configuration: SagaCoordinatorConfiguration.init(environment:), settings: \.service,
            application: buildApplication(configuration:redis:logger:))
    }
}
