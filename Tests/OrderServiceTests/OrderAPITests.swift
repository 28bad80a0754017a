import EventBus
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import OrderEvents
import OrderService
import PaymentCards
import RedisClient
import SagaRuntime
import TestSupport
import Testing

/// The order HTTP API against a real redis-server: the order and its `order.created`
/// written together, every refusal (and nothing written for it), idempotency keys, Redis
/// down, a key of the wrong type, and the order with its saga.
@Suite("order-service HTTP API")
struct OrderAPITests {
    typealias H = OrderHarness

    @Test func anOrderIsWrittenWithItsEventAndAnswered202() async throws {
        try await H.run(sagaCoordinator: true) { h in
            let response = try await h.post(H.json(H.validBody), headers: [H.correlationHeader: "flow-1"])
            #expect(response.status == .accepted)
            #expect(response.headers[H.correlationHeader] == "flow-1")
            let body = H.object(response)
            let id = try #require(body["id"] as? String)
            #expect(Set(body.keys) == ["id", "status"])
            #expect(body["status"] as? String == "pending")
            #expect(UUID(uuidString: id)?.uuidString.lowercased() == id)

            let hash = try await h.hash(id)
            #expect(hash["status"] == "pending")
            #expect(hash["user_id"] == "alice")
            #expect(hash["amount_cents"] == "4999")
            #expect(hash["card_last4"] == "4242")
            #expect(hash["reason"] == "")
            let items = try JSONSerialization.jsonObject(with: Data((hash["items"] ?? "").utf8)) as? [[String: Any]]
            #expect(items?.map { $0["sku"] as? String } == ["sku-1", "sku-2"])
            #expect(items?.map { $0["quantity"] as? Int } == [2, 1])
            // The card number is never stored with the order.
            #expect(!hash.values.contains { $0.contains("4242424242424242") })

            let entries = try await h.redis.xrange(OrderStreams.orderEvents)
            #expect(entries.count == 1)
            let entry = try #require(entries.first)
            #expect(entry.string(named: "event_type") == "order.created")
            #expect(entry.string(named: "aggregate_type") == "order")
            #expect(entry.string(named: "aggregate_id") == id)
            #expect(entry.string(named: "correlation_id") == "flow-1")
            #expect(entry.string(named: "causation_id")?.hasPrefix("req-") == true)
            let created = try EventDataDecoder().decode(OrderCreated.self, from: Array((entry.string(named: "data") ?? "").utf8))
            #expect(created.orderID == id && created.userID == "alice" && created.amountCents == 4999)
            #expect(created.items == [OrderItem(sku: "sku-1", quantity: 2), OrderItem(sku: "sku-2", quantity: 1)])
            // No card number on the bus: its last four digits, and a token only payment-service's key opens.
            #expect(created.cardLast4 == "4242" && created.legacyCard == nil)
            #expect(entry.string(named: "event_version") == "2")
            #expect(!(entry.string(named: "data") ?? "").contains("4242424242424242"))
            let token = try #require(created.paymentToken)
            #expect(try PaymentCardToken.open(token, orderID: id, with: H.cardKey) == "4242424242424242")
            #expect(RFC3339.string(from: created.createdAt) == hash["created_at"])

            // Read back, before any saga exists.
            let fetched = try await h.get(id)
            #expect(fetched.status == .ok)
            let order = H.object(fetched)
            #expect(Set(order.keys) == ["id", "status", "user_id", "items", "amount_cents", "created_at", "saga"])
            #expect(order["status"] as? String == "pending")
            #expect(order["amount_cents"] as? Int == 4999)
            #expect(order["created_at"] as? String == hash["created_at"])
            #expect((order["items"] as? [[String: Any]])?.count == 2)
            #expect(order["saga"] is NSNull)
        }
    }

    @Test func valuesAtTheLimitsAreAccepted() async throws {
        try await H.run { h in
            let items = (0..<100).map { ["sku": "s\($0)" + String(repeating: "k", count: $0 == 0 ? 126 : 0), "quantity": 10_000] }
            for card in ["123456789012", "1234567890123456789"] {
                let body: [String: Any] = [
                    "user_id": String(repeating: "u", count: 128), "items": items, "amount_cents": 100_000_000_00, "card": card,
                ]
                let response = try await h.post(H.json(body))
                #expect(response.status == .accepted, "\(String(buffer: response.body))")
            }
            let minimal: [String: Any] = ["user_id": "u", "items": [["sku": "a", "quantity": 1]], "amount_cents": 1, "card": "000000000000"]
            #expect(try await h.post(H.json(minimal)).status == .accepted)
            #expect(try await h.redis.xlen(OrderStreams.orderEvents) == 3)
        }
    }

    @Test func malformedBodiesAre400AndWriteNothing() async throws {
        try await H.run { h in
            func with(_ key: String, _ value: Any?) -> ByteBuffer {
                var body = H.validBody
                body[key] = value
                return H.json(body)
            }
            let cases: [(ByteBuffer, String)] = [
                (ByteBuffer(string: "{not json"), "invalid_json"),
                (ByteBuffer(string: ""), "invalid_json"),
                (H.json([1, 2]), "invalid_json"),
                (with("user_id", nil), "missing_field"),
                (with("items", nil), "missing_field"),
                (with("amount_cents", nil), "missing_field"),
                (with("card", nil), "missing_field"),
                (with("user_id", 42), "invalid_json"),
                (with("user_id", NSNull()), "invalid_json"),
                (with("items", "sku-1"), "invalid_json"),
                (with("items", [["sku": "a"]]), "missing_field"),
                (with("items", [["quantity": 1]]), "missing_field"),
                (with("items", [["sku": "a", "quantity": "2"]]), "invalid_json"),
                (with("items", [["sku": 7, "quantity": 1]]), "invalid_json"),
                (with("amount_cents", "4999"), "invalid_json"),
                // A number that is no Int (not whole, too large) is unreadable JSON for its
                // field: invalid_json, like a wrong type (the message names the field).
                (with("items", [["sku": "a", "quantity": 1.5]]), "invalid_json"),
                (with("amount_cents", 1e30), "invalid_json"),
                (with("card", 4_242_424_242_424_242), "invalid_json"),
            ]
            for (body, code) in cases {
                let response = try await h.post(body)
                #expect(response.status == .badRequest, "\(String(buffer: body).prefix(100))")
                #expect(H.error(response).code == code, "\(String(buffer: body).prefix(100)): \(String(buffer: response.body))")
            }
            #expect(try await h.redis.send("KEYS", "order:*").array?.isEmpty == true)
            #expect(try await h.redis.send("EXISTS", OrderStreams.orderEvents).int == 0)
        }
    }

    @Test func unacceptableValuesAre422NamingTheFieldAndWriteNothing() async throws {
        try await H.run { h in
            func with(_ key: String, _ value: Any) -> ByteBuffer {
                var body = H.validBody
                body[key] = value
                return H.json(body)
            }
            let many = (0...100).map { ["sku": "s\($0)", "quantity": 1] }
            let cases: [(ByteBuffer, String)] = [
                (with("user_id", ""), "user_id"),
                (with("user_id", String(repeating: "u", count: 129)), "user_id"),
                (with("items", [[String: Any]]()), "items"),
                (with("items", many), "items"),
                (with("items", [["sku": "", "quantity": 1]]), "items[0].sku"),
                (with("items", [["sku": "a", "quantity": 1], ["sku": String(repeating: "s", count: 129), "quantity": 1]]), "items[1].sku"),
                (with("items", [["sku": "a", "quantity": 1], ["sku": "b", "quantity": 1], ["sku": "a", "quantity": 2]]), "items[2].sku"),
                (with("items", [["sku": "a", "quantity": 0]]), "items[0].quantity"),
                (with("items", [["sku": "a", "quantity": -3]]), "items[0].quantity"),
                (with("items", [["sku": "a", "quantity": 10_001]]), "items[0].quantity"),
                (with("amount_cents", 0), "amount_cents"),
                (with("amount_cents", -1), "amount_cents"),
                (with("amount_cents", 100_000_000_01), "amount_cents"),
                (with("card", "42424242424"), "card"),
                (with("card", "12345678901234567890"), "card"),
                (with("card", "4242-4242-4242-4242"), "card"),
                (with("card", "42424242424a"), "card"),
                (with("card", "４２４２４２４２４２４２"), "card"),  // full-width digits are not digits here
            ]
            for (body, field) in cases {
                let response = try await h.post(body)
                let error = H.error(response)
                #expect(response.status == .unprocessableContent, "\(String(buffer: body).prefix(100))")
                #expect(error.code == "invalid_field")
                #expect(error.message.hasPrefix("field '\(field)' "), "\(String(buffer: body).prefix(100)): \(error.message)")
            }
            #expect(try await h.redis.send("KEYS", "order:*").array?.isEmpty == true)
            #expect(try await h.redis.send("EXISTS", OrderStreams.orderEvents).int == 0)
        }
    }

    @Test func anIdempotencyKeyAnswersItsOrderAgainAndRefusesAnotherBody() async throws {
        try await H.run { h in
            let key = HTTPField.Name("Idempotency-Key")!
            let first = try await h.post(H.json(H.validBody), headers: [key: "checkout-1"])
            #expect(first.status == .accepted)
            let id = try #require(H.object(first)["id"] as? String)
            let again = try await h.post(H.json(H.validBody), headers: [key: "checkout-1"])
            #expect(again.status == .ok)
            #expect(H.object(again)["id"] as? String == id)
            #expect(H.object(again)["status"] as? String == "pending")

            var other = H.validBody
            other["amount_cents"] = 5000
            let reused = try await h.post(H.json(other), headers: [key: "checkout-1"])
            #expect(reused.status == .unprocessableContent)
            #expect(H.error(reused).code == "idempotency_key_reused")
            let invalid = try await h.post(H.json(H.validBody), headers: [key: "has space"])
            #expect(invalid.status == .unprocessableContent)
            #expect(H.error(invalid).message.hasPrefix("field 'Idempotency-Key'"))

            // One order, one event; the record expires and keeps no card number.
            #expect(try await h.redis.xlen(OrderStreams.orderEvents) == 1)
            let record = try await h.redis.hgetall("order:idempotency:checkout-1")
            #expect(record["order_id"] == id)
            #expect(record["fingerprint"]?.count == 40)
            #expect(!record.values.contains { $0.contains("4242424242424242") })
            let ttl = try await h.redis.send("TTL", "order:idempotency:checkout-1").int ?? -1
            #expect(ttl > 0 && ttl <= 86_400)

            // A replay answers the order's current status.
            try await h.send(OrderConfirm(orderID: id), sagaID: id)
            _ = try await h.waitForReplies(id, count: 1)
            let later = try await h.post(H.json(H.validBody), headers: [key: "checkout-1"])
            #expect(later.status == .ok)
            #expect(H.object(later)["status"] as? String == "confirmed")
            #expect(try await h.redis.xlen(OrderStreams.orderEvents) == 2)  // order.created, order.confirmed

            // Another key is another order.
            let second = try await h.post(H.json(H.validBody), headers: [key: "checkout-2"])
            #expect(second.status == .accepted)
            #expect(H.object(second)["id"] as? String != id)
        }
    }

    @Test func redisDownIsAnswered503AndTheServiceRecoversWhenItIsBack() async throws {
        try await H.run { h in
            await h.server.stop()
            let down = try await h.post(H.json(H.validBody))
            #expect(down.status == .serviceUnavailable)
            #expect(H.error(down).code == "redis_unavailable")
            #expect(try await h.get(UUID().uuidString.lowercased()).status == .serviceUnavailable)
            try await h.server.restart()
            #expect(try await eventually { try await h.post(H.json(H.validBody)).status == .accepted })
        }
    }

    @Test func aStreamKeyOfTheWrongTypeRefusesTheOrderAndWritesNoState() async throws {
        try await H.run { h in
            try await h.redis.send("SET", OrderStreams.orderEvents, "not a stream")
            let refused = try await h.post(H.json(H.validBody), headers: [HTTPField.Name("Idempotency-Key")!: "k"])
            #expect(refused.status == .internalServerError)
            #expect(H.error(refused).code == "internal_error")
            let requestID = try #require(refused.headers[HTTPField.Name("X-Request-ID")!])
            #expect(H.error(refused).message.contains(requestID))
            #expect(!H.error(refused).message.contains("WRONGTYPE"))
            // No order (and no idempotency record) without its event.
            #expect(try await h.redis.send("KEYS", "order:*").array?.isEmpty == true)
            #expect(try await h.redis.send("GET", OrderStreams.orderEvents).string == "not a stream")

            try await h.redis.send("DEL", OrderStreams.orderEvents)
            #expect(try await h.post(H.json(H.validBody)).status == .accepted)
            #expect(try await h.redis.xlen(OrderStreams.orderEvents) == 1)
        }
    }

    @Test func anOrderIsShownWithItsSagaTimeline() async throws {
        try await H.run(sagaCoordinator: true) { h in
            let id = try await h.createOrder()
            // The coordinator's record of the saga, written through its store.
            var saga = SagaState(id: id)
            saga.status = .compensating
            saga.version = 1
            saga.reason = "payment.declined"
            saga.startedAtMs = 1_795_000_000_000
            saga.updatedAtMs = 1_795_000_000_500
            var reserve = SagaStepRecord(name: "reserve-inventory")
            reserve.status = .compensating
            reserve.command = "inventory.reserve"
            reserve.sentAtMs = 1_795_000_000_123
            reserve.reply = "inventory.reserved"
            reserve.repliedAtMs = 1_795_000_000_200
            reserve.compensation = "inventory.release"
            reserve.compensationSentAtMs = 1_795_000_000_500
            reserve.compensationSends = 1
            var charge = SagaStepRecord(name: "charge-payment")
            charge.status = .failed
            charge.command = "payment.charge"
            charge.sentAtMs = 1_795_000_000_250
            charge.reply = "payment.declined"
            charge.repliedAtMs = 1_795_000_000_400
            saga.steps = [reserve, charge, SagaStepRecord(name: "confirm-order")]
            let store = SagaStore(type: "order", client: h.redis)
            #expect(try await store.commit(saga, expectedVersion: 0, commands: [], deadline: nil, event: "test") == .committed)

            let order = H.object(try await h.get(id))
            let shown = try #require(order["saga"] as? [String: Any])
            #expect(shown["id"] as? String == id)
            #expect(shown["state"] as? String == "compensating")
            let steps = try #require(shown["steps"] as? [[String: Any]])
            #expect(steps.map { $0["name"] as? String } == ["reserve-inventory", "charge-payment", "confirm-order"])
            #expect(steps[0]["status"] as? String == "compensating")
            #expect(steps[0]["command"] as? String == "inventory.reserve")
            #expect(steps[0]["sent_at"] as? String == "2026-11-18T11:06:40.123000Z")
            #expect(steps[0]["reply"] as? String == "inventory.reserved")
            #expect(steps[0]["replied_at"] as? String == "2026-11-18T11:06:40.200000Z")
            #expect(steps[0]["compensation"] as? String == "inventory.release")
            #expect(steps[0]["compensation_sent_at"] as? String == "2026-11-18T11:06:40.500000Z")
            #expect(steps[0]["compensation_sends"] as? Int == 1)
            #expect(steps[0]["compensation_reply"] == nil && steps[0]["compensated_at"] == nil)
            #expect(steps[1]["status"] as? String == "failed")
            #expect(steps[1]["reply"] as? String == "payment.declined")
            // A step not reached shows only what it has.
            #expect(Set(steps[2].keys) == ["name", "status", "compensation_sends"])
            #expect(steps[2]["status"] as? String == "pending")
            #expect(order["saga_unavailable"] == nil)
        }
    }

    @Test func anOrderIsShownWithoutItsSagaWhenTheCoordinatorCannotBeAsked() async throws {
        try await H.run { h in
            let id = try await h.createOrder()
            let response = try await h.get(id)
            #expect(response.status == .ok)
            let order = H.object(response)
            #expect(order["id"] as? String == id && order["saga"] is NSNull)
            #expect((order["saga_unavailable"] as? String)?.contains("saga-coordinator did not answer") == true, "\(order)")
        }
    }

    @Test func unknownOrdersAre404() async throws {
        try await H.run { h in
            for id in [UUID().uuidString.lowercased(), UUID().uuidString, "not-an-order", "idempotency:k"] {
                let response = try await h.get(id)
                #expect(response.status == .notFound, "\(id)")
                #expect(H.error(response).code == "not_found")
            }
        }
    }

    @Test func operationalRoutesAreThere() async throws {
        try await H.run { h in
            #expect(try await h.http.execute(uri: "/health", method: .get).status == .ok)
            #expect(try await eventually { try await h.http.execute(uri: "/ready", method: .get).status == .ok })
            _ = try await h.createOrder()
            let metrics = String(buffer: try await h.http.execute(uri: "/metrics", method: .get).body)
            #expect(metrics.contains("http_request"))
        }
    }
}
