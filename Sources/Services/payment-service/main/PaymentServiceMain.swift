import PaymentService
import ServiceTelemetry

/// payment-service: the order saga's payment simulator (port 8086).
@main
struct PaymentServiceMain {
    static func main() async throws {
        try await ServiceExecutable.run(
            "payment-service", configuration: PaymentServiceConfiguration.init(environment:), settings: \.service,
            application: buildApplication(configuration:redis:logger:))
    }
}
