import EventBus
import Foundation
import LocalRedisServer
import Logging
import OrderEvents
import RedisClient
import SagaCoordinatorService
import SagaRuntime
import TestSupport
import Testing

/// An ended saga's state expires after the retention; from then on it is counted in no
/// status: not by the coordinator's store, nor its sampler's gauge, nor `streamsctl sagas`.
@Suite("Saga status counts past the retention")
struct SagaStatusRetentionTests {
    @Test(arguments: [SagaStatus.completed, .failed])
    func anEndedSagaIsNoLongerCountedOnceItsStateExpired(_ end: SagaStatus) async throws {
        try await withLocalRedisServer { server in
            let client = try RedisClient(url: server.url)
            defer { client.close() }
            let coordinator = SagaCoordinator(
                definition: OrderSaga.definition(OrderSaga.Timing(maxCompensationAttempts: 1)), client: client,
                publisher: EventPublisher(client: client), makeCommand: OrderSaga.makeCommand, logger: Logger(label: "retention"),
                stateCacheCapacity: 0, endedRetention: .seconds(15))
            let id = "e-\(end.rawValue)"
            _ = try await coordinator.start(id: id, data: SagaTimelineLayoutTests.orderData, correlationID: id, causationID: id)
            if end == .completed {
                for (step, type) in [(1, InventoryReserved.eventType), (2, PaymentCharged.eventType), (3, OrderConfirmed.eventType)] {
                    _ = try await coordinator.reply(SagaTimelineLayoutTests.reply(type, step: step, id: id))
                }
            } else {
                // The reservation times out; its release, sent once, is never acknowledged.
                _ = try await coordinator.deadline(SagaStore.deadlineMember(id: id, step: 1, version: 1))
                _ = try await coordinator.deadline(SagaStore.deadlineMember(id: id, step: 1, version: 2))
            }
            // Checked within the retention (15 s: a loaded full run stalled this process for more
            // than 5 s between two commands; 300 ms was overrun too).
            #expect(try await coordinator.store.load(id)?.status == end)
            #expect(try await coordinator.store.counts()[end] == 1)

            // The state expires.
            #expect(try await eventually(timeout: .seconds(60)) { try await client.send("EXISTS", coordinator.store.stateKey(id)).int == 0 })
            // The coordinator's store knows the retention: its counts leave the saga out.
            #expect(try await eventually(timeout: .seconds(30)) { try await coordinator.store.counts()[end] == 0 })
            // Its sampler removes it from the status set, so that a reader that does not know
            // the retention (streamsctl) no longer counts it either.
            let sampler = SagaStatusSampler(store: coordinator.store, interval: .milliseconds(20), logger: Logger(label: "retention"))
            let sampling = Task { try await sampler.run() }
            defer { sampling.cancel() }
            let reader = SagaStore(type: "order", client: client)
            #expect(try await eventually(timeout: .seconds(30)) { try await reader.counts()[end] == 0 })
            #expect(try await reader.ids(in: end, limit: 10).isEmpty)
        }
    }
}
