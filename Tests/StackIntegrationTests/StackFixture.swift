import Foundation
import TestSupport

/// The ports of one local stack, all free ones: Redis, todo-service, notification-service,
/// analytics-service.
struct StackPorts {
    let redis: Int, todo: Int, notification: Int, analytics: Int

    init() {
        let free = TestPorts.free(4)
        (redis, todo, notification, analytics) = (free[0], free[1], free[2], free[3])
    }

    var all: [Int] { [redis, todo, notification, analytics] }

    /// This process's environment for a stack with its state in `directory` on these ports,
    /// its own Redis (no `REDIS_URL`) and quick retries.
    func environment(directory: String) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["STACK_DIR"] = directory
        environment["STACK_REDIS_PORT"] = "\(redis)"
        environment["TODO_SERVICE_PORT"] = "\(todo)"
        environment["NOTIFICATION_SERVICE_PORT"] = "\(notification)"
        environment["ANALYTICS_SERVICE_PORT"] = "\(analytics)"
        environment["REDIS_URL"] = nil
        environment["RETRY_INITIAL_BACKOFF_MS"] = "300"
        return environment
    }
}
