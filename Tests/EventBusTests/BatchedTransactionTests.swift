import EventBus
import Foundation
import LocalRedisServer
import RedisClient
import TestSupport
import Testing

/// Transactional handlers committed per batch (`commit: .perBatch`): each event applied
/// exactly once and in order, in far fewer scripts than events, and a write Redis would
/// refuse failing only its own event.
@Suite("Batched transactional commits")
struct BatchedTransactionTests {
    private static func configuration(_ stream: String) -> EventConsumer.Configuration {
        quickRetries(
            .init(stream: stream, group: "g", consumerName: "c", startPosition: .beginning), maxDeliveries: 100,
            initialBackoff: .milliseconds(150))
    }

    /// No failure expected: housekeeping (a script too) once a minute, so that it cannot
    /// blur a count of scripts.
    private static func quietConfiguration(_ stream: String) -> EventConsumer.Configuration {
        var configuration = EventConsumer.Configuration(stream: stream, group: "g", consumerName: "c", startPosition: .beginning)
        configuration.reclaimInterval = .seconds(60)
        configuration.retry = RetryPolicy(
            initialBackoff: .seconds(180), multiplier: 1, maximumBackoff: .seconds(180), maxDeliveries: 3)
        return configuration
    }

    private static func evalshaCalls(_ client: RedisClient) async throws -> Int {
        let stats = try await client.send("INFO", "commandstats").string ?? ""
        guard let line = stats.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("cmdstat_evalsha:") }),
            let calls = line.split(separator: "=").dropFirst().first?.split(separator: ",").first
        else { return 0 }
        return Int(calls) ?? -1
    }

    @Test func eachEventOfABatchIsAppliedOnceInOrderInFewerScriptsAndDuplicatesAreSkipped() async throws {
        try await withStreamFixture { fixture in
            let (client, stream) = (fixture.client, fixture.stream)
            for index in 1...200 { try await fixture.publisher.publish(makeTodo(index)) }
            // 20 copies of earlier entries (same event_id): delivered again, applied never.
            let copies = try await client.send("XRANGE", stream, "-", "+", "COUNT", "20").array ?? []
            for copy in copies {
                let fields = (copy.array?.last?.array ?? []).compactMap(\.string)
                try await client.send(RedisCommand("XADD", arguments: [stream, "*"] + fields))
            }
            var handlers = EventHandlers()
            handlers.onTransactional(TodoCreated.self, commit: .perBatch) { received in
                let id = received.event.todoID
                return [
                    RedisCommand("HINCRBY", "\(stream):count", "total", "1"),
                    RedisCommand("HINCRBY", "\(stream):count", id, "1"),
                    RedisCommand("SADD", "\(stream):members", id),
                    // Order: the last event of the stream wins.
                    RedisCommand("HSET", "\(stream):last", "id", id),
                    RedisCommand("RPUSH", "\(stream):order", id),
                ]
            }
            let task = start(try EventConsumer(redis: fixture.redis, configuration: Self.quietConfiguration(stream), handlers: handlers))
            #expect(try await eventually { try await client.send("LLEN", "\(stream):order").int == 200 })
            #expect(try await eventually { try await pendingCount(client, stream, "g") == 0 })
            await stop([task])

            #expect(try await client.send("HGET", "\(stream):count", "total").string == "200")
            #expect(try await client.send("HLEN", "\(stream):count").int == 201)
            #expect(try await client.send("SCARD", "\(stream):members").int == 200)
            let order = (try await client.send("LRANGE", "\(stream):order", "0", "-1").array ?? []).compactMap(\.string)
            #expect(order == (1...200).map { "todo-\($0)" })
            #expect(try await client.send("HGET", "\(stream):last", "id").string == "todo-200")
            // 220 entries; one script per event would be 220.
            #expect(try await Self.evalshaCalls(client) < 30)
        }
    }

    @Test func aWriteRedisWouldRefuseFailsOnlyItsOwnEventOfTheBatch() async throws {
        try await withStreamFixture { fixture in
            let (client, stream) = (fixture.client, fixture.stream)
            try await client.send("SET", "\(stream):bad", "a string, not a hash")
            for index in 1...20 { try await fixture.publisher.publish(makeTodo(index)) }
            var handlers = EventHandlers()
            handlers.onTransactional(TodoCreated.self, commit: .perBatch) { received in
                let id = received.event.todoID
                if id == "todo-7" { return [RedisCommand("HINCRBY", "\(stream):bad", "count", "1")] }
                return [RedisCommand("HINCRBY", "\(stream):count", id, "1")]
            }
            let task = start(try EventConsumer(redis: fixture.redis, configuration: Self.configuration(stream), handlers: handlers))
            #expect(try await eventually { try await client.send("HLEN", "\(stream):count").int == 19 })
            #expect(try await eventually { try await pendingCount(client, stream, "g") == 1 })
            #expect(try await client.send("HGET", "\(stream):count", "todo-7").isNull)

            try await client.send("DEL", "\(stream):bad")
            #expect(try await eventually { try await pendingCount(client, stream, "g") == 0 })
            await stop([task])
            #expect(try await client.send("HGET", "\(stream):bad", "count").string == "1")
            let counts = (try await client.send("HVALS", "\(stream):count").array ?? []).compactMap(\.string)
            #expect(counts == Array(repeating: "1", count: 19))
        }
    }

    @Test func theBatchCheckFollowsWhatEarlierWritesOfTheBatchLeave() async throws {
        try await withStreamFixture { fixture in
            let (client, stream) = (fixture.client, fixture.stream)
            let key = "\(stream):k"
            try await client.send("HSET", key, "f", "not a number")
            // Per event: 1 deletes the hash, 2 increments the field (valid only after 1), 3
            // makes another field text, 4 sets a string counter, 5 increments it (valid only
            // after 4): one batch the check accepts, so one script.
            let writes: [String: [RedisCommand]] = [
                "todo-1": [RedisCommand("DEL", key)],
                "todo-2": [RedisCommand("HINCRBY", key, "f", "5")],
                "todo-3": [RedisCommand("HSET", key, "g", "text")],
                "todo-4": [RedisCommand("SET", "\(stream):n", "41")],
                "todo-5": [RedisCommand("INCR", "\(stream):n")],
            ]
            for index in 1...5 { try await fixture.publisher.publish(makeTodo(index)) }
            var handlers = EventHandlers()
            handlers.onTransactional(TodoCreated.self, commit: .perBatch) { received in
                writes[received.event.todoID] ?? []
            }
            let before = try await Self.evalshaCalls(client)
            let configuration = Self.quietConfiguration(stream)
            let task = start(try EventConsumer(redis: fixture.redis, configuration: configuration, handlers: handlers))
            #expect(try await eventually { try await client.send("GET", "\(stream):n").string == "42" })
            #expect(try await eventually { try await pendingCount(client, stream, "g") == 0 })
            // Accepted as one batch: a refusal would have cost 1 + 5 scripts.
            #expect(try await Self.evalshaCalls(client) - before < 6)
            await stop([task])
            #expect(try await client.send("HGET", key, "f").string == "5")
            #expect(try await client.send("HGET", key, "g").string == "text")
            #expect(try await client.send("XLEN", "\(stream):dlq:g").int == 0)
        }
    }

    @Test(arguments: [TransactionalCommit.perEvent, .perBatch])
    func anXADDWithOrWithoutMAXLENIsATransactionalWrite(commit: TransactionalCommit) async throws {
        try await withStreamFixture { fixture in
            let (client, stream) = (fixture.client, fixture.stream)
            for index in 1...10 { try await fixture.publisher.publish(makeTodo(index)) }
            var handlers = EventHandlers()
            handlers.onTransactional(TodoCreated.self, commit: commit) { received in
                var bounded = RedisCommand.xadd("\(stream):bounded", approximateMaxLength: 1000)
                bounded.append("todo_id")
                bounded.append(received.event.todoID)
                return [bounded, RedisCommand("XADD", "\(stream):plain", "*", "todo_id", received.event.todoID, "n", "1")]
            }
            let task = start(try EventConsumer(redis: fixture.redis, configuration: Self.quietConfiguration(stream), handlers: handlers))
            #expect(try await eventually { try await pendingCount(client, stream, "g") == 0 })
            #expect(try await eventually { try await client.send("XLEN", "\(stream):plain").int == 10 })
            await stop([task])
            #expect(try await client.send("XLEN", "\(stream):bounded").int == 10)
            #expect(try await client.send("XLEN", "\(stream):dlq:g").int == 0)
        }
    }
}
