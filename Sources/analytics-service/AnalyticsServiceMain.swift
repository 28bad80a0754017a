import AnalyticsService
import ServiceKit
import ServiceTelemetry

/// analytics-service: counts every todo event exactly once (port 8083).
@main
struct AnalyticsServiceMain {
    static func main() async throws {
        let configuration = ServiceMain.configuration { try AnalyticsServiceConfiguration(environment: $0) }
        let telemetry = ServiceMain.start { try ServiceTelemetry.bootstrap(service: "analytics-service", settings: configuration.service) }
        let logger = telemetry.logger
        let app = try buildApplication(configuration: configuration, redis: configuration.service.redis, logger: logger)
        try await ServiceRunner.run(app, settings: configuration.service, logger: logger, telemetry: telemetry.services)
    }
}
