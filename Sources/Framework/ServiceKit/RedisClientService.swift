import RedisClient
import ServiceLifecycle

/// Keeps a shared `RedisClient` open while the application runs. Listed first among an
/// application's services, it is stopped last: the client closes (its queued commands
/// answered) only after the HTTP server and the consumers have stopped.
struct RedisClientService: Service {
    let client: RedisClient

    func run() async throws {
        try? await gracefulShutdown()
        await client.shutdown()
    }
}
