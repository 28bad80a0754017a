import EventBus
import Foundation
import LocalRedisServer
import RedisClient
import TestSupport
import Testing

/// All-or-nothing writes: a transactional handler's writes when Redis would refuse one of
/// them, and a replayed dead letter that only its own group handles again.
@Suite("Atomic steps")
struct AtomicityTests {
    /// A handler whose writes are a counter (`<stream>:count`) and a set member
    /// (`<stream>:members`); records each attempt.
    private static func countingHandlers(_ stream: String, attempts: Recorder<String>) -> EventHandlers {
        var handlers = EventHandlers()
        handlers.onTransactional(TodoCreated.self) { received in
            await attempts.append(received.event.todoID)
            return [
                RedisCommand("HINCRBY", "\(stream):count", received.event.todoID, "1"),
                RedisCommand("SADD", "\(stream):members", received.event.todoID),
            ]
        }
        return handlers
    }

    @Test func aTransactionalWriteOnAKeyOfTheWrongTypeWritesNothingAndIsRetried() async throws {
        try await withStreamFixture { fixture in
            let (client, stream) = (fixture.client, fixture.stream)
            // The second write's key holds a string: SADD would fail after HINCRBY had run.
            try await client.send("SET", "\(stream):members", "not a set")
            let attempts = Recorder<String>()
            let configuration = quickRetries(
                .init(stream: stream, group: "g", consumerName: "c", startPosition: .beginning), maxDeliveries: 100,
                initialBackoff: .milliseconds(150))
            let task = start(
                try EventConsumer(
                    redis: fixture.redis, configuration: configuration,
                    handlers: Self.countingHandlers(stream, attempts: attempts)))
            try await fixture.publisher.publish(makeTodo(1))
            #expect(try await eventually { await attempts.count >= 3 })
            // Three failed deliveries, and not one of the counter's increments applied.
            #expect(try await client.send("HGET", "\(stream):count", "todo-1").isNull)
            #expect(try await pendingCount(client, stream, "g") == 1)
            #expect((try await client.send("KEYS", "g:processed:*").array ?? []).isEmpty)

            try await client.send("DEL", "\(stream):members")
            #expect(try await eventually { try await pendingCount(client, stream, "g") == 0 })
            #expect(try await client.send("HGET", "\(stream):count", "todo-1").string == "1")
            #expect(try await client.send("SISMEMBER", "\(stream):members", "todo-1").int == 1)
            await stop([task])
        }
    }

    @Test func anIncrementOfANonNumberAndAnUnsupportedCommandWriteNothing() async throws {
        try await withStreamFixture { fixture in
            let (client, stream) = (fixture.client, fixture.stream)
            try await client.send("HSET", "\(stream):stats", "total", "many")
            let attempts = Recorder<String>()
            var handlers = EventHandlers()
            handlers.onTransactional(TodoCreated.self) { received in
                await attempts.append(received.event.todoID)
                if received.event.todoID == "todo-1" {
                    return [
                        RedisCommand("SADD", "\(stream):seen", "todo-1"),
                        RedisCommand("HINCRBY", "\(stream):stats", "total", "1"),
                    ]
                }
                return [RedisCommand("SADD", "\(stream):seen", "todo-2"), RedisCommand("FLUSHALL")]
            }
            let configuration = quickRetries(
                .init(stream: stream, group: "g", consumerName: "c", startPosition: .beginning), maxDeliveries: 2,
                initialBackoff: .milliseconds(150))
            let task = start(try EventConsumer(redis: fixture.redis, configuration: configuration, handlers: handlers))
            try await fixture.publisher.publish(makeTodo(1))
            try await fixture.publisher.publish(makeTodo(2))
            #expect(try await eventually { try await deadLetters(client, stream, "g").count == 2 })
            #expect(try await client.send("EXISTS", "\(stream):seen").int == 0)
            #expect(try await client.send("HGET", "\(stream):stats", "total").string == "many")
            let errors = try await deadLetters(client, stream, "g").compactMap { $0.string(named: "dlq_error") }
            #expect(errors.contains { $0.contains("holds many, not an integer") })
            #expect(errors.contains { $0.contains("flushall is not a supported transactional write") })
            await stop([task])
        }
    }

    @Test func aTransactionalHandlerAboveMaxmemoryWritesNothingUntilMemoryIsBack() async throws {
        try await withStreamFixture { fixture in
            let (client, stream) = (fixture.client, fixture.stream)
            let attempts = Recorder<String>()
            let memoryFull = Flag()
            var handlers = EventHandlers()
            handlers.onTransactional(TodoCreated.self) { received in
                await attempts.append(received.event.todoID)
                // The first delivery returns its writes only once Redis is above maxmemory.
                while await !memoryFull.isSet { try await Task.sleep(for: .milliseconds(5)) }
                return [
                    RedisCommand("HINCRBY", "\(stream):count", received.event.todoID, "1"),
                    RedisCommand("SADD", "\(stream):members", received.event.todoID),
                ]
            }
            let configuration = quickRetries(
                .init(stream: stream, group: "g", consumerName: "c", startPosition: .beginning), maxDeliveries: 100,
                initialBackoff: .milliseconds(150))
            let task = start(try EventConsumer(redis: fixture.redis, configuration: configuration, handlers: handlers))
            try await fixture.publisher.publish(makeTodo(1))
            #expect(try await eventually { await attempts.count == 1 })
            // Every write is refused from here on (XREADGROUP, XCLAIM and XACK still work).
            try await client.send("CONFIG", "SET", "maxmemory-policy", "noeviction")
            try await client.send("CONFIG", "SET", "maxmemory", "1")
            await memoryFull.set()
            #expect(try await eventually { await attempts.count >= 3 })
            #expect(try await client.send("EXISTS", "\(stream):count", "\(stream):members").int == 0)
            #expect(try await pendingCount(client, stream, "g") == 1)

            try await client.send("CONFIG", "SET", "maxmemory", "0")
            #expect(try await eventually { try await pendingCount(client, stream, "g") == 0 })
            #expect(try await client.send("HGET", "\(stream):count", "todo-1").string == "1")
            #expect(try await client.send("SISMEMBER", "\(stream):members", "todo-1").int == 1)
            await stop([task])
        }
    }

    @Test func aReplayedDeadLetterIsHandledAgainByItsGroupAndByNoOther() async throws {
        try await withStreamFixture { fixture in
            let (client, stream) = (fixture.client, fixture.stream)
            // "fragile" fails todo-1 until fixed; "counter" is not idempotent: it counts every delivery.
            let fixed = Flag()
            let fragileHandled = Recorder<String>()
            var fragile = EventHandlers()
            fragile.on(TodoCreated.self) { received in
                guard await fixed.isSet || received.event.todoID != "todo-1" else { throw TestFailure(description: "not yet") }
                await fragileHandled.append(received.event.todoID)
            }
            let counted = Recorder<String>()
            var counter = EventHandlers()
            counter.on(TodoCreated.self) { await counted.append($0.event.todoID) }
            func configuration(_ group: String) -> EventConsumer.Configuration {
                quickRetries(
                    .init(stream: stream, group: group, consumerName: "c", startPosition: .beginning), maxDeliveries: 2,
                    initialBackoff: .milliseconds(150))
            }
            let tasks = [
                start(try EventConsumer(redis: fixture.redis, configuration: configuration("fragile"), handlers: fragile)),
                start(try EventConsumer(redis: fixture.redis, configuration: configuration("counter"), handlers: counter)),
            ]
            try await fixture.publisher.publish(makeTodo(1))
            try await fixture.publisher.publish(makeTodo(2))
            #expect(try await eventually { try await deadLetters(client, stream, "fragile").count == 1 })
            #expect(try await eventually { await counted.count == 2 })

            await fixed.set()
            let report = try await DeadLetterStore(client: client).replay(stream: stream, group: "fragile", selection: .all)
            let replayed = try #require(report.replayed.first?.newEntryID)
            #expect(try await eventually { await fragileHandled.values.sorted() == ["todo-1", "todo-2"] })
            // The counter group has read past the replayed entry and acknowledged it unhandled.
            let inspector = StreamInspector(client: client)
            #expect(
                try await eventually {
                    let group = try await inspector.groups(stream: stream).first { $0.name == "counter" }
                    return (group?.lastDeliveredID).map { $0 >= replayed } == true && group?.pending == 0
                })
            #expect(await counted.values.sorted() == ["todo-1", "todo-2"])
            #expect(try await pendingCount(client, stream, "fragile") == 0)
            await stop(tasks)
        }
    }
}

/// A flag handlers can read while a test sets it.
actor Flag {
    private(set) var isSet = false
    func set() { isSet = true }
}
