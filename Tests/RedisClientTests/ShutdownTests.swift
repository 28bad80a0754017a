import LocalRedisServer
import Testing

@testable import RedisClient

@Suite("Closing a client")
struct ShutdownTests {
    @Test func shutdownAnswersWhatIsQueuedThenRefusesNewCommands() async throws {
        try await withLocalRedisServer { server in
            let client = try RedisClient(url: server.url)
            try await client.send("SET", "k", "0")
            // Queued before the shutdown: answered before it returns.
            let queued = (0..<50).map { _ in Task { try await client.send("INCR", "k") } }
            await client.shutdown()
            var answered = 0
            for task in queued where (try? await task.value) != nil { answered += 1 }
            let other = try RedisClient(url: server.url)
            defer { other.close() }
            #expect(try await other.send("GET", "k").string == "\(answered)")
            await #expect(throws: RedisError.self) { try await client.send("PING") }
            do {
                try await client.send("PING")
            } catch let error as RedisError {
                #expect(error.code == .clientClosed)
            }
            // A second shutdown, and one of a client that never connected, return at once.
            await client.shutdown()
            await RedisClient(configuration: try RedisConfiguration(url: server.url)).shutdown()
        }
    }

    @Test func shutdownClosesTheConnection() async throws {
        try await withLocalRedisServer { server in
            var configuration = try RedisConfiguration(url: server.url)
            configuration.clientName = "closing-client"
            let client = RedisClient(configuration: configuration)
            try await client.send("PING")
            await client.shutdown()
            let admin = try RedisClient(url: server.url)
            defer { admin.close() }
            // The server may see the close a moment after the client has returned.
            var listed = true
            for _ in 0..<500 where listed {
                listed = (try await admin.send("CLIENT", "LIST").string ?? "").contains("name=closing-client")
                if listed { try await Task.sleep(for: .milliseconds(10)) }
            }
            #expect(!listed)
        }
    }
}
