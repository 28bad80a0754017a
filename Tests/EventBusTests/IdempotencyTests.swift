import EventBus
import Foundation
import LocalRedisServer
import RedisClient
import TestSupport
import Testing

/// Exactly-once effects under forced duplicate deliveries. The tests taking a `RedisBackend`
/// run on one node and on a Redis Cluster with 6 partitions: a transactional handler's writes
/// (in its partition's slot), and an effect behind `IdempotencyGuard`, happen once per event.
@Suite("Idempotent handlers")
struct IdempotencyTests {
    /// Appends the fields of entry `id` of `aggregate`'s partition again: the same event (same
    /// `event_id`) delivered twice.
    private func duplicate(_ id: StreamEntryID, of aggregate: String, in fixture: BackendFixture, times: Int) async throws {
        let key = fixture.streamKey(of: aggregate)
        let entry = try #require(try await fixture.client.xrange(key, from: id.description, to: id.description).first)
        for _ in 0..<times { try await fixture.client.xadd(key, fields: entry.fields.map { ($0.name, $0.value) }) }
    }

    @Test(arguments: RedisBackend.allCases)
    func aTransactionalHandlerAppliesEachEventOnceWhateverTheDeliveries(_ backend: RedisBackend) async throws {
        try await withBackendFixture(backend) { fixture in
            let (client, stream) = (fixture.client, fixture.stream)
            let attempts = Recorder<String>()
            let failures = FailOnce()
            var handlers = EventHandlers()
            handlers.onTransactional(TodoCreated.self) { received in
                await attempts.append(received.event.todoID)
                // The first delivery of todo-1 fails before its writes: nothing may be applied.
                if received.event.todoID == "todo-1", await failures.first("todo-1") { throw TestFailure(description: "flaky") }
                // Keys in the slot of the event's partition (the stream itself with one).
                return [
                    RedisCommand("HINCRBY", StreamPartitions.colocatedKey("\(stream):count", "h", with: received.stream), received.event.todoID, "1"),
                    RedisCommand("INCR", StreamPartitions.colocatedKey("\(stream):total", "all", with: received.stream)),
                ]
            }
            let configuration = quickRetries(fixture.configuration(group: "g", consumer: "c"))
            let task = start(try EventConsumer(redis: fixture.redis, configuration: configuration, handlers: handlers))
            let first = try await fixture.publisher.publish(makeTodo(0))
            let second = try await fixture.publisher.publish(makeTodo(1))
            try await duplicate(first, of: "todo-0", in: fixture, times: 3)
            try await duplicate(second, of: "todo-1", in: fixture, times: 2)
            #expect(try await eventually { await attempts.count == 8 })  // 4 deliveries of todo-0, 3 of todo-1 and 1 retry
            #expect(try await eventually { try await fixture.pending("g") == 0 })
            var counts: [String: String] = [:]
            var total = 0
            for key in Set(["todo-0", "todo-1"].map(fixture.streamKey(of:))) {
                let pairs = try await client.send("HGETALL", StreamPartitions.colocatedKey("\(stream):count", "h", with: key)).array?.compactMap(\.string) ?? []
                for index in stride(from: 0, to: pairs.count - 1, by: 2) { counts[pairs[index]] = pairs[index + 1] }
                total += try await client.send("GET", StreamPartitions.colocatedKey("\(stream):total", "all", with: key)).int ?? 0
            }
            #expect(counts == ["todo-0": "1", "todo-1": "1"])
            #expect(total == 2)
            #expect(try await fixture.target.keys("g:processed:*").count == 2)
            await stop([task])
        }
    }

    @Test(arguments: RedisBackend.allCases)
    func theGuardRunsAnExternalEffectOncePerEvent(_ backend: RedisBackend) async throws {
        try await withBackendFixture(backend) { fixture in
            let client = fixture.client
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
            let configuration = quickRetries(fixture.configuration(group: "g", consumer: "c"), maxDeliveries: 10)
            let task = start(try EventConsumer(redis: fixture.redis, configuration: configuration, handlers: handlers))
            for todo in ["todo-1", "todo-2"] {
                let id = try await fixture.publisher.publish(makeTodo(Int(todo.dropFirst(5))!))
                try await duplicate(id, of: todo, in: fixture, times: 2)
            }
            #expect(try await eventually { await deliveries.count >= 7 })  // 3 + 3 + at least 1 retry
            #expect(try await eventually { try await fixture.pending("g") == 0 })
            #expect(await effects.values.sorted() == ["todo-1", "todo-2"])
            #expect(try await fixture.deadLetters("g").isEmpty)
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
            // The marker expires after the window (at most 60 s left; how much less depends on how
            // long this test took, which a loaded run stretched past 10 s).
            let left = try await client.send("PTTL", "g:processed:e-1").int ?? 0
            #expect(left > 0 && left <= 60_000, "PTTL \(left)")
        }
    }
}

/// True the first time a key is seen: makes one delivery fail.
actor FailOnce {
    private var seen: Set<String> = []
    func first(_ key: String) -> Bool { seen.insert(key).inserted }
}
