@testable import OrderService
import RedisClient
import Testing
import TestSupport

/// OrderService's scripts (`create-order.lua`, `transition-order.lua`) called directly: each
/// refusal, and each call that changes nothing, writes nothing.
// One case at a time: each starts its own redis-server, and a hundred at once on 2 cores
// starve the rest of a full parallel run.
@Suite("Scripts: create-order, transition-order", .serialized)
struct OrderScriptTests {
    static let keys = ["order:o1", "order-events", "order:idempotency:k"]

    static func create(fingerprint: String = "request") -> [String] {
        let xadd = ["XADD", "order-events", "*", "event_type", "order.created"]
        return ["86400", fingerprint, "o1", "4", "status", "pending", "user_id", "u1", "\(xadd.count)"] + xadd
    }

    static let createCases: [ScriptCase] = [
        .init("order key of another type", setup: [["SET", "order:o1", "x"]], keys: keys, create(),
              error: "WRONGTYPE order:o1 is a string, not a hash; nothing was written"),
        .init("order-events of another type", setup: [["SET", "order-events", "x"]], keys: keys, create(),
              error: "WRONGTYPE order-events is a string, not a stream; nothing was written"),
        .init("idempotency record of another type", setup: [["SET", "order:idempotency:k", "x"]], keys: keys, create(),
              error: "WRONGTYPE order:idempotency:k is a string, not a hash; nothing was written"),
        .init("order exists already", setup: [["HSET", "order:o1", "status", "pending"]], keys: Array(keys.prefix(2)), create(),
              error: "ERR order o1 already exists; nothing was written"),
        // The record as the script stores it: the fingerprint is redis.sha1hex of the request's.
        .init("idempotency key of the same request",
              setup: [["EVAL", "return redis.call('HSET', KEYS[1], 'order_id', 'o0', 'fingerprint', redis.sha1hex(ARGV[1]))", "1",
                       "order:idempotency:k", "request"]],
              keys: keys, create()),
        .init("idempotency key of another request", setup: [["HSET", "order:idempotency:k", "order_id", "o0", "fingerprint", "other"]],
              keys: keys, create()),
    ]

    @Test("create-order.lua refuses, or answers an earlier order, writing nothing", arguments: createCases)
    func createWritesNothing(_ scriptCase: ScriptCase) async throws {
        try await ScriptTesting.withClient { client in
            let reply = try await scriptCase.expectNoWrite(client, LuaScripts.createOrder)
            if let reply {
                let expected: CreateOrderReply = scriptCase.name.contains("same") ? .existing(orderID: "o0") : .reused(orderID: "o0")
                #expect(CreateOrderReply(reply: reply) == expected)
            }
        }
    }

    @Test("create-order.lua creates the order, its event and its idempotency record")
    func createCreates() async throws {
        try await ScriptTesting.withClient { client in
            let reply = try await ScriptTesting.run(client, LuaScripts.createOrder, keys: Self.keys, Self.create())
            #expect(CreateOrderReply(reply: reply) == .created(orderID: "o1"))
            #expect(try await ScriptTesting.send(client, ["HGET", "order:o1", "status"]).string == "pending")
            #expect(try await ScriptTesting.send(client, ["XLEN", "order-events"]).int == 1)
            #expect(try await ScriptTesting.send(client, ["HGET", "order:idempotency:k", "order_id"]).string == "o1")
        }
    }

    static let transitionCases: [ScriptCase] = [
        .init("order of another type", setup: [["SET", "order:o1", "x"]], keys: ["order:o1"], ["confirmed", "", "now"],
              error: "WRONGTYPE order:o1 is a string, not an order hash; nothing was written"),
        .init("unknown status", setup: [["HSET", "order:o1", "status", "odd"]], keys: ["order:o1"], ["confirmed", "", "now"],
              error: "ERR order:o1 has status odd, not an order status; nothing was written"),
        .init("no status", setup: [["HSET", "order:o1", "user_id", "u1"]], keys: ["order:o1"], ["confirmed", "", "now"],
              error: "ERR order:o1 has status false, not an order status"),
        .init("unknown order", keys: ["order:o1"], ["confirmed", "", "now"]),
        .init("confirm a cancelled order", setup: [["HSET", "order:o1", "status", "cancelled"]], keys: ["order:o1"],
              ["confirmed", "", "now"]),
        .init("cancel a cancelled order", setup: [["HSET", "order:o1", "status", "cancelled", "reason", "first"]],
              keys: ["order:o1"], ["cancelled", "second", "now"]),
        .init("an unknown target status", setup: [["HSET", "order:o1", "status", "pending"]], keys: ["order:o1"],
              ["shipped", "", "now"]),
    ]

    @Test("transition-order.lua refuses, or leaves the order as it is, writing nothing", arguments: transitionCases)
    func transitionWritesNothing(_ scriptCase: ScriptCase) async throws {
        try await ScriptTesting.withClient { client in
            guard let reply = try await scriptCase.expectNoWrite(client, LuaScripts.transitionOrder) else { return }
            switch TransitionOrderReply(reply: reply) {
            case .notFound?: #expect(scriptCase.name == "unknown order")
            case .found(let changed, _)?: #expect(!changed)
            case nil: Issue.record("\(reply)")
            }
        }
    }

    @Test("transition-order.lua confirms a pending order")
    func transitionConfirms() async throws {
        try await ScriptTesting.withClient { client in
            try await ScriptTesting.send(client, ["HSET", "order:o1", "status", "pending"])
            let reply = try await ScriptTesting.run(client, LuaScripts.transitionOrder, keys: ["order:o1"], ["confirmed", "", "now"])
            guard case .found(true, _)? = TransitionOrderReply(reply: reply) else {
                Issue.record("\(reply)")
                return
            }
            #expect(try await ScriptTesting.send(client, ["HGET", "order:o1", "confirmed_at"]).string == "now")
        }
    }
}
