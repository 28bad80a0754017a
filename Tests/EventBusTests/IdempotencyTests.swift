import EventBus
import Foundation
import LocalRedisServer
import RedisClient
import TestSupport
import Testing

/// Exactly-once effects under forced duplicate deliveries.
@Suite("Idempotent handlers")
struct IdempotencyTests {
    /// Appends the fields of entry `id` again: the same event (same `event_id`) delivered twice.
    private func duplicate(_ id: StreamEntryID, in fixture: StreamFixture, times: Int) async throws {
        let entry = try #require(try await fixture.client.xrange(fixture.stream, from: id.description, to: id.description).first)
        for _ in 0..<times { try await fixture.client.xadd(fixture.stream, fields: entry.fields.map { ($0.name, $0.value) }) }
    }

    @Test func aTransactionalHandlerAppliesEachEventOnceWhateverTheDeliveries() async throws {
        try await withStreamFixture { fixture in
            let (client, stream) = (fixture.client, fixture.stream)
            let attempts = Recorder<String>()
            let failures = FailOnce()
            var handlers = EventHandlers()
            handlers.onTransactional(TodoCreated.self) { received in
                await attempts.append(received.event.todoID)
                // The first delivery of todo-1 fails before its writes: nothing may be applied.
                if received.event.todoID == "todo-1", await failures.first("todo-1") { throw TestFailure(description: "flaky") }
                return [
                    RedisCommand("HINCRBY", "\(stream):count", received.event.todoID, "1"),
                    RedisCommand("INCR", "\(stream):total"),
                ]
            }
            let configuration = quickRetries(.init(stream: stream, group: "g", consumerName: "c", startPosition: .beginning))
            let task = start(try EventConsumer(redis: fixture.redis, configuration: configuration, handlers: handlers))
            let first = try await fixture.publisher.publish(makeTodo(0))
            let second = try await fixture.publisher.publish(makeTodo(1))
            try await duplicate(first, in: fixture, times: 3)
            try await duplicate(second, in: fixture, times: 2)
            #expect(try await eventually { await attempts.count == 8 })  // 4 deliveries of todo-0, 3 of todo-1 and 1 retry
            #expect(try await eventually { try await pendingCount(client, stream, "g") == 0 })
            let counts = try await client.send("HGETALL", "\(stream):count").array?.compactMap(\.string) ?? []
            #expect(counts == ["todo-0", "1", "todo-1", "1"])
            #expect(try await client.send("GET", "\(stream):total").int == 2)
            let marker = try await client.send("KEYS", "g:processed:*").array ?? []
            #expect(marker.count == 2)
            await stop([task])
        }
    }

    @Test func theGuardRunsAnExternalEffectOncePerEvent() async throws {
        try await withStreamFixture { fixture in
            let (client, stream) = (fixture.client, fixture.stream)
            let effects = Recorder<String>()
            let deliveries = Recorder<String>()
            let failures = FailOnce()
            let guardian = IdempotencyGuard(client: client, group: "g", window: .seconds(60), lease: .seconds(5))
            var handlers = EventHandlers()
            handlers.on(TodoCreated.self) { received in
                await deliveries.append(received.event.todoID)
                try await guardian.once(received.envelope) {
                    // The effect of todo-2 fails the first time: the claim is released and retried.
                    if received.event.todoID == "todo-2", await failures.first("todo-2") { throw TestFailure(description: "smtp down") }
                    await effects.append(received.event.todoID)
                }
            }
            // Deliveries to spare: the failed effect's retry can meet a copy's lease on a loaded
            // machine; with 3 a copy was dead-lettered in a full parallel run, its effect not run.
            let configuration = quickRetries(
                .init(stream: stream, group: "g", consumerName: "c", startPosition: .beginning), maxDeliveries: 10)
            let task = start(try EventConsumer(redis: fixture.redis, configuration: configuration, handlers: handlers))
            let ids = [try await fixture.publisher.publish(makeTodo(1)), try await fixture.publisher.publish(makeTodo(2))]
            for id in ids { try await duplicate(id, in: fixture, times: 2) }
            #expect(try await eventually { await deliveries.count >= 7 })  // 3 + 3 + at least 1 retry
            #expect(try await eventually { try await pendingCount(client, stream, "g") == 0 })
            #expect(await effects.values.sorted() == ["todo-1", "todo-2"])
            #expect(try await deadLetters(client, stream, "g").isEmpty)
            await stop([task])
        }
    }

    @Test func theGuardRefusesAConcurrentDuplicateAndSkipsADoneOne() async throws {
        try await withLocalRedisServer { server in
            let client = RedisClient(configuration: try RedisConfiguration(url: server.url))
            defer { client.close() }
            let guardian = IdempotencyGuard(client: client, group: "g", window: .seconds(60), lease: .seconds(5))
            let envelope = EventEnvelope(
                eventID: "e-1", eventType: "t", eventVersion: 1, aggregateType: "a", aggregateID: "1",
                timestampMicroseconds: 0, correlationID: "c", causationID: "c", traceparent: nil, metadata: [:])
            let (entered, release) = AsyncStream.makeStream(of: Void.self)
            let (proceed, go) = AsyncStream.makeStream(of: Void.self)
            let first = Task {
                try await guardian.once(envelope) {
                    release.yield()
                    for await _ in proceed { break }
                    return 1
                }
            }
            for await _ in entered { break }
            // While the first runs, a duplicate is refused (it will be retried later).
            await #expect(throws: EventBusError.self) { try await guardian.once(envelope) { 2 } }
            go.yield()
            #expect(try await first.value == 1)
            // Once done, a duplicate is skipped.
            #expect(try await guardian.once(envelope) { 3 } == nil)
            #expect(try await guardian.isProcessed(envelope))
            #expect(try await client.send("PTTL", "g:processed:e-1").int ?? 0 > 50_000)
        }
    }
}

/// True the first time a key is seen: makes one delivery fail.
actor FailOnce {
    private var seen: Set<String> = []
    func first(_ key: String) -> Bool { seen.insert(key).inserted }
}
