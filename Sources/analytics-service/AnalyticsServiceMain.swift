import AnalyticsService
import ServiceKit

/// analytics-service: counts every todo event exactly once (port 8083).
@main
struct AnalyticsServiceMain {
    static func main() async throws {
        let configuration = ServiceMain.configuration { try AnalyticsServiceConfiguration(environment: $0) }
        let logger = ServiceMain.bootstrapLogging(service: "analytics-service", level: configuration.service.logLevel)
        let app = try buildApplication(configuration: configuration, redis: configuration.service.redis, logger: logger)
        try await ServiceRunner.run(app, settings: configuration.service, logger: logger)
    }
}
