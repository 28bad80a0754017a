import EventBus
import Foundation
import OrderEvents
import OrderService
import RedisClient
import SagaRuntime
import TestSupport
import Testing

/// The saga's commands to order-service, written to `order-commands` as the coordinator
/// writes them: each state change happens once, every command is answered (repeats
/// too) with the saga's metadata, and nothing is lost on an unknown order or a bad key.
@Suite("order-service saga commands")
struct OrderCommandTests {
    typealias H = OrderHarness

    @Test func confirmConfirmsAPendingOrderAndRepliesWithTheSagaMetadata() async throws {
        try await H.run { h in
            let id = try await h.createOrder()
            let commandID = try await h.send(OrderConfirm(orderID: id), sagaID: id, step: 2, correlationID: "flow-7")
            let reply = try #require(try await h.waitForReplies(id, count: 1).first)
            #expect(try await h.hash(id)["status"] == "confirmed")
            #expect(reply.string(named: "event_type") == "order.confirmed")
            #expect(reply.string(named: "meta.saga_id") == id)
            #expect(reply.string(named: "meta.saga_type") == "order")
            #expect(reply.string(named: "meta.saga_step") == "2")
            #expect(reply.string(named: "correlation_id") == "flow-7")
            let command = try #require(try await h.redis.xrange(OrderStreams.orderCommands, from: "\(commandID)", to: "\(commandID)").first)
            #expect(reply.string(named: "causation_id") == command.string(named: "event_id"))
            let confirmed = try EventDataDecoder().decode(OrderConfirmed.self, from: Array((reply.string(named: "data") ?? "").utf8))
            #expect(confirmed == OrderConfirmed(
                orderID: id, userID: "alice", items: [OrderItem(sku: "sku-1", quantity: 2), OrderItem(sku: "sku-2", quantity: 1)],
                amountCents: 4999))
            let shown = H.object(try await h.get(id))
            #expect(shown["status"] as? String == "confirmed")
            #expect(shown["reason"] == nil)
        }
    }

    @Test func aSecondConfirmChangesNothingAndIsAnsweredAgain() async throws {
        try await H.run { h in
            let id = try await h.createOrder()
            try await h.send(OrderConfirm(orderID: id), sagaID: id)
            _ = try await h.waitForReplies(id, count: 1)
            let confirmedAt = try #require(try await h.hash(id)["confirmed_at"])
            try await h.send(OrderConfirm(orderID: id), sagaID: id)
            let replies = try await h.waitForReplies(id, count: 2)
            #expect(replies.map { $0.string(named: "event_type") } == ["order.confirmed", "order.confirmed"])
            #expect(replies.allSatisfy { $0.string(named: "meta.saga_id") == id })
            let hash = try await h.hash(id)
            #expect(hash["status"] == "confirmed")
            #expect(hash["confirmed_at"] == confirmedAt)  // one state change
        }
    }

    @Test func cancelCancelsAPendingOrderWithTheReason() async throws {
        try await H.run { h in
            let id = try await h.createOrder()
            try await h.send(OrderCancel(orderID: id, reason: "payment.declined: card expired"), sagaID: id, step: 2)
            let reply = try #require(try await h.waitForReplies(id, count: 1).first)
            #expect(reply.string(named: "event_type") == "order.cancelled")
            #expect(reply.string(named: "meta.saga_step") == "2")
            #expect(H.data(reply)["reason"] as? String == "payment.declined: card expired")
            let hash = try await h.hash(id)
            #expect(hash["status"] == "cancelled")
            #expect(hash["reason"] == "payment.declined: card expired")
            let shown = H.object(try await h.get(id))
            #expect(shown["status"] as? String == "cancelled")
            #expect(shown["reason"] as? String == "payment.declined: card expired")
        }
    }

    @Test func cancelCancelsAConfirmedOrder() async throws {
        try await H.run { h in
            let id = try await h.createOrder()
            try await h.send(OrderConfirm(orderID: id), sagaID: id)
            _ = try await h.waitForReplies(id, count: 1)
            try await h.send(OrderCancel(orderID: id, reason: "confirm timed out"), sagaID: id)
            let replies = try await h.waitForReplies(id, count: 2)
            #expect(replies.map { $0.string(named: "event_type") } == ["order.confirmed", "order.cancelled"])
            #expect(try await h.hash(id)["status"] == "cancelled")
            #expect(try await h.hash(id)["reason"] == "confirm timed out")
        }
    }

    @Test func aSecondCancelKeepsTheFirstReasonAndIsAnsweredAgain() async throws {
        try await H.run { h in
            let id = try await h.createOrder()
            try await h.send(OrderCancel(orderID: id, reason: "first"), sagaID: id)
            _ = try await h.waitForReplies(id, count: 1)
            let cancelledAt = try #require(try await h.hash(id)["cancelled_at"])
            try await h.send(OrderCancel(orderID: id, reason: "second"), sagaID: id)
            let replies = try await h.waitForReplies(id, count: 2)
            #expect(replies.map { $0.string(named: "event_type") } == ["order.cancelled", "order.cancelled"])
            #expect(replies.map { H.data($0)["reason"] as? String } == ["first", "first"])
            let hash = try await h.hash(id)
            #expect(hash["reason"] == "first" && hash["cancelled_at"] == cancelledAt)
        }
    }

    @Test func confirmAfterCancelIsRejectedAndTheOrderStaysCancelled() async throws {
        try await H.run { h in
            let id = try await h.createOrder()
            try await h.send(OrderCancel(orderID: id, reason: "inventory.out_of_stock"), sagaID: id, step: 2)
            _ = try await h.waitForReplies(id, count: 1)
            try await h.send(OrderConfirm(orderID: id), sagaID: id, step: 2)
            let replies = try await h.waitForReplies(id, count: 2)
            let rejected = try #require(replies.last)
            #expect(rejected.string(named: "event_type") == "order.confirm_rejected")
            #expect(H.data(rejected)["reason"] as? String == "order was cancelled: inventory.out_of_stock")
            #expect(rejected.string(named: "meta.saga_step") == "2")
            #expect(try await h.hash(id)["status"] == "cancelled")
            #expect(try await h.hash(id)["confirmed_at"] == nil)
        }
    }

    @Test func aCommandForAnUnknownOrderIsRetriedThenDeadLettered() async throws {
        try await H.run { h in
            let unknown = UUID().uuidString.lowercased()
            try await h.send(OrderConfirm(orderID: unknown), sagaID: unknown)
            // A type the service does not handle is not dropped either.
            try await h.send(InventoryRelease(orderID: unknown), sagaID: unknown)
            let dlq = DeadLetter.streamKey(stream: OrderStreams.orderCommands, group: OrderCommandHandlers.group)
            #expect(try await eventually { try await h.redis.xlen(dlq) == 2 })
            let letters = try await h.redis.xrange(dlq)
            let failed = try #require(letters.first { $0.string(named: "event_type") == "order.confirm" })
            #expect(failed.string(named: "dlq_reason") == "max_deliveries")
            #expect(failed.string(named: "dlq_deliveries") == "3")
            #expect(failed.string(named: "dlq_error")?.contains("order \(unknown) does not exist") == true)
            #expect(letters.contains { $0.string(named: "dlq_reason") == "unknown_type" })
            #expect(try await h.commandsHandled())
            #expect(try await h.replies(unknown).isEmpty)
            #expect(try await h.redis.send("EXISTS", "order:\(unknown)").int == 0)
        }
    }

    @Test func anOrderKeyOfTheWrongTypeFailsTheCommandAndWritesNothing() async throws {
        try await H.run { h in
            let id = UUID().uuidString.lowercased()
            try await h.redis.send("SET", "order:\(id)", "not an order")
            try await h.send(OrderCancel(orderID: id, reason: "r"), sagaID: id)
            let dlq = DeadLetter.streamKey(stream: OrderStreams.orderCommands, group: OrderCommandHandlers.group)
            #expect(try await eventually { try await h.redis.xlen(dlq) == 1 })
            let letter = try #require(try await h.redis.xrange(dlq).first)
            #expect(letter.string(named: "dlq_error")?.contains("WRONGTYPE order:\(id) is a string") == true)
            #expect(try await h.redis.send("GET", "order:\(id)").string == "not an order")
            #expect(try await h.replies(id).isEmpty)
            // A hash that is not an order is refused the same way.
            let other = UUID().uuidString.lowercased()
            try await h.redis.send("HSET", "order:\(other)", "status", "shipped")
            try await h.send(OrderConfirm(orderID: other), sagaID: other)
            #expect(try await eventually { try await h.redis.xlen(dlq) == 2 })
            #expect(try await h.redis.hgetall("order:\(other)") == ["status": "shipped"])
        }
    }
}
