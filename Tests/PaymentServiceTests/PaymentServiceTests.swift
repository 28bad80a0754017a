import EventBus
import Foundation
import Hummingbird
import HummingbirdTesting
import LocalRedisServer
import Logging
import OrderEvents
import PaymentService
import PaymentCards
import RedisClient
import SagaRuntime
import SagaTestSupport
import ServiceKit
import TestSupport
import Testing

/// payment-service as its `main` runs it (`buildApplication`), against a private
/// redis-server, driven the way the saga coordinator drives it: command envelopes written
/// to `payment-commands` (with `meta.saga_*`), replies read back from `payment-events`.
@Suite("payment-service")
struct PaymentServiceTests {
    static let card = "4242424242424242"
    /// The installation's payment card key of these tests.
    static let cardKey = PaymentCardOpeningKey.generate()
    static let environment = [
        "RETRY_INITIAL_BACKOFF_MS": "50", "RETRY_MAX_BACKOFF_MS": "100", "PAYMENT_CARD_PRIVATE_KEY": cardKey.base64URL,
    ]

    struct Harness: Sendable {
        let http: any TestClientProtocol
        let client: RedisClient
        let store: PaymentStore

        var probe: SagaParticipantProbe {
            SagaParticipantProbe(
                client: client, commandStream: OrderStreams.paymentCommands, replyStream: OrderStreams.paymentEvents,
                group: PaymentHandlers.group)
        }

        func send(_ command: some DomainEvent, saga: String) async throws {
            try await probe.send(command, saga: saga, step: 1)
        }

        /// A v2 `payment.charge`: the card sealed for this installation, as order-service seals it.
        func charge(_ orderID: String, cents: Int, card: String = PaymentServiceTests.card) async throws {
            let token = try PaymentCardToken.seal(card: card, orderID: orderID, to: PaymentServiceTests.cardKey.sealingKey)
            try await send(
                PaymentCharge(
                    orderID: orderID, userID: "alice", amountCents: cents, cardLast4: PaymentCardToken.last4(of: card),
                    paymentToken: token),
                saga: "saga-\(orderID)")
        }

        /// A `payment.charge` as written before tokens (v1: the plain card).
        func chargeV1(_ orderID: String, cents: Int, card: String) async throws {
            try await send(
                PaymentCharge(
                    orderID: orderID, userID: "alice", amountCents: cents, cardLast4: PaymentCardToken.last4(of: card),
                    paymentToken: nil, legacyCard: card),
                saga: "saga-\(orderID)")
        }

        /// A `payment.charge` whose token was made for another order or with another key.
        func chargeWithToken(_ orderID: String, cents: Int, token: String) async throws {
            try await send(
                PaymentCharge(orderID: orderID, userID: "alice", amountCents: cents, cardLast4: "4242", paymentToken: token),
                saga: "saga-\(orderID)")
        }

        func refund(_ orderID: String) async throws {
            try await send(PaymentRefund(orderID: orderID), saga: "saga-\(orderID)")
        }

        /// Waits for `count` replies about the order on `payment-events` and returns them. A
        /// command is answered once per delivery: on a loaded machine one can be delivered
        /// again (its 50 ms retry backoff passed before its acknowledgement), so there may be
        /// more replies, all alike; what was charged is checked on the payment itself.
        func awaitReplies(_ orderID: String, count: Int) async throws -> [RawEvent] {
            let all = try await probe.awaitReplies(orderID, count: count)
            #expect(all.count >= count, "\(count) replies for \(orderID)")
            return all
        }

        func payment(_ orderID: String) async throws -> Payment? { try await store.payment(orderID: orderID) }
    }

    static func withService(
        environment: [String: String] = [:], _ body: @escaping @Sendable (Harness) async throws -> Void
    ) async throws {
        try await withLocalRedisServer { server in
            let redis = try RedisConfiguration(url: server.url)
            let client = RedisClient(configuration: redis)
            defer { client.close() }
            let configuration = try PaymentServiceConfiguration(
                environment: EnvironmentReader(Self.environment.merging(environment) { $1 }))
            let app = try buildApplication(configuration: configuration, redis: redis, logger: Logger(label: "payment-test"))
            try await app.test(.router) { http in
                try await body(Harness(http: http, client: client, store: PaymentStore(client: client)))
            }
        }
    }

    static func decode<Event: DomainEvent>(_ type: Event.Type, _ raw: RawEvent) throws -> Event {
        try SagaParticipantProbe.decode(type, raw)
    }

    // MARK: Charge

    @Test func aChargeIsMadeOnceAndRepeatedWithTheSagaFields() async throws {
        try await Self.withService { service in
            try await service.charge("o1", cents: 1500)
            try await service.charge("o1", cents: 1500)  // the coordinator resends
            let replies = try await service.awaitReplies("o1", count: 2)
            for reply in replies {
                #expect(try Self.decode(PaymentCharged.self, reply) == PaymentCharged(orderID: "o1", amountCents: 1500))
                #expect(reply.envelope.metadata == ["saga_id": "saga-o1", "saga_type": "order", "saga_step": "1"])
                #expect(reply.envelope.correlationID == "flow-saga-o1")
                #expect(reply.envelope.aggregateType == "payment")
            }
            #expect(
                try await service.payment("o1")
                    == Payment(orderID: "o1", status: "charged", chargedCents: 1500, refundedCents: 0, reason: ""))
            // A resend with another amount still answers what was charged.
            try await service.charge("o1", cents: 99)
            #expect(try Self.decode(PaymentCharged.self, try await service.awaitReplies("o1", count: 3).last!).amountCents == 1500)
            // No card number is kept.
            let record = try await service.client.hgetall(PaymentStore.key("o1"))
            #expect(!record.values.contains { $0.contains(Self.card) })
            #expect(record["amount_cents"] == "1500")
        }
    }

    @Test func aTokenThatDoesNotOpenIsDeclinedAndAV1CommandsCardIsStillCharged() async throws {
        try await Self.withService { service in
            // Sealed for another order, and with another installation's key.
            let otherOrder = try PaymentCardToken.seal(card: Self.card, orderID: "elsewhere", to: Self.cardKey.sealingKey)
            try await service.chargeWithToken("o1", cents: 100, token: otherOrder)
            let otherKey = try PaymentCardToken.seal(card: Self.card, orderID: "o2", to: PaymentCardOpeningKey.generate().sealingKey)
            try await service.chargeWithToken("o2", cents: 100, token: otherKey)
            for order in ["o1", "o2"] {
                let reply = try #require(try await service.awaitReplies(order, count: 1).first)
                #expect(try Self.decode(PaymentDeclined.self, reply) == PaymentDeclined(orderID: order, reason: "payment_token_invalid"))
            }
            // A command written before tokens: its plain card decides, as before.
            try await service.chargeV1("o3", cents: 100, card: PaymentPolicy.declinedCard)
            try await service.chargeV1("o4", cents: 100, card: Self.card)
            #expect(try Self.decode(PaymentDeclined.self, try #require(try await service.awaitReplies("o3", count: 1).first)).reason == "card_declined")
            #expect(try Self.decode(PaymentCharged.self, try #require(try await service.awaitReplies("o4", count: 1).first)).amountCents == 100)
        }
    }

    @Test func withoutItsCardKeyPaymentServiceDoesNotStart() throws {
        for environment in [[:], ["PAYMENT_CARD_PRIVATE_KEY": "not-a-key"]] {
            let error = #expect(throws: ConfigurationError.self) {
                try PaymentServiceConfiguration(environment: EnvironmentReader(environment))
            }
            #expect(error?.description.contains("PAYMENT_CARD_PRIVATE_KEY") == true)
        }
    }

    @Test func theDeclinedCardAndAmountsAboveTheLimitAreDeclined() async throws {
        try await Self.withService(environment: ["PAYMENT_DECLINE_ABOVE_CENTS": "1000"]) { service in
            try await service.charge("o1", cents: 10, card: PaymentPolicy.declinedCard)
            try await service.charge("o1", cents: 10, card: PaymentPolicy.declinedCard)
            for reply in try await service.awaitReplies("o1", count: 2) {
                #expect(try Self.decode(PaymentDeclined.self, reply) == PaymentDeclined(orderID: "o1", reason: "card_declined"))
                #expect(reply.envelope.metadata["saga_id"] == "saga-o1")
            }
            #expect(
                try await service.payment("o1")
                    == Payment(orderID: "o1", status: "declined", chargedCents: 0, refundedCents: 0, reason: "card_declined"))

            try await service.charge("o2", cents: 1000)  // at the limit: charged
            try await service.charge("o3", cents: 1001)  // above it: declined
            #expect(try Self.decode(PaymentCharged.self, try await service.awaitReplies("o2", count: 1)[0]).amountCents == 1000)
            #expect(
                try Self.decode(PaymentDeclined.self, try await service.awaitReplies("o3", count: 1)[0])
                    == PaymentDeclined(orderID: "o3", reason: "amount_above_limit"))
            #expect(try await service.payment("o3")?.chargedCents == 0)
        }
    }

    @Test func aFailurePercentageOf100DeclinesEveryOrder() async throws {
        try await Self.withService(environment: ["PAYMENT_FAILURE_PERCENT": "100"]) { service in
            for order in ["o1", "o2", "o3"] { try await service.charge(order, cents: 100) }
            for order in ["o1", "o2", "o3"] {
                #expect(
                    try Self.decode(PaymentDeclined.self, try await service.awaitReplies(order, count: 1)[0])
                        == PaymentDeclined(orderID: order, reason: "simulated_failure"))
            }
        }
    }

    @Test func aFailurePercentageDeclinesTheOrdersItsHashPicks() async throws {
        try await Self.withService(environment: ["PAYMENT_FAILURE_PERCENT": "50"]) { service in
            let orders = (0..<12).map { "order-\($0)" }
            for order in orders { try await service.charge(order, cents: 100) }
            var declined = 0
            for order in orders {
                let reply = try await service.awaitReplies(order, count: 1)[0]
                let failed = PaymentPolicy.bucket(orderID: order) < 50
                #expect(reply.envelope.eventType == (failed ? PaymentDeclined.eventType : PaymentCharged.eventType), "\(order)")
                if reply.envelope.eventType == PaymentDeclined.eventType { declined += 1 }
            }
            // Buckets 14, 25, 92, 3, 70, 81, 48, 59, 26, 37, 51, 40: seven below 50.
            #expect(declined == 7)
        }
    }

    @Test func theDecisionIsAStableFunctionOfTheCharge() throws {
        // FNV-1a 64 test vectors.
        #expect(PaymentPolicy.fnv1a64("") == 0xcbf2_9ce4_8422_2325)
        #expect(PaymentPolicy.fnv1a64("a") == 0xaf63_dc4c_8601_ec8c)
        #expect(PaymentPolicy.fnv1a64("foobar") == 0x8594_4171_f739_67e8)
        #expect(PaymentPolicy.bucket(orderID: "a") == Int(0xaf63_dc4c_8601_ec8c as UInt64 % 100))

        let none = PaymentPolicy(failurePercent: 0)
        let all = PaymentPolicy(failurePercent: 100)
        let half = PaymentPolicy(failurePercent: 50)
        var declined = 0
        for index in 0..<1000 {
            let order = "order-\(index)"
            #expect(none.decide(orderID: order, amountCents: 100, card: Self.card) == .charge)
            #expect(all.decide(orderID: order, amountCents: 100, card: Self.card) == .decline(reason: "simulated_failure"))
            let decision = half.decide(orderID: order, amountCents: 100, card: Self.card)
            #expect(decision == half.decide(orderID: order, amountCents: 100, card: Self.card))
            if decision != .charge { declined += 1 }
        }
        #expect((400...600).contains(declined), "about half of 1000 orders: \(declined)")
        // The card and the amount are checked first.
        #expect(all.decide(orderID: "x", amountCents: 5, card: PaymentPolicy.declinedCard) == .decline(reason: "card_declined"))
        #expect(all.decide(orderID: "x", amountCents: 2_000_000, card: Self.card) == .decline(reason: "amount_above_limit"))
        #expect(none.decide(orderID: "x", amountCents: -1, card: Self.card) == .decline(reason: "invalid_amount"))
    }

    @Test(arguments: [
        ["PAYMENT_FAILURE_PERCENT": "101"], ["PAYMENT_FAILURE_PERCENT": "-1"], ["PAYMENT_FAILURE_PERCENT": "ten"],
        ["PAYMENT_DECLINE_ABOVE_CENTS": "-5"], ["PAYMENT_DECLINE_ABOVE_CENTS": "1.5"],
    ])
    func anInvalidSettingIsAConfigurationError(environment: [String: String]) throws {
        let error = #expect(throws: ConfigurationError.self) {
            try PaymentServiceConfiguration(environment: EnvironmentReader(Self.environment.merging(environment) { $1 }))
        }
        #expect(error?.description.contains(environment.keys.first!) == true)
    }

    @Test func theDefaults() throws {
        let configuration = try PaymentServiceConfiguration(environment: EnvironmentReader(["PAYMENT_CARD_PRIVATE_KEY": Self.cardKey.base64URL]))
        #expect(configuration.service.httpPort == 8086)
        #expect(configuration.policy == PaymentPolicy(declineAboveCents: 1_000_000, failurePercent: 0))
        #expect(configuration.commands.stream == "payment-commands" && configuration.commands.group == "payment-service")
    }

    // MARK: Refund

    @Test func aChargeIsRefundedOnce() async throws {
        try await Self.withService { service in
            try await service.charge("o1", cents: 2500)
            _ = try await service.awaitReplies("o1", count: 1)
            try await service.refund("o1")
            try await service.refund("o1")
            let replies = try await service.awaitReplies("o1", count: 3)
            for reply in replies.dropFirst() {
                #expect(try Self.decode(PaymentRefunded.self, reply) == PaymentRefunded(orderID: "o1", refundedCents: 2500))
                #expect(reply.envelope.metadata == ["saga_id": "saga-o1", "saga_type": "order", "saga_step": "1"])
            }
            #expect(
                try await service.payment("o1")
                    == Payment(orderID: "o1", status: "refunded", chargedCents: 2500, refundedCents: 2500, reason: ""))
            // A late duplicate charge repeats the charge's outcome and charges nothing more.
            try await service.charge("o1", cents: 2500)
            #expect(try Self.decode(PaymentCharged.self, try await service.awaitReplies("o1", count: 4).last!).amountCents == 2500)
            #expect(try await service.payment("o1")?.refundedCents == 2500)
            #expect(try await service.payment("o1")?.status == "refunded")
        }
    }

    @Test func aRefundBeforeTheChargeMakesTheLateChargeDeclined() async throws {
        try await Self.withService { service in
            try await service.refund("o1")
            #expect(
                try Self.decode(PaymentRefunded.self, try await service.awaitReplies("o1", count: 1)[0])
                    == PaymentRefunded(orderID: "o1", refundedCents: 0))
            try await service.charge("o1", cents: 700)
            #expect(
                try Self.decode(PaymentDeclined.self, try await service.awaitReplies("o1", count: 2).last!)
                    == PaymentDeclined(orderID: "o1", reason: "refunded_before_charge"))
            #expect(
                try await service.payment("o1")
                    == Payment(orderID: "o1", status: "refunded", chargedCents: 0, refundedCents: 0, reason: "refunded_before_charge"))
            try await service.refund("o1")
            #expect(
                try Self.decode(PaymentRefunded.self, try await service.awaitReplies("o1", count: 3).last!).refundedCents == 0)

            // A declined charge refunded: nothing to give back, the decline stays.
            try await service.charge("o2", cents: 700, card: PaymentPolicy.declinedCard)
            _ = try await service.awaitReplies("o2", count: 1)
            try await service.refund("o2")
            #expect(try Self.decode(PaymentRefunded.self, try await service.awaitReplies("o2", count: 2).last!).refundedCents == 0)
            try await service.charge("o2", cents: 700)
            #expect(
                try Self.decode(PaymentDeclined.self, try await service.awaitReplies("o2", count: 3).last!)
                    == PaymentDeclined(orderID: "o2", reason: "card_declined"))
            #expect(try await service.payment("o2")?.status == "refunded")
        }
    }

    // MARK: Failures and HTTP

    @Test func aKeyOfTheWrongTypeIsRetriedUntilRepaired() async throws {
        try await Self.withService(environment: ["MAX_DELIVERIES": "1000"]) { service in
            _ = try await service.client.send("SET", PaymentStore.key("o1"), "x")
            try await service.charge("o1", cents: 100)
            #expect(try await service.probe.awaitRedelivered(times: 3))
            #expect(try await service.client.send("GET", PaymentStore.key("o1")).string == "x")
            let failure = await SagaParticipantProbe.failure { _ = try await service.store.refund(orderID: "o1") }
            #expect(failure?.contains("WRONGTYPE payment:o1 is a string, not a hash; nothing was written") == true)
            _ = try await service.client.send("DEL", PaymentStore.key("o1"))
            #expect(try Self.decode(PaymentCharged.self, try await service.awaitReplies("o1", count: 1)[0]).amountCents == 100)
        }
    }

    @Test func aReplyThatCouldNotBePublishedIsPublishedByTheRedeliveryWithoutChargingAgain() async throws {
        try await Self.withService(environment: ["MAX_DELIVERIES": "1000"]) { service in
            // The reply's XADD fails (as if the process died between the script and the publish).
            _ = try await service.client.send("SET", OrderStreams.paymentEvents, "not a stream")
            try await service.charge("o1", cents: 300)
            #expect(try await service.probe.awaitRedelivered(times: 3))
            #expect(try await service.payment("o1")?.chargedCents == 300)
            // A refund meanwhile is recorded too; the charge's redelivery still answers charged.
            _ = try await service.store.refund(orderID: "o1")
            _ = try await service.client.send("DEL", OrderStreams.paymentEvents)
            let replies = try await service.awaitReplies("o1", count: 1)
            #expect(try Self.decode(PaymentCharged.self, replies[0]) == PaymentCharged(orderID: "o1", amountCents: 300))
            #expect(
                try await service.payment("o1")
                    == Payment(orderID: "o1", status: "refunded", chargedCents: 300, refundedCents: 300, reason: ""))
        }
    }

    @Test func thePaymentIsReadOverHTTP() async throws {
        try await Self.withService { service in
            try await service.charge("o1", cents: 1234)
            _ = try await service.awaitReplies("o1", count: 1)
            let response = try await service.http.execute(uri: "/payments/o1", method: .get)
            #expect(response.status == .ok)
            let body = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any] ?? [:]
            #expect(body["order_id"] as? String == "o1")
            #expect(body["status"] as? String == "charged")
            #expect(body["charged_cents"] as? Int == 1234)
            #expect(body["refunded_cents"] as? Int == 0)

            let missing = try await service.http.execute(uri: "/payments/nope", method: .get)
            #expect(missing.status == .notFound)
            let error = try JSONSerialization.jsonObject(with: Data(buffer: missing.body)) as? [String: Any]
            #expect((error?["error"] as? [String: Any])?["code"] as? String == "not_found")
            #expect(try await eventually { try await service.http.execute(uri: "/ready", method: .get).status == .ok })
        }
    }
}
