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
}
