@testable import PaymentService
import RedisClient
import Testing
import TestSupport

/// PaymentService's scripts (`charge-payment.lua`, `refund-payment.lua`, with
/// `includes/payment-record.lua`) called directly: each refusal, and each call that changes
/// nothing, writes nothing.
// One case at a time: each starts its own redis-server, and a hundred at once on 2 cores
// starve the rest of a full parallel run.
@Suite("Scripts: charge-payment, refund-payment", .serialized)
struct PaymentScriptTests {
    static let charged = ["HSET", "pay:o1", "status", "charged", "amount_cents", "500", "charged_cents", "500", "refunded_cents", "0", "reason", ""]

    static let chargeCases: [ScriptCase] = [
        .init("record of another type", setup: [["SET", "pay:o1", "x"]], keys: ["pay:o1"], ["charged", "500", ""],
              error: "WRONGTYPE pay:o1 is a string, not a hash; nothing was written"),
        .init("malformed record", setup: [["HSET", "pay:o1", "status", "charged"]], keys: ["pay:o1"], ["charged", "500", ""],
              error: "ERR pay:o1 is not a payment record"),
        .init("unknown recorded status", setup: [["HSET", "pay:o1", "status", "odd", "charged_cents", "0", "refunded_cents", "0"]],
              keys: ["pay:o1"], ["charged", "500", ""], error: "ERR pay:o1 is not a payment record"),
        .init("amount not whole cents", keys: ["pay:o1"], ["charged", "5.00", ""], error: "ERR the amount 5.00 is not a whole number of cents"),
        .init("unknown decision", keys: ["pay:o1"], ["maybe", "500", ""], error: "ERR unknown charge decision maybe"),
        .init("declined without a reason", keys: ["pay:o1"], ["declined", "500", ""], error: "ERR unknown charge decision declined"),
        .init("charged already", setup: [charged], keys: ["pay:o1"], ["declined", "500", "card_declined"]),
    ]

    @Test("charge-payment.lua refuses, or answers the recorded outcome, writing nothing", arguments: chargeCases)
    func chargeWritesNothing(_ scriptCase: ScriptCase) async throws {
        try await ScriptTesting.withClient { client in
            guard let reply = try await scriptCase.expectNoWrite(client, LuaScripts.chargePayment) else { return }
            #expect(ChargePaymentReply(reply: reply) == ChargePaymentReply(reply: .array([.bulkString(Array("charged".utf8)), .bulkString(Array("500".utf8)), .bulkString([])])))
            #expect(ChargePaymentReply(reply: reply)?.chargedCents == 500)
        }
    }

    @Test("charge-payment.lua records a charge and a decline")
    func chargeRecords() async throws {
        try await ScriptTesting.withClient { client in
            let charged = try await ScriptTesting.run(client, LuaScripts.chargePayment, keys: ["pay:o1"], ["charged", "500", ""])
            #expect(ChargePaymentReply(reply: charged)?.status == "charged")
            let declined = try await ScriptTesting.run(client, LuaScripts.chargePayment, keys: ["pay:o2"], ["declined", "500", "card_declined"])
            #expect(ChargePaymentReply(reply: declined)?.reason == "card_declined")
        }
    }

    static let refundCases: [ScriptCase] = [
        .init("record of another type", setup: [["SET", "pay:o1", "x"]], keys: ["pay:o1"], [],
              error: "WRONGTYPE pay:o1 is a string, not a hash; nothing was written"),
        .init("malformed record", setup: [["HSET", "pay:o1", "status", "refunded", "charged_cents", "x", "refunded_cents", "0"]],
              keys: ["pay:o1"], [], error: "ERR pay:o1 is not a payment record"),
        .init("refunded already", setup: [["HSET", "pay:o1", "status", "refunded", "charged_cents", "500", "refunded_cents", "500"]],
              keys: ["pay:o1"], []),
    ]

    @Test("refund-payment.lua refuses, or answers the refunded amount, writing nothing", arguments: refundCases)
    func refundWritesNothing(_ scriptCase: ScriptCase) async throws {
        try await ScriptTesting.withClient { client in
            guard let reply = try await scriptCase.expectNoWrite(client, LuaScripts.refundPayment) else { return }
            #expect(RefundPaymentReply(reply: reply)?.refundedCents == 500)
        }
    }

    @Test("refund-payment.lua refunds a charge, and leaves a tombstone before any charge")
    func refundRefunds() async throws {
        try await ScriptTesting.withClient { client in
            try await ScriptTesting.send(client, Self.charged)
            let refunded = try await ScriptTesting.run(client, LuaScripts.refundPayment, keys: ["pay:o1"], [])
            #expect(RefundPaymentReply(reply: refunded)?.refundedCents == 500)
            let tombstone = try await ScriptTesting.run(client, LuaScripts.refundPayment, keys: ["pay:o2"], [])
            #expect(RefundPaymentReply(reply: tombstone)?.refundedCents == 0)
            #expect(try await ScriptTesting.send(client, ["HGET", "pay:o2", "reason"]).string == "refunded_before_charge")
        }
    }
}
