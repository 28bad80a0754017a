import ServiceKit
import ServiceTelemetry
import TodoService

/// todo-service: the todo HTTP API (port 8081). Configuration: see the README's table.
@main
struct TodoServiceMain {
    static func main() async throws {
        let configuration = ServiceMain.configuration { try TodoServiceConfiguration(environment: $0) }
        let telemetry = ServiceMain.start { try ServiceTelemetry.bootstrap(service: "todo-service", settings: configuration.service) }
        let logger = telemetry.logger
        let app = buildApplication(configuration: configuration, redis: configuration.service.redis, logger: logger)
        try await ServiceRunner.run(app, settings: configuration.service, logger: logger, telemetry: telemetry.services)
    }
}
