import LocalRedisServer
import Testing

@testable import RedisClient

@Suite("Redis client against a real redis-server")
struct RedisClientTests {
    @Test func everyReplyType() async throws {
        try await withLocalRedisServer { server in
            let client = try RedisClient(url: server.url)
            defer { client.close() }
            #expect(try await client.send("SET", "k", "v") == .status("OK"))
            #expect(try await client.send("GET", "k") == .bulkString(Array("v".utf8)))
            #expect(try await client.send("GET", "missing") == .null)
            #expect(try await client.send("INCRBY", "n", "41") == .integer(41))
            #expect(try await client.send("RPUSH", "l", "a", "b") == .integer(2))
            #expect(try await client.send("LRANGE", "l", "0", "-1") == .array([.bulkString([97]), .bulkString([98])]))
            #expect(try await client.send("SET", "bin", "\u{0}\r\n") == .status("OK"))
            #expect(try await client.send("GET", "bin") == .bulkString([0, 13, 10]))
            let replies = try await client.pipeline([RedisCommand("NOSUCHCOMMAND"), RedisCommand("PING")])
            guard case .error(let text) = replies[0] else {
                Issue.record("expected an error reply, got \(replies[0])")
                return
            }
            #expect(text.hasPrefix("ERR unknown command"))
            #expect(replies[1] == .status("PONG"))
        }
    }

    @Test func serverErrorsAreRecognisable() async throws {
        try await withLocalRedisServer { server in
            let client = try RedisClient(url: server.url)
            defer { client.close() }
            try await client.send("SET", "plain", "x")
            await #expect(throws: RedisError.self) { try await client.xadd("plain", fields: [("a", "b")]) }
            do {
                _ = try await client.xadd("plain", fields: [("a", "b")])
            } catch let error as RedisError {
                #expect(error.code == .wrongType)
                #expect(error.message.hasPrefix("WRONGTYPE"))
                #expect(error.isServerError)
            }
            do {
                _ = try await client.xreadgroup(group: "nope", consumer: "c", stream: "s", count: 1)
                Issue.record("no error")
            } catch let error as RedisError {
                #expect(error.code == .noGroup)
            }
            #expect(try await client.xgroupCreate("s", group: "g") == true)
            #expect(try await client.xgroupCreate("s", group: "g") == false)
            do {
                try await client.send("XGROUP", "CREATE", "s", "g", "$")
                Issue.record("no error")
            } catch let error as RedisError {
                #expect(error.code == .busyGroup)
            }
        }
    }

    @Test func pipelinedRepliesComeBackInOrderInOneRoundTrip() async throws {
        try await withLocalRedisServer { server in
            let client = try RedisClient(url: server.url)
            defer { client.close() }
            _ = try await client.ping()
            let before = client.statistics.roundTrips
            let commands = (0..<1000).map { _ in RedisCommand("INCR", "counter") }
            let replies = try await client.pipeline(commands)
            #expect(replies == (1...1000).map { .integer($0) })
            #expect(client.statistics.roundTrips - before == 1)
        }
    }

    @Test func concurrentCallersShareRoundTrips() async throws {
        try await withLocalRedisServer { server in
            let client = try RedisClient(url: server.url)
            defer { client.close() }
            _ = try await client.ping()
            let before = client.statistics
            let callers = 2000
            let results = try await withThrowingTaskGroup(of: Int.self) { group in
                // A slow round trip in flight (BLPOP waits 1 s, long enough for the callers to queue
                // even on a loaded machine): everything queued meanwhile
                // must share the following round trips.
                group.addTask { try await client.send(RedisCommand("BLPOP", "nothing", "1"), timeout: .seconds(2)) == .null ? 0 : 0 }
                try await Task.sleep(for: .milliseconds(50))
                for index in 0..<callers {
                    group.addTask { try await client.send("SET", "key:\(index)", "\(index)") == .status("OK") ? 1 : 0 }
                }
                return try await group.reduce(0, +)
            }
            let after = client.statistics
            #expect(results == callers)
            #expect(after.commandsSent - before.commandsSent == callers + 1)
            // Every caller is answered, in far fewer round trips than commands.
            #expect(after.roundTrips - before.roundTrips <= callers / 5, "\(after.roundTrips - before.roundTrips) round trips")
            #expect(try await client.send("DBSIZE") == .integer(callers))
        }
    }

    @Test func reconnectsAfterClientKill() async throws {
        try await withLocalRedisServer { server in
            let client = try RedisClient(url: server.url)
            let admin = try RedisClient(url: server.url)
            defer { client.close(); admin.close() }
            try await client.send("CLIENT", "SETNAME", "victim")
            try await client.send("SET", "a", "1")
            try await admin.send("CLIENT", "KILL", "SKIPME", "yes")
            // The command that meets the dead socket fails clearly; it is not silently re-sent.
            do {
                try await client.send("INCR", "a")
                Issue.record("the command on the killed connection did not fail")
            } catch let error as RedisError {
                #expect(error.code == .connectionLost)
                #expect(error.message.contains("may or may not have been applied"))
            }
            #expect(try await client.send("GET", "a") == .bulkString(Array("1".utf8)))
            #expect(client.statistics.reconnects == 1)
        }
    }

    @Test func commandInFlightAtADropFails() async throws {
        try await withLocalRedisServer { server in
            let client = try RedisClient(url: server.url)
            let admin = try RedisClient(url: server.url)
            defer { client.close(); admin.close() }
            try await client.send("CLIENT", "SETNAME", "blocked")
            let blocked = Task { try await client.send(RedisCommand("BLPOP", "nothing", "5"), timeout: .seconds(10)) }
            try await Task.sleep(for: .milliseconds(100))
            try await admin.send("CLIENT", "KILL", "SKIPME", "yes")
            let outcome = await blocked.result
            #expect(throws: RedisError.self) { _ = try outcome.get() }
            #expect(try await client.ping())
        }
    }

    @Test func survivesAServerRestart() async throws {
        try await withLocalRedisServer { server in
            let client = try RedisClient(url: server.url)
            defer { client.close() }
            try await client.send("SET", "x", "1")
            try await server.restart()
            var answered = false
            for _ in 0..<20 where !answered {
                answered = (try? await client.ping()) == true
            }
            #expect(answered)
            #expect(client.statistics.reconnects >= 1)
        }
    }

    @Test func serverDownIsAClearErrorAndBacksOff() async throws {
        let server = try await LocalRedisServer.start()
        let client = RedisClient(
            configuration: RedisConfiguration(
                endpoint: .unixSocket(path: server.socketPath), initialReconnectDelay: .milliseconds(100)))
        defer { client.close() }
        #expect(try await client.ping())
        await server.kill()
        var errors: [RedisError] = []
        let start = ContinuousClock.now
        for _ in 0..<4 {
            do { _ = try await client.ping() } catch let error as RedisError { errors.append(error) }
        }
        #expect(errors.count == 4)
        #expect(errors.last?.code == .connectionFailed)
        #expect(errors.last?.message.contains("cannot connect to Redis at unix:\(server.socketPath)") == true)
        // Attempts after the first failure wait 100, 200, 400 ms: no tight loop.
        #expect(ContinuousClock.now - start >= .milliseconds(250))
        try await server.restart()
        var answered = false
        for _ in 0..<30 where !answered { answered = (try? await client.ping()) == true }
        #expect(answered)
        await server.stop()
    }

    @Test func commandTimeoutDiscardsTheConnection() async throws {
        try await withLocalRedisServer { server in
            let client = RedisClient(
                configuration: RedisConfiguration(
                    endpoint: .unixSocket(path: server.socketPath), commandTimeout: .milliseconds(200)))
            defer { client.close() }
            do {
                try await client.send("BLPOP", "nothing", "2")
                Issue.record("no timeout")
            } catch let error as RedisError {
                #expect(error.code == .timeout)
            }
            #expect(try await client.ping())
        }
    }

    @Test func tcpWithACLUserAndDatabase() async throws {
        try await withLocalRedisServer(
            tcp: true, extraArguments: ["--user", "alice", "on", ">wonderland", "~*", "&*", "+@all"]
        ) { server in
            let port = server.port!
            let client = try RedisClient(url: "redis://alice:wonderland@127.0.0.1:\(port)/3")
            defer { client.close() }
            try await client.send("SET", "where", "db3")
            #expect(try await client.send("ACL", "WHOAMI") == .bulkString(Array("alice".utf8)))
            let other = try RedisClient(url: "redis://alice:wonderland@127.0.0.1:\(port)/0")
            defer { other.close() }
            #expect(try await other.send("GET", "where") == .null)
            try await other.send("SELECT", "3")
            #expect(try await other.send("GET", "where") == .bulkString(Array("db3".utf8)))

            let wrong = try RedisClient(url: "redis://alice:bad@127.0.0.1:\(port)")
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

    @Test func streamEntriesRoundTrip() async throws {
        try await withLocalRedisServer { server in
            let client = try RedisClient(url: server.url)
            defer { client.close() }
            let id = try await client.xadd("s", fields: [("name", "välue"), ("empty", "")])
            let entries = try await client.xrange("s")
            #expect(entries.count == 1)
            #expect(entries[0].id == id)
            #expect(entries[0].fields.map(\.name) == ["name", "empty"])
            #expect(entries[0].string(named: "name") == "välue")
            #expect(entries[0].string(named: "empty") == "")
            #expect(try await client.xlen("s") == 1)
        }
    }
}
