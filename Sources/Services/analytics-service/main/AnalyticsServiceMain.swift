import AnalyticsService
import ServiceTelemetry

/// analytics-service: counts every todo event exactly once (port 8083).
@main
struct AnalyticsServiceMain {
    static func main() async throws {
        try await ServiceExecutable.run(
            "analytics-service", configuration: AnalyticsServiceConfiguration.init(environment:), settings: \.service,
            application: buildApplication(configuration:redis:logger:))
    }
}
