import EventBus
import Foundation
import LocalRedisServer
import RedisClient
import TestSupport
import Testing

/// Issue 18, finding 2: while a consumer runs a redelivery (in its reclaim loop), it keeps
/// renewing its claims and enforcing the handler timeout.
@Suite("Redeliveries keep claims renewed and timeouts enforced")
struct RedeliveryTests {
    /// Delivery 1 fails; delivery 2 (a redelivery, run by whichever of two consumers reclaims
    /// it) takes 2.5 s, three times the entry's retry backoff (800 ms): the consumer running
    /// it must keep its claim, so the other one never takes it.
    @Test func aLongRedeliveryIsNotTakenByAnotherConsumerOfTheGroup() async throws {
        try await withStreamFixture { fixture in
            let deliveries = Recorder<Int>()
            var handlers = EventHandlers()
            handlers.on(TodoCreated.self) { received in
                await deliveries.append(received.deliveryCount)
                if received.deliveryCount == 1 { throw TestFailure(description: "first delivery fails") }
                if received.deliveryCount == 2 { try await Task.sleep(for: .milliseconds(2500)) }
            }
            var tasks: [Task<Void, Error>] = []
            for name in ["A", "B"] {
                var configuration = quickRetries(
                    .init(stream: fixture.stream, group: "g", consumerName: name, startPosition: .beginning), maxDeliveries: 10,
                    initialBackoff: .milliseconds(400))
                configuration.handlerTimeout = .seconds(60)
                tasks.append(start(try EventConsumer(redis: fixture.redis, configuration: configuration, handlers: handlers)))
            }
            try await fixture.publisher.publish(makeTodo(1))
            #expect(try await eventually(timeout: .seconds(30)) { await deliveries.values.contains(2) })
            #expect(try await eventually(timeout: .seconds(30)) { try await pendingCount(fixture.client, fixture.stream, "g") == 0 })
            #expect(await deliveries.values == [1, 2], "the redelivery was taken by the other consumer")
            await stop(tasks)
        }
    }

    /// Delivery 1 fails; delivery 2 (a redelivery) hangs: the handler timeout (300 ms)
    /// cancels it, and delivery 3 handles the event.
    @Test func aRedeliveredHandlerThatOverrunsItsTimeoutIsCancelledAndRetried() async throws {
        try await withStreamFixture { fixture in
            let seen = Recorder<String>()
            var handlers = EventHandlers()
            handlers.on(TodoCreated.self) { received in
                await seen.append("start \(received.deliveryCount)")
                switch received.deliveryCount {
                case 1: throw TestFailure(description: "first delivery fails")
                case 2:
                    do {
                        try await Task.sleep(for: .seconds(60))
                    } catch {
                        await seen.append("cancelled 2")
                        throw error
                    }
                default: break
                }
            }
            var configuration = quickRetries(
                .init(stream: fixture.stream, group: "g", consumerName: "A", startPosition: .beginning), maxDeliveries: 10)
            configuration.handlerTimeout = .milliseconds(300)
            let task = start(try EventConsumer(redis: fixture.redis, configuration: configuration, handlers: handlers))
            try await fixture.publisher.publish(makeTodo(1))
            #expect(try await eventually(timeout: .seconds(20)) { await seen.values.contains("start 3") })
            #expect(try await eventually { try await pendingCount(fixture.client, fixture.stream, "g") == 0 })
            #expect(Array(await seen.values.prefix(4)) == ["start 1", "start 2", "cancelled 2", "start 3"])
            await stop([task])
        }
    }

    /// Issue 18, finding 3, in the library: another delivery's `running` lease (left by a
    /// process that died mid-effect) outlasts the retry budget (2 deliveries, 150 ms backoff);
    /// the refused deliveries do not count, and the effect runs once, after the lease.
    @Test func deliveriesRefusedByAnotherDeliverysLeaseDoNotCountAndTheEffectRunsAfterIt() async throws {
        try await withStreamFixture { fixture in
            let (client, stream) = (fixture.client, fixture.stream)
            let guardian = IdempotencyGuard(client: client, group: "fx", window: .seconds(60), lease: .seconds(60))
            let effects = Recorder<Int>()
            var handlers = EventHandlers()
            handlers.on(TodoCreated.self) { received in
                _ = try await guardian.once(received.envelope) { await effects.append(received.deliveryCount) }
            }
            try await fixture.publisher.publish(makeTodo(1))
            let eventID = try #require(try await client.xrange(stream).first?.string(named: "event_id"))
            try await client.send(RedisCommand("SET", "fx:processed:\(eventID)", "running", "PX", "1500"))
            let configuration = quickRetries(
                .init(stream: stream, group: "g", consumerName: "c", startPosition: .beginning), maxDeliveries: 2)
            let task = start(try EventConsumer(redis: fixture.redis, configuration: configuration, handlers: handlers))
            let settled = try await eventually(timeout: .seconds(20)) {
                let deadLettered = try await deadLetters(client, stream, "g").count
                return await effects.count == 1 || deadLettered > 0
            }
            #expect(settled)
            #expect(try await deadLetters(client, stream, "g").isEmpty)
            #expect(try await eventually { try await pendingCount(client, stream, "g") == 0 })
            #expect(await effects.count == 1)
            await stop([task])
        }
    }
}
