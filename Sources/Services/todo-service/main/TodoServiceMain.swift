import TodoService
import ServiceTelemetry

/// todo-service: the todo HTTP API (port 8081). Configuration: see the README's table.
@main
struct TodoServiceMain {
    static func main() async throws {
        try await ServiceExecutable.run(
            "todo-service", configuration: TodoServiceConfiguration.init(environment:), settings: \.service,
            application: buildApplication(configuration:redis:logger:))
    }
}
