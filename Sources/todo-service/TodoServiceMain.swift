import EventBus
import Hummingbird
import Logging
import RedisClient
import ServiceKit
import TodoEvents
import TodoService

/// todo-service: the todo HTTP API (port 8081). Configuration: see the README's table.
@main
struct TodoServiceMain {
    static func main() async throws {
        let settings = ServiceMain.settings(defaultPort: 8081)
        let registry = ServiceBootstrap.bootstrap(logLevel: settings.logLevel)
        let logger = Logger(label: "todo-service")
        let client = RedisClient(configuration: settings.redis, logger: logger)
        defer { client.close() }
        let router = Router(context: ServiceRequestContext.self)
        router.add(middleware: CorrelationMiddleware())
        router.add(middleware: MetricsMiddleware())
        OperationalRoutes(registry: registry, client: client, groups: []).add(to: router)
        TodoRoutes(store: TodoStore(client: client)).add(to: router)
        try await ServiceRunner.run(router: router, settings: settings, services: [], logger: logger)
    }
}
