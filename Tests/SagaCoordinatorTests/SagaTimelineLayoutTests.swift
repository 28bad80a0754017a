import EventBus
import LocalRedisServer
import Logging
import OrderEvents
import RedisClient
import SagaCoordinatorService
import SagaRuntime
import Testing

/// Order sagas stored before one hash field per step (`step.<n>`): the whole timeline in
/// the single field `steps`. Their replies must go on advancing the timeline to the end.
@Suite("Saga timelines in the one-field layout")
struct SagaTimelineLayoutTests {
    /// An `order.created`'s data (its first version's fields), as an order saga starts with.
    static let orderData =
        #"{"order_id":"x","user_id":"u","items":[{"sku":"s","quantity":1}],"amount_cents":1,"card":"4242424242424242","created_at":"2026-12-01T00:00:00Z"}"#

    static func reply(_ type: String, step: Int, id: String) -> EventEnvelope {
        EventEnvelope(
            eventID: "r-\(id)-\(step)", eventType: type, eventVersion: 1, aggregateType: "t", aggregateID: id,
            timestampMicroseconds: 0, correlationID: id, causationID: id,
            metadata: ["saga_id": id, "saga_type": "order", "saga_step": "\(step)"])
    }

    @Test func anOrderSagaStoredAsOneFieldAdvancesItsTimelineToTheEnd() async throws {
        try await withLocalRedisServer { server in
            let client = try RedisClient(url: server.url)
            defer { client.close() }
            // No cached state: every input reads the stored hash back, as after a restart.
            let coordinator = SagaCoordinator(
                definition: OrderSaga.definition(), client: client, publisher: EventPublisher(client: client),
                makeCommand: OrderSaga.makeCommand, logger: Logger(label: "layout"), stateCacheCapacity: 0)
            let store = coordinator.store
            _ = try await coordinator.start(id: "l1", data: Self.orderData, correlationID: "l1", causationID: "l1")
            let started = try #require(try await store.load("l1"))
            #expect(started.steps.count == 4)

            // The hash as written before one field per step: the whole timeline in `steps`.
            var timeline: [UInt8] = []
            try EventDataEncoder().encode(started.steps, into: &timeline)
            _ = try await client.send(RedisCommand("HDEL", arguments: [store.stateKey("l1")] + (0..<4).map { "step.\($0)" }))
            _ = try await client.send("HSET", store.stateKey("l1"), "steps", String(decoding: timeline, as: UTF8.self))
            #expect(try await store.load("l1") == started)

            // Step 0 (create-order, done at the start) is never rewritten by a reply.
            let replies = [(1, InventoryReserved.eventType), (2, PaymentCharged.eventType), (3, OrderConfirmed.eventType)]
            for (step, type) in replies {
                guard case .changed = try await coordinator.reply(Self.reply(type, step: step, id: "l1")) else {
                    Issue.record("\(type) was ignored")
                    return
                }
                let state = try #require(try await store.load("l1"))
                #expect(state.steps[step].status == .succeeded && state.steps[step].reply == type, "step \(step): \(state.steps[step])")
                if step < 3 {
                    #expect(state.steps[step + 1].status == .running && state.steps[step + 1].sentAtMs != nil, "\(state.steps[step + 1])")
                }
            }
            let done = try #require(try await store.load("l1"))
            #expect(done.status == .completed)
            #expect(done.steps.map(\.status) == [.succeeded, .succeeded, .succeeded, .succeeded])
            #expect(done.steps.map(\.reply) == ["started", InventoryReserved.eventType, PaymentCharged.eventType, OrderConfirmed.eventType])
        }
    }
}
