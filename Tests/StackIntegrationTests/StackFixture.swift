import Foundation
import TestSupport

/// The ports of one local stack, all free ones: Redis, todo-service, notification-service,
/// analytics-service, order-service, inventory-service, payment-service, saga-coordinator.
struct StackPorts {
    let redis: Int, todo: Int, notification: Int, analytics: Int
    let order: Int, inventory: Int, payment: Int, saga: Int

    init() {
        let free = TestPorts.free(8)
        (redis, todo, notification, analytics) = (free[0], free[1], free[2], free[3])
        (order, inventory, payment, saga) = (free[4], free[5], free[6], free[7])
    }

    var all: [Int] { [redis, todo, notification, analytics, order, inventory, payment, saga] }

    /// This process's environment for a stack with its state in `directory` on these ports,
    /// its own Redis (no `REDIS_URL`) and quick retries.
    func environment(directory: String) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["STACK_DIR"] = directory
        environment["STACK_REDIS_PORT"] = "\(redis)"
        environment["TODO_SERVICE_PORT"] = "\(todo)"
        environment["NOTIFICATION_SERVICE_PORT"] = "\(notification)"
        environment["ANALYTICS_SERVICE_PORT"] = "\(analytics)"
        environment["ORDER_SERVICE_PORT"] = "\(order)"
        environment["INVENTORY_SERVICE_PORT"] = "\(inventory)"
        environment["PAYMENT_SERVICE_PORT"] = "\(payment)"
        environment["SAGA_COORDINATOR_PORT"] = "\(saga)"
        environment["REDIS_URL"] = nil
        environment["RETRY_INITIAL_BACKOFF_MS"] = "300"
        return environment
    }
}

extension StackPorts {
    /// Whether a failed start's output says a port was taken: ports are chosen free, but
    /// something else on the machine may bind one before the stack does.
    static func portWasTaken(_ output: String) -> Bool {
        output.contains("Address already in use") || output.contains("is already in use")
    }

    /// Runs `start` with fresh free ports until it does not fail for a taken port (three tries).
    static func withFreshPorts<Result>(_ start: (StackPorts) async throws -> (Result, failedForATakenPort: Bool)) async throws
        -> (StackPorts, Result)
    {
        var attempt = 1
        while true {
            let ports = StackPorts()
            let (result, taken) = try await start(ports)
            if !taken || attempt == 3 { return (ports, result) }
            attempt += 1
        }
    }
}
