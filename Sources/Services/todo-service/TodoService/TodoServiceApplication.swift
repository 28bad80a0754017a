import Hummingbird
import Logging
import RedisClient
import ServiceKit

/// todo-service's configuration: the common service settings (`HTTP_PORT` default 8081),
/// and `TODO_SNAPSHOT_EVERY` (default 10; 0: never): a todo's snapshot is saved every that
/// many events.
public struct TodoServiceConfiguration: Sendable {
    public static let defaultPort = 8081
    public var service: ServiceSettings
    public var snapshotEvery: Int

    public init(environment: EnvironmentReader = EnvironmentReader()) throws {
        service = try ServiceSettings(environment: environment, defaultPort: Self.defaultPort)
        snapshotEvery = try environment.integer("TODO_SNAPSHOT_EVERY", default: 10, in: 0...1_000_000)
    }
}

/// The todo-service application: the todo HTTP API (`TodoRoutes`) with `/health`, `/ready`
/// and `/metrics`, on `redis`. Its `main` and its tests both run this.
public func buildApplication(
    configuration: TodoServiceConfiguration, redis: RedisConfiguration, logger: Logger
) -> some ApplicationProtocol {
    let parts = ServiceApplicationParts(name: "todo-service", settings: configuration.service, redis: redis, logger: logger)
    TodoRoutes(store: TodoStore(client: parts.client, snapshotEvery: configuration.snapshotEvery, publishing: configuration.service.publisher())).add(to: parts.router)
    return parts.makeApplication()
}
