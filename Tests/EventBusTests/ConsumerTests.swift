import EventBus
import Foundation
import LocalRedisServer
import RedisClient
import ServiceLifecycle
import ServiceLifecycleTestKit
import TestSupport
import Testing

/// Consumer groups against a real redis-server; the tests taking a `RedisBackend` run on one
/// node and on a Redis Cluster with 6 partitions: every group gets every event, a handler's
/// event is acknowledged once it succeeded and stays pending when it failed, and a dead
/// consumer's pending events are reclaimed and handled by another.
@Suite("Consumer groups against a real redis-server")
struct ConsumerTests {
    @Test(arguments: RedisBackend.allCases)
    func everyGroupGetsEveryEvent(_ backend: RedisBackend) async throws {
        try await withBackendFixture(backend) { fixture in
            let notification = Recorder<String>()
            let analytics = Recorder<String>()
            var tasks: [Task<Void, Error>] = []
            for (group, recorder) in [("notification-service", notification), ("analytics-service", analytics)] {
                var handlers = EventHandlers()
                handlers.on(TodoCreated.self) { await recorder.append($0.event.todoID) }
                let consumer = try EventConsumer(
                    redis: fixture.redis, configuration: fixture.configuration(group: group, consumer: "c1"), handlers: handlers)
                tasks.append(start(consumer))
            }
            for index in 0..<50 { try await fixture.publisher.publish(makeTodo(index)) }
            if backend == .cluster {
                // The events are spread over the partitions, which are on every master.
                let used = Set((0..<50).map { fixture.streamKey(of: "todo-\($0)") })
                #expect(used.count == fixture.partitions.count)
            }
            #expect(try await eventually {
                let handledByNotification = await notification.count
                let handledByAnalytics = await analytics.count
                return handledByNotification == 50 && handledByAnalytics == 50
            })
            #expect(Set(await notification.values) == Set((0..<50).map { "todo-\($0)" }))
            #expect(Set(await analytics.values) == Set((0..<50).map { "todo-\($0)" }))
            #expect(try await eventually { try await fixture.pending("notification-service") == 0 })
            #expect(try await eventually { try await fixture.pending("analytics-service") == 0 })
            await stop(tasks)
        }
    }

    /// A consumer that read events and died (never acknowledged them) leaves them pending to
    /// it; another consumer of the group claims them once they have been idle for the retry
    /// backoff (claim-pending.lua, in each partition's slot) and handles each once.
    @Test(arguments: RedisBackend.allCases)
    func aDeadConsumersPendingEventsAreReclaimedAndHandledByAnother(_ backend: RedisBackend) async throws {
        try await withBackendFixture(backend) { fixture in
            for index in 0..<12 { try await fixture.publisher.publish(makeTodo(index)) }
            // The dead consumer reads every partition and dies without acknowledging.
            for key in fixture.streamKeys {
                _ = try await fixture.client.xgroupCreate(key, group: "g", startAt: "0")
                _ = try await fixture.client.send(RedisCommand("XREADGROUP", "GROUP", "g", "dead", "STREAMS", key, ">"))
            }
            #expect(try await fixture.pending("g") == 12)
            let handled = Recorder<(todo: String, delivery: Int)>()
            var handlers = EventHandlers()
            handlers.on(TodoCreated.self) { await handled.append(($0.event.todoID, $0.deliveryCount)) }
            let configuration = quickRetries(fixture.configuration(group: "g", consumer: "alive"))
            let task = start(try EventConsumer(redis: fixture.redis, configuration: configuration, handlers: handlers))
            #expect(try await eventually { await handled.count >= 12 })
            #expect(try await eventually { try await fixture.pending("g") == 0 })
            let values = await handled.values
            #expect(values.map(\.todo).sorted() == (0..<12).map { "todo-\($0)" }.sorted(), "each once")
            #expect(values.allSatisfy { $0.delivery >= 2 }, "redeliveries of the dead consumer's reads")
            await stop([task])
        }
    }

    @Test func consumersOfOneGroupSplitTheEventsAndHandleEachOnce() async throws {
        try await withStreamFixture { fixture in
            let (redis, stream, publisher) = (fixture.redis, fixture.stream, fixture.publisher)
            let handled = Recorder<(consumer: String, todo: String)>()
            var tasks: [Task<Void, Error>] = []
            for name in ["worker-a", "worker-b"] {
                var handlers = EventHandlers()
                handlers.on(TodoCreated.self) { received in
                    try await Task.sleep(for: .milliseconds(2))
                    await handled.append((name, received.event.todoID))
                }
                let consumer = try EventConsumer(
                    redis: redis,
                    configuration: .init(stream: stream, group: "g", consumerName: name, startPosition: .beginning, batchSize: 5),
                    handlers: handlers)
                tasks.append(start(consumer))
            }
            try await Task.sleep(for: .milliseconds(200))
            let events = (0..<300).map { makeTodo($0) as any DomainEvent }
            for chunk in stride(from: 0, to: events.count, by: 20) {
                try await publisher.publish(Array(events[chunk..<min(chunk + 20, events.count)]))
            }
            #expect(try await eventually { await handled.count >= 300 })
            // Every entry acknowledged: no delivery can come after this.
            #expect(try await eventually { try await pendingCount(fixture.client, stream, "g") == 0 })
            let values = await handled.values
            #expect(values.count == 300, "no event handled twice")
            #expect(Set(values.map(\.todo)).count == 300)
            #expect(Set(values.map(\.consumer)) == ["worker-a", "worker-b"], "both consumers shared the work")
            await stop(tasks)
        }
    }

    @Test(arguments: RedisBackend.allCases)
    func aFailingHandlerLeavesItsEventPending(_ backend: RedisBackend) async throws {
        try await withBackendFixture(backend) { fixture in
            let handled = Recorder<String>()
            var handlers = EventHandlers()
            handlers.on(TodoCreated.self) { received in
                if received.event.title == "Task 3" { throw TestFailure(description: "mail server down") }
                await handled.append(received.event.todoID)
            }
            let task = start(
                try EventConsumer(redis: fixture.redis, configuration: fixture.configuration(group: "g", consumer: "c"), handlers: handlers))
            var ids: [StreamEntryID] = []
            for index in 0..<6 { ids.append(try await fixture.publisher.publish(makeTodo(index))) }
            #expect(try await eventually { await handled.count == 5 })
            #expect(try await eventually { try await fixture.pending("g") == 1 })
            let pending = try await fixture.client.send("XPENDING", fixture.streamKey(of: "todo-3"), "g", "-", "+", "10")
            #expect(pending.array?.first?.array?.first?.string == ids[3].description)
            await stop([task])
        }
    }

    @Test func aGroupThatWantsSomeTypesAcknowledgesTheOthers() async throws {
        try await withStreamFixture { fixture in
            let (handled, task) = try fixture.startRecordingConsumer(.init(
                        stream: fixture.stream, group: "g", consumerName: "c", startPosition: .beginning,
                        unhandledTypes: .acknowledge))
            try await fixture.publisher.publish(TodoCompleted(todoID: "x"))  // not wanted here
            try await fixture.publisher.publish(makeTodo(1))
            #expect(try await eventually { await handled.count == 1 })
            #expect(try await eventually { try await pendingCount(fixture.client, fixture.stream, "g") == 0 })
            await stop([task])
        }
    }

    @Test func eventsOfOneAggregateAreHandledInOrder() async throws {
        try await withStreamFixture { fixture in
            let (redis, stream, publisher) = (fixture.redis, fixture.stream, fixture.publisher)
            let handled = Recorder<(String, Int)>()
            var handlers = EventHandlers()
            handlers.on(TodoCreated.self) { received in
                try await Task.sleep(for: .microseconds(Int.random(in: 0..<500)))
                await handled.append((received.event.todoID, received.event.priority))
            }
            let task = start(
                try EventConsumer(
                    redis: redis,
                    configuration: .init(stream: stream, group: "g", consumerName: "c", startPosition: .beginning, maxInFlight: 8),
                    handlers: handlers))
            var batch: [any DomainEvent] = []
            for sequence in 0..<40 {
                for aggregate in 0..<5 {
                    batch.append(TodoCreated(todoID: "agg-\(aggregate)", userID: "u", title: "t", priority: sequence))
                }
            }
            try await publisher.publish(batch)
            #expect(try await eventually { await handled.count == 200 })
            let values = await handled.values
            for aggregate in 0..<5 {
                #expect(values.filter { $0.0 == "agg-\(aggregate)" }.map(\.1) == Array(0..<40))
            }
            await stop([task])
        }
    }

    @Test func gracefulShutdownFinishesAndAcknowledgesInFlightEvents() async throws {
        try await withStreamFixture { fixture in
            let (redis, client, stream, publisher) = (fixture.redis, fixture.client, fixture.stream, fixture.publisher)
            let started = Recorder<String>()
            let finished = Recorder<String>()
            var handlers = EventHandlers()
            handlers.on(TodoCreated.self) { received in
                await started.append(received.event.todoID)
                try? await Task.sleep(for: .milliseconds(300))  // still running when the stop arrives
                await finished.append(received.event.todoID)
            }
            let consumer = try EventConsumer(
                redis: redis, configuration: .init(stream: stream, group: "g", consumerName: "c", startPosition: .beginning),
                handlers: handlers)
            try await testGracefulShutdown { trigger in
                let group = ServiceGroup(services: [consumer], logger: .init(label: "test"))
                let running = Task { try await group.run() }
                for index in 0..<3 { try await publisher.publish(makeTodo(index)) }
                #expect(try await eventually { await started.count == 3 })
                trigger.triggerGracefulShutdown()
                try await running.value
            }
            #expect(await finished.count == 3)
            #expect(try await pendingCount(client, stream, "g") == 0)
        }
    }

    @Test func aRestartedConsumerFirstReadsItsOwnPendingEvents() async throws {
        try await withStreamFixture { fixture in
            let (redis, client, stream, publisher) = (fixture.redis, fixture.client, fixture.stream, fixture.publisher)
            let configuration = EventConsumer.Configuration(stream: stream, group: "g", consumerName: "same-name", startPosition: .beginning)
            var failing = EventHandlers()
            failing.on(TodoCreated.self) { _ in throw TestFailure(description: "down") }
            let first = start(try EventConsumer(redis: redis, configuration: configuration, handlers: failing))
            try await publisher.publish(makeTodo(1))
            #expect(try await eventually { try await pendingCount(client, stream, "g") == 1 })
            first.cancel()
            _ = await first.result

            let handled = Recorder<String>()
            var working = EventHandlers()
            working.on(TodoCreated.self) { await handled.append($0.event.todoID) }
            let second = start(try EventConsumer(redis: redis, configuration: configuration, handlers: working))
            #expect(try await eventually { await handled.count == 1 })
            #expect(try await eventually { try await pendingCount(client, stream, "g") == 0 })
            await stop([second])
        }
    }

    @Test func aDestroyedGroupIsCreatedAgain() async throws {
        try await withStreamFixture { fixture in
            let (client, stream, publisher) = (fixture.client, fixture.stream, fixture.publisher)
            let (handled, task) = try fixture.startRecordingConsumer(.init(
                        stream: stream, group: "g", consumerName: "c", startPosition: .beginning,
                        blockTimeout: .milliseconds(50)))
            try await publisher.publish(makeTodo(1))
            #expect(try await eventually { await handled.count == 1 })
            try await client.send("XGROUP", "DESTROY", stream, "g")
            #expect(try await eventually { (try? await client.send("XINFO", "GROUPS", stream))?.array?.count == 1 })
            try await publisher.publish(makeTodo(2))
            #expect(try await eventually { await handled.count == 2 })
            await stop([task])
        }
    }

    @Test func survivesARedisRestart() async throws {
        try await withStreamFixture(persistence: true) { fixture in
            let (stream, publisher) = (fixture.stream, fixture.publisher)
            let (handled, task) = try fixture.startRecordingConsumer(.init(
                        stream: stream, group: "g", consumerName: "c", startPosition: .beginning,
                        blockTimeout: .milliseconds(100)))
            try await publisher.publish(makeTodo(1))
            #expect(try await eventually { await handled.count == 1 })
            try await fixture.server.restart()
            #expect(try await eventually { (try? await publisher.publish(makeTodo(2))) != nil })
            #expect(try await eventually { await handled.count == 2 })
            await stop([task])
        }
    }

    @Test func concurrentPublishersArePipelined() async throws {
        try await withLocalRedisServer { server in
            let client = try RedisClient(url: server.url)
            defer { client.close() }
            let stream = uniqueStream()
            let publisher = EventPublisher(client: client, configuration: .init(streamName: { _ in stream }))
            _ = try await client.ping()
            let before = client.statistics
            let unblocker = try RedisClient(url: server.url)
            defer { unblocker.close() }
            try await withThrowingTaskGroup(of: Void.self) { group in
                // Hold the connection busy, as a slow round trip under load would, until every
                // publish is queued behind it: they must go out together in the next round trips.
                group.addTask { try await client.send(RedisCommand("BLPOP", "release", "60"), timeout: .seconds(90)) }
                #expect(try await eventually { client.statistics.commandsSent - before.commandsSent == 1 })
                for index in 0..<1000 {
                    group.addTask { try await publisher.publish(makeTodo(index)) }
                }
                #expect(try await eventually(timeout: .seconds(60)) { client.statistics.queued >= 1000 })
                try await unblocker.send("LPUSH", "release", "now")
                try await group.waitForAll()
            }
            let after = client.statistics
            #expect(try await client.xlen(stream) == 1000)
            #expect(after.commandsSent - before.commandsSent == 1001)
            #expect(after.roundTrips - before.roundTrips <= 100, "\(after.roundTrips - before.roundTrips) round trips")
            // The server agrees: 1000 XADD calls arrived.
            let info = try await client.send("INFO", "commandstats").string ?? ""
            #expect(info.contains("cmdstat_xadd:calls=1000,"))
        }
    }
}

@Suite("Consumer concurrency")
struct ConsumerConcurrencyTests {
    @Test func slowHandlersOfDifferentAggregatesRunConcurrently() async throws {
        try await withStreamFixture { fixture in
            let (redis, stream, publisher) = (fixture.redis, fixture.stream, fixture.publisher)
            let handled = Recorder<String>()
            let running = Concurrency()
            var handlers = EventHandlers()
            handlers.on(TodoCreated.self) { received in
                await running.enter()
                try await Task.sleep(for: .milliseconds(100))  // a slow webhook, say
                await running.leave()
                await handled.append(received.event.todoID)
            }
            try await publisher.publish((0..<16).map { makeTodo($0) })
            let task = start(
                try EventConsumer(
                    redis: redis,
                    configuration: .init(stream: stream, group: "g", consumerName: "c", startPosition: .beginning, maxInFlight: 8),
                    handlers: handlers))
            #expect(try await eventually { await handled.count == 16 })
            // Several handlers ran at the same time (never more than maxInFlight).
            let most = await running.most
            #expect(most > 1 && most <= 8, "at most \(most) at a time")
            await stop([task])
        }
    }
}

/// Counts handlers running at once and remembers the most.
actor Concurrency {
    private var now = 0
    private(set) var most = 0
    func enter() {
        now += 1
        most = max(most, now)
    }
    func leave() { now -= 1 }
}
