import EventBus
import Foundation
import LocalRedisServer
import RedisClient
import TestSupport
import Testing

/// Retries through the pending-entries list and dead letters, against a real redis-server.
/// The tests taking a `RedisBackend` run on one node and on a Redis Cluster with 6
/// partitions: a failed event is retried and handled, one that always fails is dead-lettered
/// (in its partition) after the maximum deliveries, and dead letters replayed through
/// `DeadLetterStore` are handled once the handler is fixed.
@Suite("Retries and dead letters")
struct DeadLetterTests {
    @Test func malformedEntriesInjectedWithRedisCLIAreDeadLetteredWithTheirReason() async throws {
        try await withStreamFixture { fixture in
            let (server, client, stream) = (fixture.server, fixture.client, fixture.stream)
            let configuration = quickRetries(.init(stream: stream, group: "g", consumerName: "c", startPosition: .beginning))
            let (handled, task) = try fixture.startRecordingConsumer(configuration)
            var expected: [String: String] = [:]  // entry id -> reason
            func inject(_ reason: String, _ fields: [String]) async throws {
                let id = try await redisCLI(server, ["XADD", stream, "*"] + fields)
                #expect(StreamEntryID(id) != nil, "redis-cli answered \(id)")
                expected[id] = reason
            }
            try await fixture.publisher.publish(makeTodo(1))
            try await inject("undecodable", ["foo", "bar"])
            try await fixture.publisher.publish(makeTodo(2))
            try await inject("undecodable", envelopeFields(data: "{not json"))
            try await inject("unknown_type", envelopeFields(type: "todo.archived"))
            try await inject("unsupported_version", envelopeFields(version: "99"))
            // 1 MB of data (too large for a command line: fed through standard input).
            let big = try await redisCLI(
                server, lastArgumentFrom: "head -c 1048576 /dev/zero | tr '\\0' x",
                ["XADD", stream, "*"] + envelopeFields().dropLast())
            expected[big] = "undecodable"
            // Invalid UTF-8 in an envelope field and inside the JSON data.
            let badField = try await redisCLI(
                server, lastArgumentFrom: "printf 'agg\\377\\376'", ["XADD", stream, "*"] + envelopeFields().dropLast(10) + ["aggregate_type", "todo", "aggregate_id"])
            expected[badField] = "undecodable"
            let badData = try await redisCLI(
                server, lastArgumentFrom: #"printf '{"todo_id":"\377","user_id":"u","title":"x","priority":1}'"#,
                ["XADD", stream, "*"] + envelopeFields().dropLast())
            expected[badData] = "undecodable"
            try await fixture.publisher.publish(makeTodo(3))

            #expect(try await eventually { await handled.count == 3 })
            #expect(try await eventually { try await deadLetters(client, stream, "g").count == expected.count })
            let letters = try await deadLetters(client, stream, "g")
            var seen: [String: String] = [:]
            for letter in letters {
                seen[letter.string(named: "dlq_entry_id") ?? "?"] = letter.string(named: "dlq_reason")
                #expect(letter.string(named: "dlq_stream") == stream)
                #expect(letter.string(named: "dlq_group") == "g")
                #expect(letter.string(named: "dlq_consumer") == "c")
                #expect(letter.string(named: "dlq_deliveries") == "1")
                #expect(!(letter.string(named: "dlq_error") ?? "").isEmpty)
                #expect(RFC3339.parseMicroseconds(letter.string(named: "dlq_failed_at") ?? "") != nil)
            }
            #expect(seen == expected)
            // Every original field is kept unchanged, bytes included.
            let utf8Letter = try #require(letters.first { $0.string(named: "dlq_entry_id") == badField })
            #expect(Array(utf8Letter.value(named: "aggregate_id") ?? []) == Array("agg".utf8) + [0xFF, 0xFE])
            let bigLetter = try #require(letters.first { $0.string(named: "dlq_entry_id") == big })
            #expect(bigLetter.value(named: "data")?.count == 1_048_576)
            #expect(try await pendingCount(client, stream, "g") == 0)
            // Three aggregates: their events may run in parallel lanes, in any order.
            #expect(await handled.values.sorted() == ["todo-1", "todo-2", "todo-3"])
            await stop([task])
        }
    }

    @Test(arguments: RedisBackend.allCases)
    func aHandlerFailingOneDeliveryInTenHandlesEverythingAndDeadLettersNothing(_ backend: RedisBackend) async throws {
        try await withBackendFixture(backend) { fixture in
            let deliveries = Recorder<String>()
            let handled = Recorder<String>()
            var handlers = EventHandlers()
            handlers.on(TodoCreated.self) { received in
                await deliveries.append(received.event.todoID)
                // Deterministic 1 in 10: the first delivery of every tenth event fails.
                if received.deliveryCount == 1, Int(received.event.title.dropFirst(5))! % 10 == 0 {
                    throw TestFailure(description: "transient")
                }
                await handled.append(received.event.todoID)
            }
            let configuration = quickRetries(fixture.configuration(group: "g", consumer: "c"))
            let task = start(try EventConsumer(redis: fixture.redis, configuration: configuration, handlers: handlers))
            for index in 0..<200 { try await fixture.publisher.publish(makeTodo(index)) }
            #expect(try await eventually { await Set(handled.values).count == 200 })
            #expect(try await eventually { try await fixture.pending("g") == 0 })
            #expect(try await fixture.deadLetters("g").isEmpty)
            #expect(await deliveries.count == 220)
            await stop([task])
        }
    }

    @Test(arguments: RedisBackend.allCases)
    func eventsWhoseHandlerAlwaysFailsAreDeadLetteredAfterTheMaximumDeliveries(_ backend: RedisBackend) async throws {
        try await withBackendFixture(backend) { fixture in
            let poisoned: Set<String> = ["todo-3", "todo-7", "todo-11"]
            let handled = Recorder<String>()
            var handlers = EventHandlers()
            handlers.on(TodoCreated.self, maxDeliveries: 4) { received in
                if poisoned.contains(received.event.todoID) { throw TestFailure(description: "cannot handle \(received.event.todoID)") }
                await handled.append(received.event.todoID)
            }
            let configuration = quickRetries(fixture.configuration(group: "g", consumer: "c"), initialBackoff: .milliseconds(120))
            let task = start(try EventConsumer(redis: fixture.redis, configuration: configuration, handlers: handlers))
            var ids: [String: StreamEntryID] = [:]
            for index in 0..<15 { ids["todo-\(index)"] = try await fixture.publisher.publish(makeTodo(index)) }
            #expect(try await eventually(timeout: .seconds(20)) { try await fixture.deadLetters("g").count == 3 })
            let letters = try await fixture.deadLetters("g")
            #expect(Set(letters.compactMap { $0.string(named: "dlq_entry_id") }) == Set(poisoned.map { ids[$0]!.description }))
            for todo in poisoned {
                // Each in the dead letters of its own partition, naming that partition stream.
                let partition = fixture.streamKey(of: todo)
                let own = try await deadLetters(fixture.client, partition, "g")
                #expect(own.contains { $0.string(named: "dlq_entry_id") == ids[todo]!.description && $0.string(named: "dlq_stream") == partition })
            }
            for letter in letters {
                #expect(letter.string(named: "dlq_reason") == "max_deliveries")
                #expect(letter.string(named: "dlq_deliveries") == "4")
                #expect(letter.string(named: "dlq_error")?.contains("cannot handle") == true)
                #expect(letter.string(named: "event_type") == "todo.created")
            }
            #expect(await Set(handled.values).count == 12)
            #expect(try await eventually { try await fixture.pending("g") == 0 })
            await stop([task])
        }
    }

    @Test func deadLettersReplayedWithTheCLIAfterTheHandlerIsFixedAreAllHandled() async throws {
        try await deadLettersReplayedAfterTheHandlerIsFixedAreAllHandled(on: .node) { fixture in
            let cli = try ChildProcess.builtExecutable(named: "streamsctl")
            let replay = try await ChildProcess.run(cli, ["dlq", "replay", fixture.stream, "g", "--all", "--redis-url", fixture.target.url])
            #expect(replay.exitCode == 0, "\(replay.output)")
        }
    }

    /// `DeadLetterStore.replay` over every partition: each dead letter goes back to the
    /// partition stream it came from (replay-dead-letter.lua, in that partition's slot).
    @Test(arguments: RedisBackend.allCases)
    func deadLettersReplayedThroughTheStoreAfterTheHandlerIsFixedAreAllHandled(_ backend: RedisBackend) async throws {
        try await deadLettersReplayedAfterTheHandlerIsFixedAreAllHandled(on: backend) { fixture in
            let report = try await DeadLetterStore(client: fixture.client).replay(
                stream: fixture.stream, group: "g", partitions: fixture.partitions, selection: .all)
            #expect(report.replayed.count == 4 && report.skipped.isEmpty, "\(report)")
        }
    }

    /// 4 of 20 events are dead-lettered by a broken handler; once it is fixed `replay` puts them
    /// back and all 20 are handled, the dead letters gone, each replayed event marked.
    private func deadLettersReplayedAfterTheHandlerIsFixedAreAllHandled(
        on backend: RedisBackend, replay: (BackendFixture) async throws -> Void
    ) async throws {
        try await withBackendFixture(backend) { fixture in
            let broken = Switch(true)
            let handled = Recorder<String>()
            var handlers = EventHandlers()
            handlers.on(TodoCreated.self, maxDeliveries: 2) { received in
                if await broken.isOn, received.event.priority == 0 { throw TestFailure(description: "bug") }
                await handled.append(received.event.todoID)
            }
            let configuration = quickRetries(fixture.configuration(group: "g", consumer: "c"))
            let task = start(try EventConsumer(redis: fixture.redis, configuration: configuration, handlers: handlers))
            for index in 0..<20 { try await fixture.publisher.publish(makeTodo(index)) }  // 4 have priority 0
            #expect(try await eventually { try await fixture.deadLetters("g").count == 4 })
            #expect(try await eventually { await handled.count == 16 })

            await broken.set(false)  // the fix is deployed
            try await replay(fixture)
            #expect(try await eventually { await handled.count == 20 })
            #expect(Set(await handled.values) == Set((0..<20).map { "todo-\($0)" }))
            #expect(try await fixture.deadLetters("g").isEmpty)
            #expect(try await eventually { try await fixture.pending("g") == 0 })
            // Each replayed event says where it came from.
            let replayed = try await fixture.entries().filter { $0.value(named: "meta.replayed_from") != nil }
            #expect(replayed.count == 4)
            await stop([task])
        }
    }

    @Test func anEntryTrimmedWhilePendingBecomesADeletedDeadLetter() async throws {
        try await withStreamFixture { fixture in
            let (client, stream) = (fixture.client, fixture.stream)
            var handlers = EventHandlers()
            handlers.on(TodoCreated.self) { _ in throw TestFailure(description: "down") }
            let configuration = quickRetries(.init(stream: stream, group: "g", consumerName: "c", startPosition: .beginning), maxDeliveries: 10)
            let task = start(try EventConsumer(redis: fixture.redis, configuration: configuration, handlers: handlers))
            let id = try await fixture.publisher.publish(makeTodo(1))
            #expect(try await eventually { try await pendingCount(client, stream, "g") == 1 })
            try await client.send("XDEL", stream, id.description)
            #expect(try await eventually { try await deadLetters(client, stream, "g").count == 1 })
            let letter = try #require(try await deadLetters(client, stream, "g").first)
            #expect(letter.string(named: "dlq_reason") == "deleted")
            #expect(letter.string(named: "dlq_entry_id") == id.description)
            #expect(letter.string(named: "event_id") == nil)
            #expect(try await pendingCount(client, stream, "g") == 0)
            await stop([task])
        }
    }

    @Test func aHandlerThatOverrunsItsTimeoutIsCancelledAndRetried() async throws {
        try await withStreamFixture { fixture in
            let (client, stream) = (fixture.client, fixture.stream)
            let handled = Recorder<Int>()
            var handlers = EventHandlers()
            handlers.on(TodoCreated.self) { received in
                // todo-1's first delivery hangs, until cancelled.
                if received.event.todoID == "todo-1", received.deliveryCount == 1 { try await Task.sleep(for: .seconds(60)) }
                await handled.append(received.deliveryCount)
            }
            // Deliveries and time to spare: in a full parallel run (hundreds of tests on a
            // 2-thread pool) a handler that does not hang can wait seconds to be scheduled and
            // overrun a short timeout too; it is retried, never dead-lettered.
            var configuration = quickRetries(
                .init(stream: stream, group: "g", consumerName: "c", startPosition: .beginning), maxDeliveries: 10)
            configuration.handlerTimeout = .seconds(5)
            let task = start(try EventConsumer(redis: fixture.redis, configuration: configuration, handlers: handlers))
            try await fixture.publisher.publish(makeTodo(1))
            try await fixture.publisher.publish(makeTodo(2))  // behind the hung one when they share a lane
            #expect(try await eventually(timeout: .seconds(90)) { await handled.count == 2 })
            #expect(await handled.values.contains { $0 >= 2 })  // the hung one, on a later delivery
            #expect(try await eventually { try await pendingCount(client, stream, "g") == 0 })
            #expect(try await deadLetters(client, stream, "g").isEmpty)
            await stop([task])
        }
    }

    @Test func idleConsumersWithoutPendingEntriesAreRemovedFromTheGroup() async throws {
        try await withStreamFixture { fixture in
            let (client, stream) = (fixture.client, fixture.stream)
            try await client.xgroupCreate(stream, group: "g", startAt: "0")
            try await client.send("XGROUP", "CREATECONSUMER", stream, "g", "gone-without-work")
            // A dead consumer that still owns an entry must stay until someone claims it.
            try await fixture.publisher.publish(makeTodo(1))
            _ = try await client.send("XREADGROUP", "GROUP", "g", "gone-with-work", "COUNT", "1", "STREAMS", stream, ">")
            var configuration = EventConsumer.Configuration(stream: stream, group: "g", consumerName: "c")
            configuration.reclaimInterval = .milliseconds(40)
            configuration.removeIdleConsumersAfter = .milliseconds(200)
            configuration.retry = RetryPolicy(initialBackoff: .seconds(60))  // nobody claims during the test
            var handlers = EventHandlers()
            handlers.on(TodoCreated.self) { _ in }
            let task = start(try EventConsumer(redis: fixture.redis, configuration: configuration, handlers: handlers))
            func consumers() async throws -> Set<String> {
                let reply = try await client.send("XINFO", "CONSUMERS", stream, "g")
                return Set((reply.array ?? []).compactMap { $0.array?[1].string })
            }
            #expect(try await eventually { try await !consumers().contains("gone-without-work") })
            #expect(try await consumers().contains("gone-with-work"))
            await stop([task])
        }
    }
}

/// A flag handlers read and tests flip.
actor Switch {
    private(set) var isOn: Bool
    init(_ isOn: Bool) { self.isOn = isOn }
    func set(_ value: Bool) { isOn = value }
}
