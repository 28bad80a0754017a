import LocalRedisServer
import NIOPosix
import Synchronization
import TestSupport
import Testing

@testable import RedisClient

/// The SwiftNIO transport (`RedisConfiguration.transport = .nio`) keeps the thread
/// transport's contract: order, automatic pipelining, `.connectionLost` for what is in flight
/// (never re-sent), reconnects, timeouts, the handshake, and an executor where replies arrive.
@Suite("NIO transport against a real redis-server")
struct NIOTransportTests {
    private func nioClient(_ server: LocalRedisServer, _ adjust: (inout RedisConfiguration) -> Void = { _ in }) throws -> RedisClient {
        var configuration = try RedisConfiguration(url: server.url)
        configuration.transport = .nio
        adjust(&configuration)
        return RedisClient(configuration: configuration)
    }

    /// Waits until the server lists a client with `name` whose last command is `command`.
    private func waitForClient(_ admin: RedisClient, name: String, command: String) async throws -> Bool {
        try await eventually {
            let list = try await admin.send("CLIENT", "LIST").string ?? ""
            return list.split(separator: "\n").contains { $0.contains("name=\(name) ") && $0.contains("cmd=\(command)") }
        }
    }

    @Test func everyReplyTypeAndPipelineOrder() async throws {
        try await withLocalRedisServer { server in
            let client = try nioClient(server)
            defer { client.close() }
            #expect(try await client.send("SET", "k", "v") == .status("OK"))
            #expect(try await client.send("GET", "k") == .bulkString(Array("v".utf8)))
            #expect(try await client.send("GET", "missing") == .null)
            #expect(try await client.send("RPUSH", "l", "a", "b") == .integer(2))
            #expect(try await client.send("LRANGE", "l", "0", "-1") == .array([.bulkString([97]), .bulkString([98])]))
            let before = client.statistics.roundTrips
            let replies = try await client.pipeline((0..<1000).map { _ in RedisCommand("INCR", "counter") })
            #expect(replies == (1...1000).map { .integer($0) })
            #expect(client.statistics.roundTrips - before == 1)
            let mixed = try await client.pipeline([RedisCommand("NOSUCHCOMMAND"), RedisCommand("PING")])
            #expect(mixed[0].string == nil && mixed[1] == .status("PONG"))
        }
    }

    @Test func concurrentCallersKeepTheirOrderAndShareRoundTrips() async throws {
        try await withLocalRedisServer { server in
            let client = try nioClient(server)
            defer { client.close() }
            _ = try await client.ping()
            let before = client.statistics
            let callers = 50
            let commandsEach = 40
            // Each caller increments its own counter in sequence: every reply must be the next
            // value, whatever the other callers do meanwhile.
            let inOrder = try await withThrowingTaskGroup(of: Bool.self) { group in
                for caller in 0..<callers {
                    group.addTask {
                        var ok = true
                        for expected in 1...commandsEach {
                            let reply = try await client.send("INCR", "c:\(caller)")
                            if reply != .integer(expected) { ok = false }
                        }
                        return ok
                    }
                }
                return try await group.allSatisfy { $0 }
            }
            #expect(inOrder)
            let after = client.statistics
            #expect(after.commandsSent - before.commandsSent == callers * commandsEach)
            // Concurrent callers are written together: fewer writes than commands.
            #expect(after.roundTrips - before.roundTrips < callers * commandsEach, "\(after.roundTrips - before.roundTrips) round trips")
        }
    }

    @Test func aBrokenConnectionFailsWhatIsInFlightAndNothingIsResent() async throws {
        try await withLocalRedisServer { server in
            let client = try nioClient(server)
            let admin = try RedisClient(url: server.url)
            defer { client.close(); admin.close() }
            try await client.send("CLIENT", "SETNAME", "victim")
            try await client.send("SET", "a", "1")
            // BLPOP holds the connection; the INCR pipelined behind it is in flight too.
            let blocked = Task {
                try await client.pipeline([RedisCommand("BLPOP", "nothing", "5"), RedisCommand("INCR", "a")], timeout: .seconds(10))
            }
            #expect(try await waitForClient(admin, name: "victim", command: "blpop"))
            try await admin.send("CLIENT", "KILL", "SKIPME", "yes")
            do {
                _ = try await blocked.value
                Issue.record("the pipeline in flight at the drop did not fail")
            } catch let error as RedisError {
                #expect(error.code == .connectionLost)
                #expect(error.message.contains("may or may not have been applied"))
            }
            // Reconnected; the INCR was not re-sent.
            #expect(try await client.send("GET", "a") == .bulkString(Array("1".utf8)))
            #expect(client.statistics.reconnects == 1)
        }
    }

    @Test func reconnectsAfterAServerRestartWithBackoff() async throws {
        let server = try await LocalRedisServer.start()
        defer { server.stop() }
        let client = try nioClient(server) { $0.initialReconnectDelay = .milliseconds(100) }
        defer { client.close() }
        #expect(try await client.ping())
        server.kill()
        var errors: [RedisError] = []
        let start = ContinuousClock.now
        while errors.count < 4 {
            do { _ = try await client.ping() } catch let error as RedisError { errors.append(error) }
        }
        #expect(errors.last?.code == .connectionFailed)
        #expect(errors.last?.message.contains("cannot connect to Redis at unix:\(server.socketPath)") == true)
        // After the first failed attempt, the next ones wait 100, 200 ms...: no tight loop.
        #expect(ContinuousClock.now - start >= .milliseconds(250))
        #expect(client.statistics.failedConnectAttempts >= 3)
        try await server.restart()
        #expect(try await eventually { (try? await client.ping()) == true })
        #expect(client.statistics.reconnects >= 1)
    }

    @Test func aTimeoutFailsWhatIsInFlightAndDiscardsTheConnection() async throws {
        try await withLocalRedisServer { server in
            let client = try nioClient(server) { $0.commandTimeout = .milliseconds(200) }
            defer { client.close() }
            #expect(try await client.ping())
            let start = ContinuousClock.now
            do {
                try await client.send("BLPOP", "nothing", "5")
                Issue.record("no timeout")
            } catch let error as RedisError {
                #expect(error.code == .timeout)
                #expect(error.message.contains("within 200 ms"))
            }
            #expect(ContinuousClock.now - start < .seconds(4))
            // A new connection answers at once (the old one, still blocked, was dropped).
            #expect(try await client.ping())
            #expect(client.statistics.reconnects == 1)
        }
    }

    @Test func handshakeAuthenticatesSelectsAndNames() async throws {
        try await withLocalRedisServer(
            tcp: true, extraArguments: ["--user", "alice", "on", ">wonderland", "~*", "&*", "+@all"]
        ) { server in
            let port = server.port!
            var configuration = try RedisConfiguration(url: "redis://alice:wonderland@127.0.0.1:\(port)/3")
            configuration.transport = .nio
            configuration.clientName = "nio-client"
            let client = RedisClient(configuration: configuration)
            defer { client.close() }
            try await client.send("SET", "where", "db3")
            #expect(try await client.send("ACL", "WHOAMI") == .bulkString(Array("alice".utf8)))
            #expect(try await client.send("CLIENT", "GETNAME") == .bulkString(Array("nio-client".utf8)))
            #expect(try await client.send("GET", "where") == .bulkString(Array("db3".utf8)))

            var wrongConfiguration = try RedisConfiguration(url: "redis://alice:bad@127.0.0.1:\(port)")
            wrongConfiguration.transport = .nio
            let wrong = RedisClient(configuration: wrongConfiguration)
            defer { wrong.close() }
            do {
                _ = try await wrong.ping()
                Issue.record("wrong password accepted")
            } catch let error as RedisError {
                #expect(error.code == .wrongPass)
                #expect(error.message.contains("authentication failed"))
            }
        }
    }

    @Test func theExecutorIsTheChannelsEventLoop() async throws {
        try await withLocalRedisServer { server in
            let client = try nioClient(server)
            defer { client.close() }
            let onLoop = try await withTaskExecutorPreference(client.executor) {
                _ = try await client.ping()
                // Resumed where the reply was read: on an event loop of NIO's singleton group.
                return MultiThreadedEventLoopGroup.currentEventLoop != nil
            }
            #expect(onLoop)
            let entries = try await withTaskExecutorPreference(client.executor) {
                _ = try await client.xadd("s", fields: [("a", "1")])
                return try await client.xrange("s")
            }
            #expect(entries.count == 1)
        }
    }

    @Test func shutdownSendsWhatIsQueuedThenCloses() async throws {
        try await withLocalRedisServer { server in
            let client = try nioClient(server) { $0.clientName = "closing" }
            let admin = try RedisClient(url: server.url)
            defer { admin.close() }
            let answered = Atomic<Int>(0)
            for _ in 0..<100 {
                client.submit([RedisCommand("INCR", "n")], timeout: nil, decode: { _ in 0 }) { result in
                    if case .success = result { answered.add(1, ordering: .relaxed) }
                }
            }
            await client.shutdown()
            #expect(answered.load(ordering: .relaxed) == 100)
            #expect(try await admin.send("GET", "n") == .bulkString(Array("100".utf8)))
            await #expect(throws: RedisError.self) { try await client.ping() }
            #expect(
                try await eventually {
                    !((try await admin.send("CLIENT", "LIST").string ?? "").contains("name=closing "))
                })
        }
    }
}
